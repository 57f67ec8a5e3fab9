// RFC 5322 3.4 mailbox lists as they appear in From:, To: and Cc: — display names, quoted
// strings, comments and angle addresses — reduced to the addr-specs they name. The inner uses it
// to hold a user to their own From: address.
// Trust: the header value is client input; length, mailbox count and comment depth are bounded,
// and each address is checked with the RFC 5321 path parser. Errors never repeat the input.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/mail/address.h"

namespace nj::mail {

struct AddressListLimits {
  size_t max_value = 16 * 1024;  // octets of the unfolded value
  size_t max_mailboxes = 100;
  size_t max_comment_depth = 8;
};

// The mailboxes of a mailbox-list (unfolded header value). Group syntax ("name: a@b, c@d;") is
// refused: RFC 5322 3.6.2 does not allow it in From: and nothing here needs it.
Result<std::vector<Mailbox>> parse_mailbox_list(std::string_view unfolded,
                                                const AddressListLimits& limits = {});

}  // namespace nj::mail
