#define BOOST_TEST_MODULE edge_content
#include <boost/test/unit_test.hpp>
