#define BOOST_TEST_MODULE pop3
#include <boost/test/unit_test.hpp>
