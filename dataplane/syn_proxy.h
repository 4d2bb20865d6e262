// The SYN proxy of HTTP services (issue 5): delayed binding per lcore. A client's SYN is answered
// with a SYN-cookie SYN-ACK and no state (syn_cookie.h); the first data segment whose ACK validates
// the cookie creates a pending connection that holds the client's segments, unacknowledged, until
// the request head is complete (http_head.h); the head picks the backend (learnt session cookie,
// hashed cookie, source address, 5-tuple: HttpStickyPolicy::methods in order); Tether opens the
// backend connection from the client's ISN, and when the backend's SYN-ACK arrives the held segments
// are replayed and the flow is spliced (tcp_splice.h) for the rest of its life.
//
// Timestamps towards the backend (RFC 7323 5.5, RFC 6191): the backend connection comes from a
// full-NAT local port that is reused, so the backend may still hold the previous connection on the
// same 4-tuple in TIME_WAIT. It accepts a new SYN there only if its TSval is newer than the last one
// it saw (PAWS; otherwise it answers with a bare ACK, counted as TcpExtPAWSTimewait on Linux). The
// client's TSval cannot ensure that: Linux draws each connection's TSval base at random. So the
// backend SYN's TSval comes from a per-lcore clock that never goes back (milliseconds of
// CLOCK_MONOTONIC, continued by the TSC), and every client TSval is shifted by one per-connection
// offset (SpliceState::client_ts_delta), so TSvals still rise within the connection. Without
// timestamps the backend checks the SYN's sequence number instead; the SYN keeps the client's ISN
// (no sequence translation client -> backend), so a client without timestamps can still meet a
// TIME_WAIT it does not pass (a documented limit).
//
// Why delayed binding: the backend cannot be chosen before the cookie is read, and the cookie comes
// after the handshake. Why SYN cookies: no state exists for a SYN, so a spoofed SYN flood costs one
// SipHash and one transmitted packet each, and never fills the pending pool (only a client that
// completes the handshake and sends data does).
//
// Memory: the pending pool (slots, held-mbuf arrays, one head buffer per slot) is allocated once by
// create(); the hot path allocates only the mbufs of the SYNs it sends to backends. Written only by
// the owning lcore; the control plane reads nothing here (counters are in LcoreCounters::proxy).
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/flow_table.h"
#include "dataplane/http_head.h"
#include "dataplane/packet_parser.h"
#include "dataplane/snapshot.h"
#include "dataplane/syn_cookie.h"

namespace lb::dataplane {

struct BurstState;
struct Verdict;
struct WorkerContext;

struct SynProxyConfig {
  uint32_t capacity = 4096;            // pending connections per lcore; full -> DropReason::kProxyFull
  uint32_t head_buffer_bytes = 16384;  // per slot; a policy's max_head_bytes is clamped to it
  uint16_t max_held_segments = 16;     // client segments held per pending connection
  uint32_t sweep_slots = 64;           // pending slots examined per poll() (bounded timer work)
  SynCookieClock clock;                // the worker's TSC rate (ticks_per_second >= 1000)
  SipKey cookie_master;                // WorkerContext::syn_cookie_master: same on every lcore
  // Used when a policy leaves its timeouts at 0 (seconds).
  uint32_t default_head_timeout_s = 10;
  uint32_t default_connect_timeout_ms = 1000;
  // The backend TSval clock's offset from the TSC's milliseconds (backendSynTsval), when set: a replay
  // that compares a second worker's output with a recording needs both on one clock. Unset (tetherd):
  // anchored to CLOCK_MONOTONIC at create(), which rounds to either neighbouring millisecond.
  std::optional<uint32_t> backend_clock_base_ms;
};

class SynProxy {
 public:
  static constexpr uint32_t kMaxBackendsTried = 8;

  // Fails on a zero capacity, buffer or held-segment bound, or a clock the cookie codec refuses.
  static absl::StatusOr<std::unique_ptr<SynProxy>> create(const SynProxyConfig& config);
  ~SynProxy();
  SynProxy(const SynProxy&) = delete;
  SynProxy& operator=(const SynProxy&) = delete;

  // A client segment to HTTP service `service` with no flow (`e` == nullptr) or a flow still being
  // bound (e->proxy_phase == kBinding). Takes ownership of `m`. An IPv6 client's segment comes with
  // its key (`key6`; `flow_hash` is then FlowTable::hashKeyV6's): cookies and flows are made from it.
  Verdict onClientSegment(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint64_t flow_hash,
                          uint32_t service, FlowEntry* e, const hashing::FlowKeyV6* key6 = nullptr);
  // A backend segment to a flow being bound: the SYN-ACK completes the binding, a RST moves on to
  // another backend. Takes ownership of `m`.
  Verdict onBackendSegment(BurstState& s, rte_mbuf* m, ParsedFrame& f, FlowEntry* e);
  // A backend -> client segment of a spliced flow, before translation: learns or forgets the
  // session from the response's Set-Cookie.
  void learnFromResponse(BurstState& s, const rte_mbuf* m, const ParsedFrame& f, const FlowEntry& e);

  // Timers (head timeout, SYN retransmission, connect failure): examines at most `sweep_slots`
  // pending slots. Called from the worker loop; may queue SYNs and RSTs in ctx.tx. Returns false when
  // nothing is pending, so nothing was queued and the loop need not flush.
  bool poll(WorkerContext& ctx, const Snapshot& snap, uint64_t now_tsc);
  // The flow table expired a flow that was still being bound: frees its pending slot (the caller
  // erases the flow and releases its local port).
  void abandon(WorkerContext& ctx, const FlowEntry& e);

  uint32_t nowMs(uint64_t now_tsc) const { return codec_->millisecondsAt(now_tsc); }
  // The TSval of a new backend connection's SYN: milliseconds, never below one already issued by
  // this proxy (see the header comment).
  uint32_t backendSynTsval(uint64_t now_tsc);
  uint32_t pendingCount() const { return capacity_ - static_cast<uint32_t>(free_slots_.size()); }

 private:
  struct Pending;

  explicit SynProxy(const SynProxyConfig& config);

  Verdict answerSyn(BurstState& s, rte_mbuf* m, ParsedFrame& f, const Service& svc, const hashing::FlowKeyV6* key6);
  Verdict acceptCookie(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint64_t flow_hash, uint32_t service,
                       const hashing::FlowKeyV6* key6);
  Verdict onClientData(BurstState& s, rte_mbuf* m, ParsedFrame& f, Pending& p, const Service& svc);
  Verdict headComplete(BurstState& s, Pending& p, const Service& svc, std::string_view head_bytes);
  uint16_t pickOther(const Service& svc, const Pending& p) const;
  bool connect(WorkerContext& ctx, const Snapshot& snap, Pending& p, const Service& svc, uint16_t backend,
               uint64_t now_tsc);
  bool sendSyn(WorkerContext& ctx, const Snapshot& snap, Pending& p);
  void backendFailed(WorkerContext& ctx, const Snapshot& snap, Pending& p, uint64_t now_tsc);
  void resetClientAndRelease(WorkerContext& ctx, const Snapshot& snap, Pending& p);
  void release(WorkerContext& ctx, Pending& p, bool erase_flow);
  bool hold(Pending& p, rte_mbuf* m);
  const Service* serviceOf(const Snapshot& snap, const FlowEntry& e) const;
  uint64_t headTimeout(const HttpStickyPolicy& policy) const;
  uint64_t connectTimeout(const HttpStickyPolicy& policy) const;
  uint32_t nowSeconds(uint64_t now_tsc) const {
    return static_cast<uint32_t>(now_tsc / clock_.ticks_per_second);
  }

  SynProxyConfig config_;
  SynCookieClock clock_;
  DerivedSecretSource secrets_;
  std::optional<SynCookieCodec> codec_;  // refers to secrets_: the proxy is never moved
  uint32_t capacity_ = 0;
  std::vector<Pending> slots_;
  std::vector<rte_mbuf*> held_;     // max_held_segments per slot
  std::vector<char> head_buffers_;  // head_buffer_bytes + 16 per slot (16: the scanner's wide loads)
  std::vector<uint32_t> free_slots_;
  uint32_t sweep_cursor_ = 0;
  // backendSynTsval = nowMs + backend_ts_base_: fixed at create() so that the clock reads
  // CLOCK_MONOTONIC milliseconds, the same after a restart of the daemon (the backends' TIME_WAIT
  // entries outlive it), and on every lcore.
  uint32_t backend_ts_base_ = 0;
  uint32_t last_backend_tsval_ = 0;  // the latest backendSynTsval (valid once one was issued)
  bool backend_tsval_issued_ = false;
};

}  // namespace lb::dataplane
