// nightjarctl keygen --out PREFIX: a new X25519 key pair in PREFIX.secret (0600) and PREFIX.pub;
// never overwrites. Prints the public key line, which the other side of a pairing needs. The
// same command on the edge and on the inner: each makes its own pair on its own machine.
// Trust: run by the operator; the files are written by common/crypto/keyfile.h (O_EXCL).
#pragma once

#include "common/ctl/args.h"

namespace nj::ctl {

int cmd_keygen(const Args& args);

}  // namespace nj::ctl
