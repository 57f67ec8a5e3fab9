// link::max_message_size() against the real encoders: a worst-case message of exactly that size
// (most recipients, longest ids and addresses, longest Received line) goes through
// queue::encode, crypto::seal, link::encode and a real Channel; one byte more does not fit.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <ctime>
#include <string>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/link/channel.h"
#include "common/link/limits.h"
#include "common/link/message_size.h"
#include "common/link/payloads.h"
#include "common/mail/address.h"
#include "common/mail/sanitize.h"
#include "common/queue/envelope.h"

using namespace nj;

namespace {

// A valid domain name of exactly n octets (labels of at most 63 letters).
std::string domain_of(size_t n) {
  std::string d;
  char letter = 'a';
  while (d.size() < n) {
    if (!d.empty()) d += '.';
    size_t k = std::min<size_t>(63, n - d.size());
    if (n - d.size() - k == 1) --k;  // never end on a dot
    d.append(k, letter);
    letter = letter == 'z' ? 'a' : static_cast<char>(letter + 1);
  }
  return d;
}

std::string alnum(size_t n, size_t offset = 10) {
  std::string s(n, '0');
  for (size_t i = 0; i < n; ++i) s[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[(offset + i) % 36];
  return s;
}

// An address of exactly n octets (n > 65): a 64-octet local part, the rest a domain.
std::string address_of(size_t n, size_t i) {
  return alnum(64, i) + "@" + domain_of(n - 65);
}

const std::time_t kLastFourDigitSecond = 253402300799;  // 9999-12-31 23:59:59 UTC

mail::ReceivedInfo received_info(const std::string& helo, const std::string& host,
                                 const std::string& id, int proto) {
  mail::ReceivedInfo ri;
  ri.helo = helo;
  ri.our_hostname = host;
  ri.esmtp = proto != 0;
  ri.tls = (proto & 1) != 0;
  ri.authenticated = (proto & 2) != 0;
  ri.smtputf8 = (proto & 4) != 0;
  ri.id = id;
  ri.when = kLastFourDigitSecond;
  return ri;
}

// The longest Received line the edge can write.
std::string longest_received_line() {
  std::string name = domain_of(mail::kMaxDomainName);
  std::string id = alnum(64);
  return mail::received_line(received_info(name, name, id, 7));
}

// What the edge seals for a message of `message_bytes` with `recipients` recipients, every
// variable part at the longest the receiver's decoder accepts.
queue::Envelope worst_envelope(size_t recipients, uint64_t message_bytes, bool edge_received) {
  const queue::Limits limits{};
  queue::Envelope e;
  e.id = alnum(limits.max_id);
  e.received_at = kLastFourDigitSecond;
  e.mail_from = address_of(limits.max_address, 99);
  for (size_t i = 0; i < recipients; ++i) e.recipients.push_back(address_of(limits.max_address, i));
  e.smtputf8 = true;
  e.eight_bit = true;
  if (edge_received) e.message = longest_received_line();
  e.message.append(static_cast<size_t>(message_bytes), 'm');
  return e;
}

std::string deliver_payload(const queue::Envelope& e, const crypto::KeyPair& inner) {
  std::string envelope = queue::encode(e);
  size_t recipient_bytes = 0;
  for (const auto& r : e.recipients) recipient_bytes += r.size();
  BOOST_REQUIRE_EQUAL(envelope.size(),
                      queue::encoded_size(e.id.size(), e.mail_from.size(), e.recipients.size(),
                                          recipient_bytes, e.message.size()));
  auto payload = link::encode(link::DeliverPayload{alnum(link::kMaxMessageIdBytes),
                                                   crypto::seal(inner.pub, envelope),
                                                   link::kDeliverLastAttempt});
  BOOST_REQUIRE(payload.ok());
  return std::move(*payload);
}

std::string submit_payload(const queue::Envelope& e, size_t pad_to) {
  auto payload =
      link::encode(link::SubmitPayload{alnum(link::kMaxMessageIdBytes), queue::encode(e, pad_to)});
  BOOST_REQUIRE(payload.ok());
  return std::move(*payload);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(limits)

BOOST_AUTO_TEST_CASE(shared_numbers_are_used_where_the_link_is_sized) {
  BOOST_TEST(link::kDefaultMaxPayload == link::kMaxFramePayload);
  BOOST_TEST(link::Options{}.max_payload == link::kMaxFramePayload);
  BOOST_TEST(link::kMaxStatusRecipients == link::kMaxRecipients);
  BOOST_TEST(queue::Limits{}.max_recipients == link::kMaxRecipients);
  BOOST_TEST(queue::Limits{}.max_message == link::kMaxFramePayload);
  // Usable at compile time, and the daemons' default of 35M fits with the most recipients.
  static_assert(link::max_message_size(link::kMaxRecipients) >= (35u << 20));
  static_assert(link::max_message_size(1) > link::max_message_size(link::kMaxRecipients));
}

BOOST_AUTO_TEST_CASE(received_line_is_never_longer_than_its_maximum) {
  BOOST_TEST(longest_received_line().size() == mail::kMaxReceivedLineBytes);
  std::string id64 = alnum(64);
  std::string name = domain_of(mail::kMaxDomainName);
  size_t longest = 0;
  auto check = [&](const std::string& helo, const std::string& host, const std::string& id,
                   int proto) {
    size_t n = mail::received_line(received_info(helo, host, id, proto)).size();
    longest = std::max(longest, n);
    if (n > mail::kMaxReceivedLineBytes)
      BOOST_ERROR("Received line of " << n << " bytes: helo " << helo.size() << ", host "
                                      << host.size() << ", id " << id.size() << ", proto "
                                      << proto);
  };
  // Every length of each word with the others at their longest, then a grid of all four
  // (folding depends on where words fall, so shorter words are tried too).
  for (size_t n = 1; n <= mail::kMaxDomainName; ++n) {
    check(domain_of(n), name, id64, 7);
    check(name, domain_of(n), id64, 7);
  }
  for (size_t n = 0; n <= 64; ++n) check(name, name, alnum(n), 7);
  for (int proto = 0; proto < 8; ++proto) check(name, name, id64, proto);
  for (size_t h = 1; h <= mail::kMaxDomainName; h += 6)
    for (size_t o = 1; o <= mail::kMaxDomainName; o += 6)
      for (size_t i : {1, 15, 16, 40, 63, 64})
        for (int proto : {0, 1, 4, 7}) check(domain_of(h), domain_of(o), alnum(i), proto);
  // A HELO that is no name is cut to 64 octets; a literal is short.
  check(std::string(600, '%'), name, id64, 7);
  check("[IPv6:2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]", name, id64, 7);
  BOOST_TEST(longest == mail::kMaxReceivedLineBytes);
}

BOOST_AUTO_TEST_CASE(encoded_size_is_what_encode_writes) {
  for (size_t pad : {size_t{0}, size_t{1}, size_t{1024}, size_t{4096}})
    for (size_t n : {1, 2, 7})
      for (size_t m : {0, 1, 977, 978, 979, 5000}) {
        queue::Envelope e = worst_envelope(n, m, false);
        e.id = "x";
        e.mail_from = n == 2 ? "" : "a@b.example";
        e.recipients.back() = "short@x.example";
        size_t rb = 0;
        for (const auto& r : e.recipients) rb += r.size();
        BOOST_TEST(queue::encode(e, pad).size() == queue::encoded_size(e.id.size(),
                                                                       e.mail_from.size(), n, rb,
                                                                       e.message.size(), pad));
      }
}

// The bound is safe (the worst case at max_message_size fits one frame, and the receiver
// decodes it) and honest (one byte more does not fit).
BOOST_AUTO_TEST_CASE(worst_case_deliver_fits_one_frame_and_one_byte_more_does_not) {
  crypto::KeyPair inner = crypto::KeyPair::generate();
  for (size_t n : {size_t{1}, link::kMaxRecipients}) {
    BOOST_TEST_CONTEXT("recipients " << n) {
      const uint64_t most = link::max_message_size(n);
      BOOST_REQUIRE_GT(most, 60u << 20);
      {
        queue::Envelope e = worst_envelope(n, most, true);
        std::string payload = deliver_payload(e, inner);
        BOOST_TEST(payload.size() <= link::kMaxFramePayload);
        auto d = link::decode_deliver(payload);
        BOOST_REQUIRE(d.ok());
        auto opened = crypto::open_sealed(inner, d->sealed_envelope);
        BOOST_REQUIRE(opened.ok());
        auto back = queue::decode(*opened);
        BOOST_REQUIRE_MESSAGE(back.ok(), (back.ok() ? std::string() : back.error()));
        BOOST_TEST(back->recipients.size() == n);
        BOOST_TEST(back->message.size() == mail::kMaxReceivedLineBytes + most);
        // SUBMIT of the same message (no Received line, no seal) fits too, padded or not.
        queue::Envelope s = worst_envelope(n, most, false);
        BOOST_TEST(submit_payload(s, 0).size() <= link::kMaxFramePayload);
        BOOST_TEST(submit_payload(s, queue::kPadTo).size() <= link::kMaxFramePayload);
      }
      queue::Envelope over = worst_envelope(n, most + 1, true);
      BOOST_TEST(deliver_payload(over, inner).size() > link::kMaxFramePayload);
    }
  }
}

BOOST_AUTO_TEST_CASE(channel_carries_the_worst_case_and_refuses_one_byte_more) {
  crypto::KeyPair inner_keys = crypto::KeyPair::generate();
  crypto::KeyPair edge_keys = crypto::KeyPair::generate();
  link::Channel ini(link::Role::initiator, inner_keys, edge_keys.pub);
  link::Channel res(link::Role::responder, edge_keys, inner_keys.pub);
  res.feed(ini.take_output());
  ini.feed(res.take_output());
  res.feed(ini.take_output());
  BOOST_REQUIRE_MESSAGE(res.is_open(), res.reason());
  BOOST_REQUIRE_MESSAGE(ini.is_open(), ini.reason());

  const uint64_t most = link::max_message_size(link::kMaxRecipients);
  std::string fits = deliver_payload(worst_envelope(link::kMaxRecipients, most, true), inner_keys);
  BOOST_REQUIRE(res.send(link::Frame{link::FrameType::deliver, 1, fits}).ok());
  ini.feed(res.take_output());
  BOOST_REQUIRE_MESSAGE(ini.is_open(), ini.reason());
  auto got = ini.next_frame();
  BOOST_REQUIRE(got);
  BOOST_TEST(got->payload == fits);
  fits.clear();

  std::string over =
      deliver_payload(worst_envelope(link::kMaxRecipients, most + 1, true), inner_keys);
  BOOST_TEST(!res.send(link::Frame{link::FrameType::deliver, 2, over}).ok());
  BOOST_TEST(!res.has_output());
  BOOST_TEST(res.is_open());
}

BOOST_AUTO_TEST_SUITE_END()
