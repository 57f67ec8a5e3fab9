#include "common/uv/work.h"

#include <cstdlib>

namespace nj::uv {
namespace {

struct WorkReq {
  uv_work_t req{};
  std::function<void()> work;
  std::function<void()> done;
};

}  // namespace

void queue_work(Loop& loop, std::function<void()> work, std::function<void()> done) {
  auto* w = new WorkReq{{}, std::move(work), std::move(done)};
  w->req.data = w;
  int rc = uv_queue_work(
      loop.raw(), &w->req, [](uv_work_t* r) { static_cast<WorkReq*>(r->data)->work(); },
      [](uv_work_t* r, int status) {
        auto* wr = static_cast<WorkReq*>(r->data);
        // UV_ECANCELED only when the loop is torn down with work still queued: nobody waits.
        if (status == 0 && wr->done) wr->done();
        delete wr;
      });
  if (rc != 0) std::abort();  // uv_queue_work fails only for a null callback
}

}  // namespace nj::uv
