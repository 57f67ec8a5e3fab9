#define BOOST_TEST_MODULE smtp
#include <boost/test/unit_test.hpp>
