#include "inner/link/verify_guard.h"

#include <algorithm>

#include "common/base/log.h"

namespace nj::inner {
namespace {

constexpr uint64_t kRateLogEveryMs = 60 * 1000;

}  // namespace

VerifyGuard::VerifyGuard(Lookup lookup, Options options)
    : lookup_(std::move(lookup)), opt_(std::move(options)), tokens_(opt_.burst) {}

bool VerifyGuard::take_token(uint64_t now_ms) {
  if (!started_) {
    started_ = true;
    refilled_ms_ = now_ms;
  }
  if (now_ms > refilled_ms_) {
    tokens_ = std::min(opt_.burst,
                       tokens_ + static_cast<double>(now_ms - refilled_ms_) * opt_.rate / 1000.0);
    refilled_ms_ = now_ms;
  }
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

void VerifyGuard::forget_old(uint64_t now_ms) {
  while (!unknowns_.empty() && unknowns_.front() + opt_.window_ms <= now_ms) unknowns_.pop_front();
}

bool VerifyGuard::count_unknown(size_t n, uint64_t now_ms) {
  if (n == 0) return false;
  stats_.unknown += n;
  forget_old(now_ms);
  // Only whether the window holds more than max_unknown matters: keep no more than that.
  for (size_t i = 0; i < n && i <= opt_.max_unknown; ++i) unknowns_.push_back(now_ms);
  while (unknowns_.size() > opt_.max_unknown + 1) unknowns_.pop_front();
  if (unknowns_.size() <= opt_.max_unknown) return false;
  start_cooldown(now_ms);
  return true;
}

void VerifyGuard::start_cooldown(uint64_t now_ms) {
  // `cooldown_until_` is still the end of the latest one here.
  uint64_t length = opt_.cooldown_ms;
  if (had_cooldown_ && now_ms < cooldown_until_ + opt_.repeat_ms)
    length = std::min(opt_.max_cooldown_ms, std::max(opt_.cooldown_ms, last_cooldown_ms_ * 2));
  had_cooldown_ = true;
  last_cooldown_ms_ = length;
  cooldown_until_ = now_ms + length;
  unknowns_.clear();  // the next cool-down needs a window's worth of new unknowns
  ++stats_.cooldowns;
  NJ_LOG_WARN(
      "link %s: more than %zu unknown recipients within %llu s: every VERIFY and DELIVER is "
      "refused for now (temporary) for %llu s (cool-down %llu; refused so far: %llu VERIFY, "
      "%llu DELIVER)",
      opt_.label.c_str(), opt_.max_unknown, static_cast<unsigned long long>(opt_.window_ms / 1000),
      static_cast<unsigned long long>(length / 1000),
      static_cast<unsigned long long>(stats_.cooldowns),
      static_cast<unsigned long long>(stats_.cooldown_refused),
      static_cast<unsigned long long>(stats_.deliver_refused));
}

link::VerifyOutcome VerifyGuard::answer(std::string_view recipient, uint64_t now_ms) {
  ++stats_.asked;
  if (cooling_down(now_ms)) {
    ++stats_.cooldown_refused;
    return link::VerifyOutcome::temporary;
  }
  if (!take_token(now_ms)) {
    ++stats_.rate_refused;
    ++rate_unlogged_;
    if (!rate_logged_once_ || now_ms >= rate_logged_ms_ + kRateLogEveryMs) {
      NJ_LOG_WARN("link %s: VERIFY over %.0f a second (burst %.0f): %llu refused (temporary)",
                  opt_.label.c_str(), opt_.rate, opt_.burst,
                  static_cast<unsigned long long>(rate_unlogged_));
      rate_logged_once_ = true;
      rate_logged_ms_ = now_ms;
      rate_unlogged_ = 0;
    }
    return link::VerifyOutcome::temporary;
  }
  ++stats_.looked_up;
  link::VerifyOutcome out = lookup_(recipient);
  if (out == link::VerifyOutcome::unknown && count_unknown(1, now_ms)) {
    // This answer started the cool-down: refuse it like the rest, so the name that tipped the
    // count over is not told either.
    ++stats_.cooldown_refused;
    return link::VerifyOutcome::temporary;
  }
  return out;
}

bool VerifyGuard::admit_delivery(size_t unknown, uint64_t now_ms) {
  if (cooling_down(now_ms) || count_unknown(unknown, now_ms)) {
    ++stats_.deliver_refused;
    return false;
  }
  return true;
}

link::VerifyOutcome lookup_recipient(Accounts& accounts, Mailbox& mailbox,
                                     std::string_view recipient) {
  auto who = accounts.recipient(recipient);
  if (!who) {
    NJ_LOG_ERROR("link: recipient lookup failed: %s", who.error().c_str());
    return link::VerifyOutcome::temporary;
  }
  if (!*who) return link::VerifyOutcome::unknown;
  auto full = mailbox.full((*who)->id);
  if (!full) {
    NJ_LOG_ERROR("link: mailbox size lookup failed: %s", full.error().c_str());
    return link::VerifyOutcome::temporary;
  }
  return *full ? link::VerifyOutcome::full : link::VerifyOutcome::exists;
}

}  // namespace nj::inner
