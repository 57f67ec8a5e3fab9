#include "edge/auth/sender_auth.h"

#include <algorithm>
#include <set>
#include <utility>

#include "common/crypto/crypto.h"
#include "common/mail/address_list.h"
#include "common/mail/headers.h"
#include "common/uv/handles.h"
#include "common/uv/work.h"
#include "edge/auth/spf.h"

namespace nj::edge::auth {

struct SenderAuth::State : std::enable_shared_from_this<SenderAuth::State> {
  State(SenderAuth& o, std::shared_ptr<const std::string> msg, AuthInput i, VerdictCallback cb)
      : owner(o),
        message(std::move(msg)),
        in(std::move(i)),
        slot(std::make_shared<VerdictCallback>(std::move(cb))),
        timer(o.loop_) {}

  SenderAuth& owner;
  std::shared_ptr<const std::string> message;
  AuthInput in;
  std::shared_ptr<VerdictCallback> slot;
  uv::Timer timer;
  bool finished = false;

  // SPF
  SpfRequest spf_req;
  DnsCache spf_cache;
  std::set<DnsKey> spf_asked;
  size_t spf_waiting = 0;
  bool spf_done = false;
  SpfResult spf = SpfResult::none;

  // DKIM
  std::shared_ptr<DkimMessage> dkim;
  size_t keys_waiting = 0;
  bool dkim_running = false;  // on the thread pool: the loop leaves `dkim` alone
  bool dkim_done = false;
  std::vector<DkimReport> dkim_reports;

  // DMARC
  std::string from;
  bool from_problem = false;
  bool several_authors = false;  // From: names authors in more than one domain
  std::string org;
  bool dmarc_done = false;
  std::optional<DmarcRecord> record;
  bool record_at_org = false;
  bool dmarc_temperror = false;

  bool wanted() const { return !finished && *slot; }

  void start() {
    // The timer belongs to this state: a weak reference, or the two would keep each other.
    std::weak_ptr<State> weak = shared_from_this();
    timer.start(owner.opt_.deadline_ms, 0, [weak] {
      if (auto self = weak.lock()) self->deadline();
    });
    read_from();
    start_dkim();
    start_spf();
    start_dmarc();
    maybe_finish();
  }

  // ---- the From domain (RFC 7489 3.1.1) ----
  void read_from() {
    auto hs = mail::parse_headers(*message);
    if (!hs) {
      from_problem = true;
      return;
    }
    std::set<std::string> domains;
    auto froms = hs->find_all("From");
    for (const auto* f : froms) {
      auto list = mail::parse_mailbox_list(f->unfolded());
      if (!list) {
        from_problem = true;
        return;
      }
      for (const auto& mb : *list) domains.insert(dns_key_name(mb.domain));
    }
    // None, or authors in several domains: DMARC cannot name one domain (6.6.1).
    if (domains.size() != 1 || domains.begin()->empty() || domains.begin()->front() == '[') {
      from_problem = true;
      // "From: ceo@bank.example, x@elsewhere" would otherwise slip past the bank's p=reject.
      several_authors = domains.size() > 1;
      return;
    }
    from = *domains.begin();
    org = owner.psl_.organizational_domain(from);
  }

  // ---- DKIM ----
  void start_dkim() {
    dkim = std::shared_ptr<DkimMessage>(
        DkimMessage::start(owner.dkim_, *message, in.log_id).release());
    const auto& names = dkim->key_names();
    if (names.empty()) {
      run_dkim();
      return;
    }
    keys_waiting = names.size();
    auto self = shared_from_this();
    for (const auto& n : names) {
      owner.resolver_.query(n, dns::Type::TXT, [self, n](const dns::Answer& a) {
        if (self->dkim_running || self->dkim_done || !self->wanted()) return;
        self->dkim->set_key(n, a);
        if (--self->keys_waiting == 0) self->run_dkim();
      });
    }
  }

  void run_dkim() {
    dkim_running = true;
    auto self = shared_from_this();
    auto d = dkim;
    auto msg = message;
    auto out = std::make_shared<std::vector<DkimReport>>();
    uv::queue_work(
        owner.loop_, [d, msg, out] { *out = d->finish(*msg); },
        [self, out] {
          self->dkim_running = false;
          self->dkim_done = true;
          self->dkim_reports = std::move(*out);
          self->maybe_finish();
        });
  }

  // ---- SPF ----
  void start_spf() {
    if (!in.check_spf) {
      spf_done = true;
      return;
    }
    spf_req.ip = in.client_ip;
    spf_req.helo = in.helo;
    if (in.sender_domain.empty()) {
      spf_req.local = "postmaster";
      spf_req.domain = in.helo;
    } else {
      spf_req.local = in.sender_local;
      spf_req.domain = in.sender_domain;
    }
    evaluate_spf();
  }

  void evaluate_spf() {
    SpfOutcome o = spf_evaluate(spf_req, spf_cache);
    if (o.complete) {
      spf_done = true;
      spf = o.result;
      return;
    }
    std::vector<DnsKey> ask;
    for (auto& k : o.missing) {
      if (spf_asked.count(k)) continue;
      if (spf_asked.size() >= kMaxSpfQueries) {
        spf_done = true;
        spf = SpfResult::permerror;
        return;
      }
      spf_asked.insert(k);
      ask.push_back(k);
    }
    // All are counted before any is asked: an answer that comes back at once (a cache) must
    // not start the next evaluation while this one is still asking.
    spf_waiting += ask.size();
    auto self = shared_from_this();
    for (auto& k : ask) {
      owner.resolver_.query(k.first, k.second, [self, k](const dns::Answer& a) {
        if (self->spf_done || !self->wanted()) return;
        self->spf_cache[k] = a;
        if (--self->spf_waiting == 0) {
          self->evaluate_spf();
          self->maybe_finish();
        }
      });
    }
    if (ask.empty()) {
      // Everything missing was asked before and is still absent: cannot happen with a
      // resolver that always answers, but never loop on it.
      spf_done = true;
      spf = SpfResult::temperror;
    }
  }

  // ---- DMARC record discovery (RFC 7489 6.6.3) ----
  void start_dmarc() {
    if (from.empty()) {
      dmarc_done = true;
      return;
    }
    ask_dmarc(from, false);
  }

  void ask_dmarc(const std::string& domain, bool at_org) {
    std::string name = "_dmarc." + domain;
    if (name.size() > 253) {
      dmarc_done = true;
      return;
    }
    auto self = shared_from_this();
    owner.resolver_.query(name, dns::Type::TXT, [self, at_org](const dns::Answer& a) {
      if (self->dmarc_done || !self->wanted()) return;
      DmarcRecord r;
      switch (select_dmarc_record(a, r)) {
        case DmarcDiscovery::found:
          self->record = r;
          self->record_at_org = at_org;
          self->dmarc_done = true;
          break;
        case DmarcDiscovery::temperror:
          self->dmarc_temperror = true;
          self->dmarc_done = true;
          break;
        case DmarcDiscovery::none:
          if (!at_org && self->org != self->from) {
            self->ask_dmarc(self->org, true);
            return;
          }
          self->dmarc_done = true;
          break;
      }
      self->maybe_finish();
    });
  }

  // ---- the end ----
  void deadline() {
    if (!wanted()) return;
    if (!spf_done) {
      spf_done = true;
      spf = SpfResult::temperror;
    }
    if (!dmarc_done) {
      dmarc_done = true;
      dmarc_temperror = true;
    }
    if (!dkim_done && !dkim_running) {
      // Keys that did not come are temporary failures for their signatures.
      for (const auto& n : dkim->key_names()) {
        dns::Answer a;
        a.status = dns::Status::timeout;
        dkim->set_key(n, a);
      }
      keys_waiting = 0;
      run_dkim();
    }
    maybe_finish();
  }

  void maybe_finish() {
    if (!wanted() || !spf_done || !dkim_done || !dmarc_done) return;
    finished = true;
    timer.stop();

    AuthVerdict v;
    v.report.authserv_id = owner.opt_.authserv_id;
    v.report.spf.result = spf;
    v.report.spf.mailfrom = in.sender_domain;
    if (in.sender_domain.empty()) v.report.spf.helo = in.helo;
    v.report.dkim = dkim_reports;

    DmarcInput di;
    di.from = from;
    di.spf = spf;
    di.spf_domain = dns_key_name(spf_req.domain);
    di.dkim = dkim_reports;
    di.record = record;
    di.at_org = record_at_org;
    di.temperror = dmarc_temperror;
    di.draw = owner.opt_.draw ? owner.opt_.draw() % 100 : crypto::random_uniform(100);
    v.report.dmarc = dmarc_evaluate(di, owner.psl_);
    if (from_problem) {
      v.report.dmarc = DmarcReport{};
      v.report.dmarc.result = DmarcResult::permerror;
    }
    v.reject = owner.opt_.dmarc_reject && v.report.dmarc.result == DmarcResult::fail &&
               v.report.dmarc.disposition == DmarcPolicy::reject;
    // RFC 7489 6.6.1 lets a receiver refuse what DMARC cannot judge; OpenDMARC's
    // RejectMultiValueFrom does. Otherwise any domain's p=reject is one extra author away.
    if (owner.opt_.dmarc_reject && several_authors) {
      v.reject = true;
      v.several_authors = true;
    }
    v.field = authentication_results(v.report);

    v.summary = std::string("spf=") + spf_result_name(spf) + " dkim=";
    if (dkim_reports.empty()) v.summary += "none";
    for (size_t i = 0; i < dkim_reports.size(); ++i)
      v.summary += (i ? "," : "") + std::string(dkim_result_name(dkim_reports[i].result));
    v.summary += std::string(" dmarc=") + dmarc_result_name(v.report.dmarc.result);
    if (v.report.dmarc.disposition)
      v.summary += std::string(" disposition=") + dmarc_policy_name(*v.report.dmarc.disposition);

    VerdictCallback cb = std::move(*slot);
    *slot = nullptr;
    cb(std::move(v));
  }
};

SenderAuth::SenderAuth(uv::Loop& loop, dns::Resolver& resolver,
                       std::shared_ptr<const DkimLibrary> dkim, const PublicSuffixList& psl,
                       SenderAuthOptions options)
    : loop_(loop),
      resolver_(resolver),
      dkim_(std::move(dkim)),
      psl_(psl),
      opt_(std::move(options)) {}

AuthPending SenderAuth::check(std::shared_ptr<const std::string> message, AuthInput in,
                              VerdictCallback cb) {
  auto st = std::make_shared<State>(*this, std::move(message), std::move(in), std::move(cb));
  AuthPending p(st->slot);
  st->start();
  return p;
}

}  // namespace nj::edge::auth
