#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "common/uv/loop.h"
#include "common/uv/work.h"

BOOST_AUTO_TEST_CASE(work_runs_off_the_loop_thread_and_done_on_it) {
  nj::uv::Loop loop;
  const auto loop_thread = std::this_thread::get_id();
  std::atomic<bool> work_on_other_thread{false};
  int done_calls = 0;
  bool done_on_loop = false;
  int result = 0;
  for (int i = 0; i < 8; ++i) {
    nj::uv::queue_work(
        loop,
        [&, i] {
          work_on_other_thread = std::this_thread::get_id() != loop_thread;
          (void)i;
        },
        [&, i] {
          ++done_calls;
          done_on_loop = std::this_thread::get_id() == loop_thread;
          result += i;
        });
  }
  loop.run();
  BOOST_CHECK(work_on_other_thread);
  BOOST_CHECK(done_on_loop);
  BOOST_CHECK_EQUAL(done_calls, 8);
  BOOST_CHECK_EQUAL(result, 28);
}
