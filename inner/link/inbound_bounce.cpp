#include "inner/link/inbound_bounce.h"

#include "common/crypto/crypto.h"
#include "common/mail/address.h"
#include "common/mail/headers.h"
#include "common/mail/origin.h"
#include "common/mail/outbound.h"
#include "common/mail/sanitize.h"
#include "common/mail/text.h"

namespace nj::inner {
namespace {

// `address` on the public domain when it names the internal one.
std::string on_public_domain(std::string_view address, const mail::DomainRewrite& d) {
  size_t at = address.rfind('@');
  if (at != std::string::npos && mail::iequals(address.substr(at + 1), d.internal_domain))
    return std::string(address.substr(0, at + 1)) + d.public_domain;
  return std::string(address);
}

// An address as the report shows it: on the public domain, bounded, one line of printable
// ASCII (it came through the edge); UTF-8 kept where the field allows it (`utf8`).
std::string shown(std::string_view address, const mail::DomainRewrite& d, bool utf8 = false) {
  std::string a = on_public_domain(address.substr(0, 300), d);
  const bool keep_8bit = utf8 && mail::is_valid_utf8(a);
  for (char& c : a) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 ? !keep_8bit : (u < 0x21 || u > 0x7e || c == '<' || c == '>')) c = '?';
  }
  return a;
}

bool names(std::string_view text, std::string_view domain) {
  if (domain.empty() || text.size() < domain.size()) return false;
  for (size_t i = 0; i + domain.size() <= text.size(); ++i)
    if (mail::iequals(text.substr(i, domain.size()), domain)) return true;
  return false;
}

// The original's header fields, as they were, but none that names the internal domain (a
// sender who used it knows it already; anything of ours that might carry it stays home) and
// no origin mark; whole fields up to kMaxQuotedHeaders.
std::string quoted_headers(std::string_view message, const mail::DomainRewrite& d) {
  auto h = mail::parse_headers(message);
  if (!h) return {};
  std::string out;
  for (const auto& f : h->fields) {
    if (f.is(mail::kOriginField) || names(f.raw, d.internal_domain)) continue;
    if (out.size() + f.raw.size() > kMaxQuotedHeaders) break;
    out.append(f.raw);
  }
  return out;
}

}  // namespace

Result<queue::Envelope> make_inbound_bounce(const queue::Envelope& original,
                                            const std::vector<BouncedRecipient>& failed,
                                            const mail::DomainRewrite& domains, int64_t now) {
  const std::string& pub = domains.public_domain;
  const std::string to = shown(original.mail_from, domains, true);
  const std::string boundary = mail::new_boundary();
  std::string m;
  m += "From: Mail Delivery System <MAILER-DAEMON@" + pub + ">\r\n";
  m += "To: <" + to + ">\r\n";
  m += "Subject: Undelivered Mail Returned to Sender\r\n";
  m += "Date: " + mail::rfc5322_date(static_cast<std::time_t>(now)) + "\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary +
       "\"\r\n\r\n";
  m += "--" + boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  m += "This is the mail system at " + pub + ".\r\n\r\n";
  m += "Your message could not be delivered to these recipients:\r\n\r\n";
  for (const auto& f : failed)
    m += "  <" + shown(f.recipient, domains) + ">:\r\n    " + f.reason.text + "\r\n";
  m += "\r\n--" + boundary + "\r\nContent-Type: message/delivery-status\r\n\r\n";
  m += "Reporting-MTA: dns; " + pub + "\r\n";
  m += "Arrival-Date: " + mail::rfc5322_date(static_cast<std::time_t>(original.received_at)) +
       "\r\n";
  for (const auto& f : failed) {
    m += "\r\nFinal-Recipient: rfc822; " + shown(f.recipient, domains) + "\r\n";
    m += "Action: failed\r\n";
    m += std::string("Status: ") + f.reason.status + "\r\n";
  }
  m += "\r\n--" + boundary + "\r\nContent-Type: text/rfc822-headers\r\n\r\n";
  m += quoted_headers(original.message, domains);
  m += "\r\n--" + boundary + "--\r\n";

  // Like everything in the outbound queue: through the allowlist, dated now, a new Message-ID.
  mail::OutboundPolicy policy;
  policy.public_domain = pub;
  policy.send_time = static_cast<std::time_t>(now);
  policy.rewrites.push_back(domains);
  auto clean = mail::sanitize_outbound(m, policy);
  if (!clean) return make_error("bounce does not pass the outbound sanitizer: " + clean.error());

  queue::Envelope e;
  e.id = crypto::random_id();
  e.received_at = now;
  e.mail_from.clear();  // null sender: a bounce is never bounced
  // The internal name never goes into an outbound envelope.
  e.recipients.push_back(on_public_domain(original.mail_from, domains));
  for (char c : e.recipients.back())
    if (static_cast<unsigned char>(c) >= 0x80) e.smtputf8 = true;  // RFC 6531: a UTF-8 address
  e.message = std::move(*clean);
  return e;
}

}  // namespace nj::inner
