// POP3 multi-line bodies (RFC 1939 3): how a stored message is put on the wire by RETR and TOP.
// Lines end in CRLF on the wire whatever the stored form (bare LF is accepted), a line starting
// with "." gets a second ".", and ".\r\n" ends the response. wire_size() is the octet count
// STAT/LIST must report for a message: CRLF line ends, a final CRLF added when missing, and no
// dot-stuffing (RFC 1939 5, LIST: "the exact size of the message").
// Trust: the message bytes are the host's (already decrypted) data; nothing here allocates per
// line, and both functions make one pass over the message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nj::pop3 {

// Octets of `message` as RETR sends it, before dot-stuffing and without the terminating ".".
uint64_t wire_size(std::string_view message);

// Appends `message` dot-stuffed with CRLF line ends and the terminating ".\r\n" to `out`.
// With `body_lines` (TOP), only the header section, the blank line after it and at most that
// many body lines are sent; a message without a blank line is all header.
void append_multiline(std::string& out, std::string_view message,
                      std::optional<uint64_t> body_lines = std::nullopt);

}  // namespace nj::pop3
