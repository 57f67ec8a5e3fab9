#define BOOST_TEST_MODULE mail
#include <boost/test/unit_test.hpp>
