// The DKIM signer of the edge's outbound mail (RFC 6376; ed25519-sha256 of RFC 8463), over
// OpenDKIM's library. A message whose From: names exactly one mailbox in a configured signing
// domain gets one DKIM-Signature per key of that domain (an ed25519 and an rsa one when both are
// configured: many verifiers know only rsa-sha256); any other message is left unsigned.
// Every signature: relaxed/relaxed canonicalization, the whole body (never l=), t= from the
// caller's clock and no x=, and the fields the author's message carries out of kSignedFields
// (From twice, so that a second From cannot be added) — never a field added in transit
// (Received, Return-Path, ...), which would break it on the way.
// The signed message is the one that leaves: the edge sanitizes a message again at each
// delivery attempt (Date = the time it leaves, a fresh Message-ID; common/mail/outbound.h), so
// each attempt is signed after its sanitizing, with t= the same second as its Date. Ed25519 and
// RSASSA-PKCS1-v1_5 are deterministic: the same bytes at the same second give the same
// signature, and nothing but Date and Message-ID differs between attempts.
// Threads: a Signer is used from one thread at a time (OpenDKIM's fixed-time option is per
// library handle); the edge signs on its loop thread.
// Trust: the message is the sanitizer's output (already bounded and parsed); From: is parsed
// again here with bounds.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "edge/dkim/key.h"

struct dkim_lib;

namespace nj::edge::dkim {

// The header fields signed when present, lower case, in this order; "from" is also oversigned.
inline constexpr const char* kSignedFields[] = {
    "from",        "reply-to",   "to",           "cc",           "subject",
    "date",        "message-id", "mime-version", "content-type", "content-transfer-encoding",
    "in-reply-to", "references"};

struct SigningKey {
  std::string domain;    // lower case, no trailing dot
  std::string selector;  // lower case
  Key key;
};

class Signer {
 public:
  // Fails when OpenDKIM cannot be set up, lacks ed25519 for an ed25519 key, or cannot sign with
  // one of the keys (each signs a fixed message once here, so a key OpenDKIM refuses stops
  // start-up instead of every message).
  static Result<std::unique_ptr<Signer>> create(std::vector<SigningKey> keys);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // The DKIM-Signature fields for `message` (CRLF line ends, each field ending in CRLF), to be
  // put above its header section; "" when it is not ours to sign. `now` is t=.
  Result<std::string> sign(std::string_view message, std::time_t now);
  // Whether mail from `domain` (lower case) is signed.
  bool signs(std::string_view domain) const;

 private:
  explicit Signer(std::vector<SigningKey> keys) : keys_(std::move(keys)) {}
  Result<std::string> sign_with(const SigningKey& k, std::string_view message, std::time_t now);

  std::vector<SigningKey> keys_;
  dkim_lib* lib_ = nullptr;
};

// The domain of the one mailbox of the message's one From: field, lower case; "" when there is
// not exactly one of each or the header section does not parse.
std::string from_domain(std::string_view message);

}  // namespace nj::edge::dkim
