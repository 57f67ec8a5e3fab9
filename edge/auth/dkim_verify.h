// DKIM verification of inbound mail (RFC 6376, RFC 8463 ed25519-sha256) with OpenDKIM's
// library, split so that no DNS is done by the library and no CPU-heavy step runs on the loop:
//   1. start(): the header section goes to libopendkim (on the loop: a parse of at most the
//      header limit), which lists the signatures; its prescreen hook ignores them all in this
//      pass, so it looks up no key. The first kMaxSignatures are evaluated, the rest ignored.
//   2. key_names(): the "<s>._domainkey.<d>" TXT names to fetch; the caller fetches them with
//      the edge's own resolver, asynchronously, and hands every answer to set_key().
//   3. finish(): a second pass over the header section, then the body and the signature checks
//      (body hashes, RSA/ed25519) run — on the thread pool — with libopendkim's key lookup
//      answered from what set_key() stored.
// One DkimMessage is used by one thread at a time: set_key() before finish(), never during it.
// Trust: the message and the key records are hostile; signature count, key record size and
// names are bounded here, and everything libopendkim reports back (domain, selector, b=) goes
// to the Authentication-Results writer, which quotes or drops it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/dns/resolver.h"
#include "edge/auth/auth_results.h"

struct dkim_lib;
struct dkim;

namespace nj::edge::auth {

inline constexpr size_t kMaxSignatures = 5;    // signatures evaluated per message
inline constexpr size_t kMaxKeyRecord = 1024;  // octets of one key TXT record (libopendkim's)

// libopendkim's library handle, one per edge, with the key lookup hook installed.
class DkimLibrary {
 public:
  // Shared: a message's verification on the thread pool keeps it alive through a shutdown.
  static Result<std::shared_ptr<const DkimLibrary>> create();
  ~DkimLibrary();
  DkimLibrary(const DkimLibrary&) = delete;
  DkimLibrary& operator=(const DkimLibrary&) = delete;
  ::dkim_lib* handle() const { return lib_; }

 private:
  DkimLibrary() = default;
  ::dkim_lib* lib_ = nullptr;
};

class DkimMessage {
 public:
  // `message` is the whole message (header section, CRLF line ends, as received); only its
  // header section is read here. The returned object keeps no view into it.
  static std::unique_ptr<DkimMessage> start(std::shared_ptr<const DkimLibrary> lib,
                                            std::string_view message, std::string_view log_id);
  ~DkimMessage();
  DkimMessage(const DkimMessage&) = delete;
  DkimMessage& operator=(const DkimMessage&) = delete;

  // Distinct key record names to fetch; empty when there is nothing to verify.
  const std::vector<std::string>& key_names() const { return key_names_; }
  void set_key(const std::string& name, const dns::Answer& answer);

  // Runs the message through the signatures and reports one DkimReport per evaluated signature
  // (empty: the message carries no signature). `message` is the one given to start().
  std::vector<DkimReport> finish(std::string_view message);

  // libopendkim's key lookup, answered from the stored records (public for the C callback).
  int lookup_key(std::string_view selector, std::string_view domain, unsigned char* buf,
                 size_t buflen);
  int prescreen(void* sigs, int n);  // DKIM_SIGINFO**

 private:
  struct Sig {
    DkimReport report;     // domain, selector, algorithm, b prefix filled at start()
    std::string key_name;  // empty: no valid name, nothing fetched
    bool final = false;    // report decided at start() (a signature libopendkim refused)
  };
  DkimMessage() = default;
  ::dkim* open(const DkimLibrary& lib, std::string_view message, std::string_view log_id,
               size_t* body_offset);

  std::shared_ptr<const DkimLibrary> lib_;
  std::string log_id_;
  bool discovering_ = false;  // the first pass: every signature ignored
  int eoh_status_ = 0;
  bool header_failed_ = false;  // the header section could not be processed at all
  std::vector<Sig> sigs_;
  std::vector<std::string> key_names_;
  std::map<std::string, dns::Answer> keys_;
};

// "<selector>._domainkey.<domain>" when both make a valid DNS name (at most 253 octets, labels
// of 1..63 octets of letters, digits, '-' and '_'); "" otherwise.
std::string dkim_key_name(std::string_view selector, std::string_view domain);

}  // namespace nj::edge::auth
