#include "edge/link/status_reports.h"

#include <algorithm>

namespace nj::edge {

void StatusReports::add(const std::string& message_id,
                        const std::vector<link::RecipientStatus>& results) {
  auto [it, fresh] = by_message_.try_emplace(message_id);
  if (fresh) it->second.order = next_order_++;
  for (const auto& r : results) {
    auto& slot = it->second.by_recipient[r.recipient];
    slot.status = r;
    slot.frame = 0;  // changed since any frame that carried it: to be sent again
  }
}

std::vector<std::string> StatusReports::unsent() const {
  std::vector<std::pair<uint64_t, std::string>> order;
  for (const auto& [mid, m] : by_message_) {
    bool any = std::any_of(m.by_recipient.begin(), m.by_recipient.end(),
                           [](const auto& kv) { return kv.second.frame == 0; });
    if (any) order.emplace_back(m.order, mid);
  }
  std::sort(order.begin(), order.end());
  std::vector<std::string> out;
  out.reserve(order.size());
  for (auto& [_, mid] : order) out.push_back(std::move(mid));
  return out;
}

std::optional<link::StatusPayload> StatusReports::take(const std::string& message_id,
                                                       uint64_t frame_id) {
  auto it = by_message_.find(message_id);
  if (it == by_message_.end()) return std::nullopt;
  link::StatusPayload p{message_id, {}};
  for (auto& [_, r] : it->second.by_recipient) {
    if (r.frame != 0) continue;  // in flight on this link
    if (p.recipients.size() == link::kMaxStatusRecipients) break;
    r.frame = frame_id;
    p.recipients.push_back(r.status);
  }
  if (p.recipients.empty()) return std::nullopt;
  frames_[frame_id] = message_id;
  return p;
}

void StatusReports::acked(uint64_t frame_id) {
  auto f = frames_.find(frame_id);
  if (f == frames_.end()) return;
  auto it = by_message_.find(f->second);
  frames_.erase(f);
  if (it == by_message_.end()) return;
  auto& rs = it->second.by_recipient;
  for (auto r = rs.begin(); r != rs.end();) {
    if (r->second.frame == frame_id) r = rs.erase(r);
    else ++r;
  }
  if (rs.empty()) by_message_.erase(it);
}

void StatusReports::forget(const std::string& message_id) {
  by_message_.erase(message_id);
  std::erase_if(frames_, [&](const auto& kv) { return kv.second == message_id; });
}

void StatusReports::link_lost() {
  frames_.clear();
  for (auto& [_, m] : by_message_)
    for (auto& [__, r] : m.by_recipient) r.frame = 0;
}

size_t StatusReports::results() const {
  size_t n = 0;
  for (const auto& [_, m] : by_message_) n += m.by_recipient.size();
  return n;
}

}  // namespace nj::edge
