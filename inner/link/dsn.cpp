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

// "550 5.1.1 text" -> "5.1.1"; the class digit alone when the reply carries no enhanced code.
std::string status_of(const link::RecipientStatus& r) {
  if (r.outcome == link::RecipientOutcome::expired) return "4.4.7";
  const std::string& t = r.remote_reply;
  size_t sp = t.find(' ');
  if (sp != std::string::npos) {
    std::string_view rest = std::string_view(t).substr(sp + 1);
    size_t end = rest.find(' ');
    std::string_view code = rest.substr(0, end);
    if (code.size() >= 5 && code.size() <= 11 && (code[0] == '4' || code[0] == '5') &&
        code[1] == '.')
      return std::string(code);
  }
  return "5.0.0";
}

}  // namespace

std::string make_dsn(const queue::Envelope& original,
                     const std::vector<link::RecipientStatus>& failed,
                     const std::string& reporting_host, const std::string& to, std::time_t now,
                     const std::string& boundary) {
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
    m += "  <" + clean(r.recipient, 300) + ">: ";
    m += r.outcome == link::RecipientOutcome::expired
             ? "delivery kept failing until the message expired"
             : clean(r.remote_reply);
    m += "\r\n";
  }
  m += "\r\n--" + boundary + "\r\nContent-Type: message/delivery-status\r\n\r\n";
  m += "Reporting-MTA: dns; " + reporting_host + "\r\n";
  m += "Arrival-Date: " + mail::rfc5322_date(static_cast<std::time_t>(original.received_at)) +
       "\r\n";
  for (const auto& r : failed) {
    m += "\r\nFinal-Recipient: rfc822; " + clean(r.recipient, 300) + "\r\n";
    m += "Action: failed\r\n";
    m += "Status: " + status_of(r) + "\r\n";
    if (r.outcome == link::RecipientOutcome::failed && !r.remote_reply.empty())
      m += "Diagnostic-Code: smtp; " + clean(r.remote_reply) + "\r\n";
  }
  m += "\r\n--" + boundary + "\r\nContent-Type: text/rfc822-headers\r\n\r\n";
  auto h = mail::parse_headers(original.message);
  if (h) m += mail::serialize_fields(h->fields);
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

}  // namespace nj::inner
