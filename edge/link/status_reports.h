// StatusReports: the edge's delivery reports that the inner has not acknowledged yet. The edge's
// outbound queue reports recipients as they become final (one delivered now, another bounced two
// days later); every such report is kept until the inner's ACK of a STATUS that carried it, and
// never overwritten by the next one: a report for a message merges into what is still unsent or
// unacknowledged for it, and an ACK removes exactly the results its STATUS carried. Kept in
// memory only: after a restart the edge's outbound queue is gone too, and the inner, which keeps
// every message until each recipient is final, hands the unfinished recipients to an edge again.
// No I/O: the link server frames what it hands out.
// Trust: the results are our own delivery attempts'; the remote replies inside are reported,
// never logged.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/link/payloads.h"

namespace nj::edge {

class StatusReports {
 public:
  // New final results for `message_id` (a later result for the same recipient replaces the
  // earlier one: it can only be more final).
  void add(const std::string& message_id, const std::vector<link::RecipientStatus>& results);

  // Message ids with results not yet sent on the current link, in the order they first came.
  std::vector<std::string> unsent() const;
  // What to send for `message_id` now (every result not acknowledged, up to the STATUS limit),
  // recorded as carried by `frame_id`. nullopt when nothing is left.
  std::optional<link::StatusPayload> take(const std::string& message_id, uint64_t frame_id);
  // Whether `frame_id` is a STATUS frame of ours awaiting its ACK.
  bool owns(uint64_t frame_id) const { return frames_.count(frame_id) != 0; }
  // The inner acknowledged `frame_id`: the results that frame carried are gone.
  void acked(uint64_t frame_id);
  // The message was withdrawn: every result for it is dropped, sent or not; an ACK of a STATUS
  // that carried some of them is no longer ours.
  void forget(const std::string& message_id);
  // The link is gone: everything unacknowledged is unsent again.
  void link_lost();

  size_t messages() const { return by_message_.size(); }
  size_t results() const;

 private:
  struct Result {
    link::RecipientStatus status;
    uint64_t frame = 0;  // the STATUS frame carrying it, 0 when not sent on this link
  };
  struct Message {
    uint64_t order = 0;
    std::map<std::string, Result> by_recipient;
  };
  std::map<std::string, Message> by_message_;
  std::map<uint64_t, std::string> frames_;  // STATUS frame id -> message id
  uint64_t next_order_ = 1;
};

}  // namespace nj::edge
