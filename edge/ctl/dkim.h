// nightjarctl dkim on the edge: `keygen` makes a DKIM private key file for a (domain, selector)
// and prints the TXT record that publishes its public half; `record` prints that record again
// from an existing key file (when rotating, or for another copy of the zone). The signer that
// uses the keys is edge/dkim/signer.h; docs/operations.md, "DKIM, SPF and DMARC for your
// domains", says where the files go (/etc/nightjar/keys, handed to the edge as credentials).
// Trust: run by the operator; arguments are the operator's. A key file read by `record` is
// checked like the edge checks it (edge/dkim/key.h). The private key is never printed.
#pragma once

#include "common/ctl/args.h"

namespace nj::ctl {

// Returns the exit status (0; 1 when the key cannot be made, written or read; 2 for usage).
int cmd_dkim(const Args& args);

}  // namespace nj::ctl
