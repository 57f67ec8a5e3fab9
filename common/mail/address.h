// Mail addresses as they arrive in SMTP commands: RFC 5321 reverse/forward paths, mailboxes,
// HELO/EHLO names, ESMTP parameters (RFC 6531 when SMTPUTF8 was negotiated).
// Trusts nothing: every argument comes straight from a remote client. Parsers are strict,
// bounded by the RFC 5321 4.5.3.1 size limits, and refuse the old relay tricks (source routes,
// '%' and '!' routing, quoted local parts hiding a second address) instead of interpreting them.
// Error messages never repeat the address itself (logs must not carry addresses).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace nj::mail {

// RFC 5321 4.5.3.1.
inline constexpr size_t kMaxLocalPart = 64;
inline constexpr size_t kMaxDomain = 255;
inline constexpr size_t kMaxPath = 256;  // including "<" and ">"
// RFC 1035 2.3.4 (the 255 of RFC 5321 leaves room for a literal; a name is at most 253).
inline constexpr size_t kMaxDomainName = 253;
inline constexpr size_t kMaxLabel = 63;

struct Mailbox {
  // The local part exactly as sent, quotes and backslashes included.
  std::string local;
  // Lowercased domain, or an address literal "[192.0.2.1]" / "[IPv6:2001:db8::1]". Empty for the
  // null reverse path and for the bare "<postmaster>" forward path.
  std::string domain;
  bool null_path = false;  // MAIL FROM:<>
  bool quoted = false;     // local part was a quoted-string

  // Local part with quoting removed where it is not needed ("john.doe"@x -> john.doe); a local
  // part that needs quoting stays quoted, with minimal escaping. Case is kept: RFC 5321 2.4 says
  // only the receiving host may fold case of its own local parts.
  std::string normalized_local() const;
  // normalized_local() "@" domain; "" for the null path; normalized_local() alone for
  // <postmaster>.
  std::string address() const;
  bool is_postmaster_only() const { return !null_path && domain.empty(); }
};

// `arg` is the text after "MAIL FROM:" / "RCPT TO:" with the ESMTP parameters already split off
// (see split_path_and_params), e.g. "<user@example.org>". SMTPUTF8 permits UTF-8 in the local
// part and in domain labels (RFC 6531 3.3), which must then be valid UTF-8.
Result<Mailbox> parse_reverse_path(std::string_view arg, bool smtputf8);
// As above; "<>" is refused and "<postmaster>" (any case, no domain) is accepted (RFC 5321 4.5.1).
Result<Mailbox> parse_forward_path(std::string_view arg, bool smtputf8);

struct EsmtpParam {
  std::string keyword;               // uppercased
  std::optional<std::string> value;  // as sent; for AUTH= the xtext-decoded value
};

struct PathAndParams {
  std::string_view path;  // "<...>" including the brackets; a view into the argument
  std::vector<EsmtpParam> params;
};

inline constexpr size_t kMaxEsmtpParams = 16;
inline constexpr size_t kMaxEsmtpKeyword = 32;
inline constexpr size_t kMaxEsmtpValue = 500;

// Splits "<a@b> SIZE=100 BODY=8BITMIME" into the path and its parameters. Leading spaces are
// skipped (many clients send "MAIL FROM: <a@b>"). The path must be in angle brackets; a '>'
// inside a quoted local part does not end it. Duplicate keywords are refused.
Result<PathAndParams> split_path_and_params(std::string_view arg, bool smtputf8);

// RFC 3461 4 xtext: "+" followed by two uppercase hex digits encodes one octet.
Result<std::string> xtext_decode(std::string_view in);

// LDH domain name (labels of letters, digits and inner hyphens, 1..63 octets, name at most 253
// octets, no trailing dot, top-level label not all digits: RFC 3696 2). With smtputf8, labels may
// also contain UTF-8 (U-labels), which must be valid UTF-8; no IDNA checks beyond that.
bool is_valid_domain(std::string_view d, bool smtputf8 = false);
// "[IPv4]" or "[IPv6:...]" validated with inet_pton; general literals ("[tag:...]") are refused.
bool is_address_literal(std::string_view s);
bool is_valid_utf8(std::string_view s);

struct HeloName {
  std::string name;  // domain lowercased, or the address literal
  bool is_literal = false;
};
// The EHLO/HELO argument: a domain or an address literal (RFC 5321 4.1.1.1). A bare IP address
// is not a domain and is refused (its top-level label is all digits).
Result<HeloName> parse_helo_name(std::string_view arg);

// Key material for greylisting, following postgrey's do_sender_substitutions() so that mailing
// lists and bounce-address schemes do not mint a new triplet for every message:
//  - lowercase the whole address (postgrey lowercases its key);
//  - BATV "prvs=TAG=user" / "prvs=user=TAG": keep the part that is not the 10-character tag
//    (postgrey takes the standard order when both or neither look like tags);
//  - SRS0/SRS1 (not in postgrey): the hash and timestamp fields change per message, so they
//    become '#' while the forwarder and original address are kept;
//  - strip "+extension" (from the first '+'): VERP by subaddress;
//  - every run of digits standing alone between non-word characters (Perl's \b\d+\b) becomes
//    '#': numeric VERP ids such as "bounce-12345-67@".
// "-tag" is not stripped: '-' is an ordinary character of very many real local parts
// (first-last@), so stripping it would merge different senders, and the VERP schemes that use
// '-' put digit ids there, which the digit rule already folds.
// The null path yields "" (bounces are greylisted by client and recipient only).
std::string normalize_for_greylist(const Mailbox& m);

}  // namespace nj::mail
