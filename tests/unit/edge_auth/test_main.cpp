#define BOOST_TEST_MODULE edge_auth
#include <boost/test/unit_test.hpp>
