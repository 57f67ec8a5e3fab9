#include "inner/link/dsn.h"

#include "common/mail/headers.h"
#include "common/mail/sanitize.h"

namespace nj::inner {
namespace {

// One line, printable ASCII, bounded: what a remote server said may contain anything.
std::string clean(std::string_view s, size_t max = 900) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) break;
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : ' ');
  }
  return out;
}

// RFC 3463 2: class "." subject "." detail, subject and detail 1..3 digits; only the failure
// classes, since the report says the message was not delivered.
bool is_failure_code(std::string_view c) {
  if (c.size() < 5 || (c[0] != '4' && c[0] != '5') || c[1] != '.') return false;
  size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    size_t digits = 0;
    while (i < c.size() && c[i] >= '0' && c[i] <= '9' && digits < 3) ++i, ++digits;
    if (digits == 0) return false;
    if (part == 0 && (i >= c.size() || c[i++] != '.')) return false;
  }
  return i == c.size();
}

// "550 5.1.1 text" -> "5.1.1"; 5.0.0 when the reply carries no enhanced code.
std::string status_of(const link::RecipientStatus& r, const LocalReason& local) {
  if (r.outcome == link::RecipientOutcome::expired) return "4.4.7";  // delivery time expired
  if (r.remote_reply.empty()) return is_failure_code(local.status) ? local.status : "5.0.0";
  const std::string& t = r.remote_reply;
  size_t sp = t.find(' ');
  if (sp != std::string::npos) {
    std::string_view rest = std::string_view(t).substr(sp + 1);
    std::string_view code = rest.substr(0, rest.find(' '));
    if (is_failure_code(code)) return std::string(code);
  }
  return "5.0.0";
}

// What the sender reads for one recipient: on lines of their own, since a reply may be long.
std::string reason_of(const link::RecipientStatus& r, const LocalReason& local) {
  if (r.outcome == link::RecipientOutcome::expired) {
    std::string s =
        "not delivered: the receiving server kept deferring it or could not be reached until "
        "the message's time in the queue ran out";
    if (!r.remote_reply.empty()) s += "\r\n    last reply: " + clean(r.remote_reply);
    return s;
  }
  if (r.remote_reply.empty()) return clean(local.text);
  return clean(r.remote_reply);
}

}  // namespace

std::string make_dsn(const queue::Envelope& original,
                     const std::vector<link::RecipientStatus>& failed,
                     const std::string& reporting_host, const std::string& to, std::time_t now,
                     const std::string& boundary, const LocalReason& local) {
  std::string date = mail::rfc5322_date(now);
  std::string m;
  m += "From: Mail Delivery System <postmaster@" + reporting_host + ">\r\n";
  m += "To: <" + to + ">\r\n";
  m += "Subject: Undelivered Mail Returned to Sender\r\n";
  m += "Date: " + date + "\r\n";
  m += "Auto-Submitted: auto-replied\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary +
       "\"\r\n\r\n";
  m += "--" + boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  m += "Your message could not be delivered to these recipients:\r\n\r\n";
  for (const auto& r : failed) {
    m += "  <" + clean(r.recipient, 300) + ">:\r\n    " + reason_of(r, local) + "\r\n";
  }
  m += "\r\n--" + boundary + "\r\nContent-Type: message/delivery-status\r\n\r\n";
  m += "Reporting-MTA: dns; " + reporting_host + "\r\n";
  m += "Arrival-Date: " + mail::rfc5322_date(static_cast<std::time_t>(original.received_at)) +
       "\r\n";
  for (const auto& r : failed) {
    m += "\r\nFinal-Recipient: rfc822; " + clean(r.recipient, 300) + "\r\n";
    m += "Action: failed\r\n";
    m += "Status: " + status_of(r, local) + "\r\n";
    if (!r.remote_reply.empty()) m += "Diagnostic-Code: smtp; " + clean(r.remote_reply) + "\r\n";
  }
  m += "\r\n--" + boundary + "\r\nContent-Type: text/rfc822-headers\r\n\r\n";
  auto h = mail::parse_headers(original.message);
  if (h) m += mail::serialize_fields(h->fields);
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

}  // namespace nj::inner
