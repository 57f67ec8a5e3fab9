#define BOOST_TEST_MODULE edge_checks
#include <boost/test/unit_test.hpp>
