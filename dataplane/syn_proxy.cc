#include "dataplane/syn_proxy.h"

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <time.h>

#include <algorithm>
#include <cstring>

#include "dataplane/backend_choice.h"
#include "dataplane/ether_frame.h"
#include "dataplane/ipv6_path.h"
#include "dataplane/packet_path.h"
#include "dataplane/session_table.h"
#include "dataplane/tcp_seq.h"
#include "dataplane/tcp_splice.h"
#include "hashing/key_hash.h"

namespace lb::dataplane {

// One connection being bound. Lives in slots_[i]; its held mbufs in held_[i * max_held ...] and its
// head bytes (when they span segments) in head_buffers_[i * stride ...].
struct SynProxy::Pending {
  enum class Phase : uint8_t { kFree, kReadingHead, kConnecting };
  Phase phase = Phase::kFree;
  uint8_t our_shift = 0;        // the window scale we announced in the SYN-ACK
  uint8_t attempts = 0;         // SYNs sent to the current backend
  uint8_t backends_tried = 0;   // backends that failed (their ids in tried_ids)
  bool sticky_choice = false;   // the current backend came from a cookie
  uint16_t held_count = 0;
  FlowEntry* flow = nullptr;
  uint32_t client_isn = 0;
  uint32_t our_isn = 0;
  uint32_t next_seq = 0;        // client sequence number after the last held byte
  uint32_t client_tsval = 0;    // the client's latest TSval
  uint32_t client_tsecr = 0;    // the cookie's TSval as the client echoes it (all it echoes until the splice)
  uint32_t our_ts_base = 0;     // our TSval = milliseconds(now) + our_ts_base
  uint32_t first_held_tsval = 0;  // the lowest TSval of the held segments (valid with has_held_tsval)
  bool has_held_tsval = false;
  uint32_t backend_syn_tsval = 0; // the TSval of our SYNs to the current backend
  uint32_t client_ts_delta = 0;   // backend_syn_tsval - first_held_tsval: client TSval -> backend's
  uint32_t client_window = 0;   // bytes, from the client's latest segment
  uint32_t head_bytes = 0;      // bytes copied into the head buffer
  uint32_t head_limit = 0;      // max head bytes for this connection
  SynOptions accepted;
  uint64_t head_deadline_tsc = 0;
  uint64_t connect_deadline_tsc = 0;
  std::array<uint64_t, kMaxBackendsTried> tried_ids{};
  HttpHeadScanner scanner{HttpHeadScanner::Kind::kRequest};
};


namespace {

constexpr uint32_t kHeadSlack = 16;  // the scanner's 16-byte loads may touch bytes after the head
constexpr uint16_t kTsOptionSpace = 12;  // NOP NOP TS: what an inserted timestamps option costs

// Absorbed by the proxy (held for replay, or counted in the proxy counters): not a drop.
Verdict consumed() { return Verdict{VerdictKind::kDropped, DropReason::kCount, 0}; }

bool parseOptions(const ParsedFrame& f, TcpOptions& out) {
  TcpOptionsArea area;
  return parseSegmentOptions(f, area, out);
}

// Drops the first `overlap` payload bytes of a held-to-be segment (a retransmission that re-sends
// bytes already held together with new ones, as Linux's retransmit collapsing does). Full checksums:
// this is rare.
bool trimFront(rte_mbuf* m, ParsedFrame& f, uint32_t overlap) {
  if (m->nb_segs != 1) return false;
  auto* tcp = static_cast<rte_tcp_hdr*>(f.l4);
  const uint16_t headers = static_cast<uint16_t>(f.l2_len + f.l3_len + (tcp->data_off >> 4) * 4u);
  const auto segment = static_cast<uint16_t>(segmentLength(f) - overlap);
  uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
  std::memmove(data + overlap, data, headers);
  if (rte_pktmbuf_adj(m, static_cast<uint16_t>(overlap)) == nullptr) return false;
  data = rte_pktmbuf_mtod(m, uint8_t*);
  if (f.kind == FrameKind::kIpv6) {
    f.ip6 = reinterpret_cast<rte_ipv6_hdr*>(data + f.l2_len);
  } else {
    f.ip = reinterpret_cast<rte_ipv4_hdr*>(data + f.l2_len);
  }
  f.l4 = data + f.l2_len + f.l3_len;
  tcp = static_cast<rte_tcp_hdr*>(f.l4);
  tcp->sent_seq = rte_cpu_to_be_32(rte_be_to_cpu_32(tcp->sent_seq) + overlap);
  setSegmentLength(f, segment);
  finishHeaders(f);
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SynProxy>> SynProxy::create(const SynProxyConfig& config) {
  if (config.capacity == 0 || config.head_buffer_bytes < 16 || config.max_held_segments == 0 ||
      config.sweep_slots == 0) {
    return absl::InvalidArgumentError("syn proxy: capacity, head buffer (>= 16), held segments and sweep must be non-zero");
  }
  std::unique_ptr<SynProxy> proxy(new SynProxy(config));
  absl::StatusOr<SynCookieCodec> codec = SynCookieCodec::create(proxy->secrets_, config.clock);
  if (!codec.ok()) return codec.status();
  proxy->codec_.emplace(*std::move(codec));
  // Anchor the backend TSval clock to CLOCK_MONOTONIC (system-wide, never reset by a restart of the
  // daemon); from here on the TSC carries it, with no system call on the hot path.
  timespec mono{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  const uint64_t mono_ms = static_cast<uint64_t>(mono.tv_sec) * 1000 + static_cast<uint64_t>(mono.tv_nsec) / 1'000'000;
  proxy->backend_ts_base_ = config.backend_clock_base_ms.value_or(static_cast<uint32_t>(mono_ms) -
                                                                  proxy->nowMs(rte_rdtsc()));
  return proxy;
}

SynProxy::SynProxy(const SynProxyConfig& config)
    : config_(config),
      clock_(config.clock),
      secrets_(config.cookie_master),
      capacity_(config.capacity),
      slots_(config.capacity),
      held_(size_t{config.capacity} * config.max_held_segments, nullptr),
      head_buffers_(size_t{config.capacity} * (config.head_buffer_bytes + kHeadSlack), 0) {
  free_slots_.reserve(capacity_);
  for (uint32_t i = capacity_; i > 0; --i) free_slots_.push_back(i - 1);
}

SynProxy::~SynProxy() {
  for (size_t i = 0; i < held_.size(); ++i) {
    if (held_[i] != nullptr) rte_pktmbuf_free(held_[i]);
  }
}

uint64_t SynProxy::headTimeout(const HttpStickyPolicy& policy) const {
  return policy.head_timeout_tsc != 0 ? policy.head_timeout_tsc
                                      : uint64_t{config_.default_head_timeout_s} * clock_.ticks_per_second;
}

uint64_t SynProxy::connectTimeout(const HttpStickyPolicy& policy) const {
  return policy.connect_timeout_tsc != 0
             ? policy.connect_timeout_tsc
             : uint64_t{config_.default_connect_timeout_ms} * clock_.ticks_per_second / 1000;
}

const Service* SynProxy::serviceOf(const Snapshot& snap, const FlowEntry& e) const {
  auto matches = [&](const Service& svc) {
    const bool same_vip = e.client_v6 ? svc.v6 && sameAddress6(svc.vip6, e.vip6)
                                      : !svc.v6 && svc.vip_be == e.to_backend.key.dst_addr_be;
    return same_vip && svc.port_be == e.to_backend.key.dst_port_be && svc.protocol == Protocol::kTcp && svc.http.enabled;
  };
  if (e.proxy_service < snap.services.size() && matches(snap.services[e.proxy_service])) {
    return &snap.services[e.proxy_service];
  }
  // A newer snapshot may have renumbered the services.
  const uint32_t idx = e.client_v6 ? snap.service_index.findV6(e.vip6, e.to_backend.key.dst_port_be, IPPROTO_TCP)
                                   : snap.service_index.find(e.to_backend.key.dst_addr_be, e.to_backend.key.dst_port_be, IPPROTO_TCP);
  if (idx == ServiceIndex::kEmpty || !matches(snap.services[idx])) return nullptr;
  return &snap.services[idx];
}

// --- Stateless: SYN and cookie ACKs ---

Verdict SynProxy::onClientSegment(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint64_t flow_hash,
                                  uint32_t service, FlowEntry* e, const hashing::FlowKeyV6* key6) {
  const Service& svc = s.snap.services[service];
  const uint8_t flags = f.tcp_flags;
  const bool syn_only =
      (flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG | RTE_TCP_FIN_FLAG)) == RTE_TCP_SYN_FLAG;
  if (e == nullptr) {
    if (syn_only) return answerSyn(s, m, f, svc, key6);
    return acceptCookie(s, m, f, flow_hash, service, key6);
  }
  Pending& p = slots_[e->proxy_slot];
  e->to_backend.last_seen_tsc = s.now_tsc;
  if (flags & RTE_TCP_RST_FLAG) {
    s.ctx.counters->proxy.client_closed_early.inc();
    release(s.ctx, p, /*erase_flow=*/true);
    rte_pktmbuf_free(m);
    return consumed();
  }
  // A SYN again (its SYN-ACK was lost, or a new connection on the same 5-tuple): answer statelessly.
  if (syn_only) return answerSyn(s, m, f, svc, key6);
  if (flags & RTE_TCP_FIN_FLAG) {
    // The client gave up before a backend was bound: nobody will answer its bytes, so reset.
    s.ctx.counters->proxy.client_closed_early.inc();
    release(s.ctx, p, /*erase_flow=*/true);
    turnIntoReset(m, f);
    const LocalPort& port = s.snap.ports[s.rx_port];
    const rte_ether_addr client_mac = frameSourceMac(m);
    if (!writeL2(m, f.l2_len, port.vlan, client_mac, port.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
    queueTx(s, m, s.rx_port);
    return Verdict{VerdictKind::kAnswered, DropReason::kCount, s.rx_port};
  }
  return onClientData(s, m, f, p, svc);
}

Verdict SynProxy::answerSyn(BurstState& s, rte_mbuf* m, ParsedFrame& f, const Service& svc,
                            const hashing::FlowKeyV6* key6) {
  TcpOptions options;
  if (!parseOptions(f, options)) return dropPacket(s, m, DropReason::kMalformed);
  const auto* tcp = static_cast<const rte_tcp_hdr*>(f.l4);
  const uint32_t client_isn = rte_be_to_cpu_32(tcp->sent_seq);
  // ECN is never granted: the backend connection may not negotiate it, and a spliced connection
  // cannot translate ECN feedback between two different congestion-control loops.
  const SynOptions offered = synOptionsOffered(options, /*ecn_setup=*/false);
  const std::optional<SynCookie> cookie = key6 != nullptr ? codec_->encode(*key6, client_isn, offered, s.now_tsc)
                                                          : codec_->encode(f.key, client_isn, offered, s.now_tsc);
  // An MSS below 536 (see syn_cookie.h): refused, counted as malformed.
  if (!cookie) return dropPacket(s, m, DropReason::kMalformed);
  // Our MSS: the policy's, but never above the client's own, a cheap proxy for the path MTU that the
  // backend connection will also see.
  // A policy MSS below the RFC 9293 minimum (unset) is ignored.
  const uint16_t our_mss =
      svc.http.mss >= kDefaultMss ? std::min(svc.http.mss, cookie->accepted.mss) : cookie->accepted.mss;
  const SynAckOptions reply = synAckOptionsFor(*cookie, our_mss, std::min(svc.http.window_scale, kMaxWindowScale),
                                               options.has_timestamps ? options.tsval : 0);
  std::array<uint8_t, kSynAckOptionsMaxLen> block{};
  const size_t block_len = writeSynAckOptions(block, reply);
  const rte_ether_addr client_mac = frameSourceMac(m);
  if (!turnIntoSynAck(m, f, cookie->server_isn, client_isn + 1, cookie->window, block.data(),
                      static_cast<uint8_t>(block_len))) {
    return dropPacket(s, m, DropReason::kNoHeadroom);
  }
  const LocalPort& port = s.snap.ports[s.rx_port];
  if (!writeL2(m, f.l2_len, port.vlan, client_mac, port.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
  s.ctx.counters->proxy.syn_cookies_sent.inc();
  queueTx(s, m, s.rx_port);
  return Verdict{VerdictKind::kAnswered, DropReason::kCount, s.rx_port};
}

Verdict SynProxy::acceptCookie(BurstState& s, rte_mbuf* m, ParsedFrame& f, uint64_t flow_hash,
                               uint32_t service, const hashing::FlowKeyV6* key6) {
  const Service& svc = s.snap.services[service];
  const uint8_t flags = f.tcp_flags;
  if (flags & RTE_TCP_RST_FLAG) return dropPacket(s, m, DropReason::kNoFlow);  // nothing to reset
  if (!(flags & RTE_TCP_ACK_FLAG) || (flags & RTE_TCP_SYN_FLAG)) return dropPacket(s, m, DropReason::kBadSynCookie);
  TcpOptions options;
  if (!parseOptions(f, options)) return dropPacket(s, m, DropReason::kMalformed);
  const auto* tcp = static_cast<const rte_tcp_hdr*>(f.l4);
  const uint32_t seq = rte_be_to_cpu_32(tcp->sent_seq);
  const uint32_t ack = rte_be_to_cpu_32(tcp->recv_ack);
  const std::optional<uint32_t> tsecr = options.has_timestamps ? std::optional(options.tsecr) : std::nullopt;
  const std::optional<SynOptions> accepted = key6 != nullptr ? codec_->decode(*key6, seq - 1, ack, tsecr, s.now_tsc)
                                                             : codec_->decode(f.key, seq - 1, ack, tsecr, s.now_tsc);
  // No RST for a bad cookie: a spoofed flood must cost us nothing but the hash.
  if (!accepted) return dropPacket(s, m, DropReason::kBadSynCookie);
  const uint32_t payload = tcpPayloadLength(f);
  if (flags & RTE_TCP_FIN_FLAG) {
    s.ctx.counters->proxy.client_closed_early.inc();
    const rte_ether_addr client_mac = frameSourceMac(m);
    turnIntoReset(m, f);
    const LocalPort& port = s.snap.ports[s.rx_port];
    if (!writeL2(m, f.l2_len, port.vlan, client_mac, port.mac)) return dropPacket(s, m, DropReason::kNoHeadroom);
    queueTx(s, m, s.rx_port);
    return Verdict{VerdictKind::kAnswered, DropReason::kCount, s.rx_port};
  }
  if (payload == 0) {
    // The handshake's ACK: the cookie is valid, but state waits for data (a flood of valid ACKs
    // from real addresses still creates nothing).
    s.ctx.counters->proxy.cookie_acks.inc();
    rte_pktmbuf_free(m);
    return consumed();
  }
  FlowEntry* e = key6 != nullptr ? s.ctx.flows.insertV6(*key6, flow_hash) : s.ctx.flows.insert(f.key, flow_hash);
  if (e == nullptr) return dropPacket(s, m, DropReason::kFlowTableFull);
  if (free_slots_.empty()) {
    s.ctx.flows.erase(e);
    return dropPacket(s, m, DropReason::kProxyFull);
  }
  const uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  e->proxy_phase = ProxyPhase::kBinding;
  e->proxy_slot = slot;
  e->proxy_service = static_cast<uint16_t>(service);
  e->to_client.egress_port = s.rx_port;
  e->client_mac = frameSourceMac(m);
  e->forwarding = ForwardingMode::kFullNat;
  e->state = FlowState::kTcpSynSeen;
  e->to_backend.last_seen_tsc = s.now_tsc;

  Pending& p = slots_[slot];
  p = Pending{};
  p.phase = Pending::Phase::kReadingHead;
  p.flow = e;
  p.client_isn = seq - 1;
  p.our_isn = ack - 1;
  p.next_seq = seq;
  p.accepted = *accepted;
  p.our_shift = std::min(svc.http.window_scale, kMaxWindowScale);
  if (options.has_timestamps) {
    p.client_tsval = options.tsval;
    p.client_tsecr = options.tsecr;
    // Our TSval clock as the client saw it: the cookie's TSval was at most now.
    p.our_ts_base = options.tsecr - nowMs(s.now_tsc);
  }
  // At least 16 (HttpLimits::valid; create() makes every buffer that large).
  p.head_limit = std::max<uint32_t>(std::min(svc.http.max_head_bytes, config_.head_buffer_bytes), 16);
  HttpLimits limits;
  limits.max_head_bytes = p.head_limit;
  limits.max_line_bytes = limits.max_head_bytes;
  p.scanner = HttpHeadScanner(HttpHeadScanner::Kind::kRequest, limits);
  p.head_deadline_tsc = s.now_tsc + headTimeout(svc.http);
  s.ctx.counters->proxy.connections_bound.inc();
  return onClientData(s, m, f, p, svc);
}

// --- Binding: hold segments, read the head ---

bool SynProxy::hold(Pending& p, rte_mbuf* m) {
  if (p.held_count == config_.max_held_segments) return false;
  const size_t slot = static_cast<size_t>(&p - slots_.data());
  held_[slot * config_.max_held_segments + p.held_count++] = m;
  return true;
}

Verdict SynProxy::onClientData(BurstState& s, rte_mbuf* m, ParsedFrame& f, Pending& p, const Service& svc) {
  ProxyCounters& pc = s.ctx.counters->proxy;
  TcpOptions options;
  if (!parseOptions(f, options)) return dropPacket(s, m, DropReason::kMalformed);
  auto* tcp = static_cast<rte_tcp_hdr*>(f.l4);
  if (options.has_timestamps) p.client_tsval = options.tsval;
  const uint8_t client_shift = p.accepted.window_scale == kNoWindowScale ? 0 : p.accepted.window_scale;
  p.client_window = uint32_t{rte_be_to_cpu_16(tcp->rx_win)} << client_shift;

  uint32_t payload = tcpPayloadLength(f);
  uint32_t seq = rte_be_to_cpu_32(tcp->sent_seq);
  // Pure ACKs (duplicates of the handshake's) and retransmissions of held bytes are not held; the
  // bytes are not acknowledged, so the client keeps retransmitting until the splice delivers them.
  // A segment beyond a gap is dropped too: the client fills the gap first.
  if (payload == 0 || seqLeq(seq + payload, p.next_seq) || seqGt(seq, p.next_seq)) {
    pc.segments_duplicate.inc();
    rte_pktmbuf_free(m);
    return consumed();
  }
  if (seqLt(seq, p.next_seq)) {
    const uint32_t overlap = p.next_seq - seq;
    if (!trimFront(m, f, overlap)) return dropPacket(s, m, DropReason::kMalformed);
    pc.segments_duplicate.inc();
    seq += overlap;
    payload -= overlap;
  }
  if (p.phase == Pending::Phase::kConnecting) {
    // Body bytes sent before the backend answered: held as far as room allows, otherwise dropped
    // (the client retransmits them once the splice is up). Their TSvals are not below the first
    // held one (client TSvals rise), so the offset fixed at connect() suits them too.
    if (!hold(p, m)) return dropPacket(s, m, DropReason::kProxyFull);
    pc.segments_held.inc();
    p.next_seq = seq + payload;
    return consumed();
  }
  if (!hold(p, m)) {
    // More segments than we can hold and still no end of head: as good as a too-large head.
    pc.head_too_large.inc();
    rte_pktmbuf_free(m);
    resetClientAndRelease(s.ctx, s.snap, p);
    return consumed();
  }
  pc.segments_held.inc();
  p.next_seq = seq + payload;
  if (options.has_timestamps && (!p.has_held_tsval || seqLt(options.tsval, p.first_held_tsval))) {
    p.first_held_tsval = options.tsval;
    p.has_held_tsval = true;
  }

  // The head's bytes: the segment itself when it is the first one and contiguous (no copy; most
  // requests fit one segment), otherwise the slot's buffer, filled up to one byte past the limit so
  // the scanner can tell "too large".
  const auto* bytes = reinterpret_cast<const char*>(tcpPayload(f));
  const bool single = m->nb_segs == 1;
  char* buffer = head_buffers_.data() + static_cast<size_t>(&p - slots_.data()) * (config_.head_buffer_bytes + kHeadSlack);
  const uint32_t room = p.head_limit + 1 - std::min(p.head_bytes, p.head_limit + 1);
  std::string_view view;
  const bool zero_copy = p.head_bytes == 0 && p.held_count == 1 && single;
  if (zero_copy) {
    view = std::string_view(bytes, payload);
  } else {
    const uint32_t n = std::min(payload, room);
    const uint32_t offset = static_cast<uint32_t>(bytes - rte_pktmbuf_mtod(m, const char*));
    // rte_pktmbuf_read returns a pointer into the mbuf when the range is contiguous, without copying.
    const void* got = rte_pktmbuf_read(m, offset, n, buffer + p.head_bytes);
    if (got == nullptr) {  // shorter than its IPv4 length says: nothing sane to parse
      pc.head_malformed.inc();
      resetClientAndRelease(s.ctx, s.snap, p);
      return consumed();
    }
    if (got != buffer + p.head_bytes) std::memcpy(buffer + p.head_bytes, got, n);
    p.head_bytes += n;
    view = std::string_view(buffer, p.head_bytes);
  }
  const HeadStatus status = p.scanner.scan(view);
  switch (status) {
    case HeadStatus::kIncomplete:
      if (zero_copy) {
        // The zero-copy first segment did not hold the whole head: keep its bytes for the next scan.
        const uint32_t n = std::min(payload, room);
        std::memcpy(buffer, bytes, n);
        p.head_bytes = n;
      }
      return consumed();
    case HeadStatus::kTooLarge:
      pc.head_too_large.inc();
      resetClientAndRelease(s.ctx, s.snap, p);
      return consumed();
    case HeadStatus::kMalformed:
      pc.head_malformed.inc();
      resetClientAndRelease(s.ctx, s.snap, p);
      return consumed();
    case HeadStatus::kComplete:
      break;
  }
  pc.heads_complete.inc();
  if (p.held_count > 1) pc.heads_split.inc();
  return headComplete(s, p, svc, view);
}

// --- Choosing and connecting ---

uint16_t SynProxy::pickOther(const Service& svc, const Pending& p) const {
  const std::span<const uint64_t> tried(p.tried_ids.data(), p.backends_tried);
  if (p.flow->client_v6) return nextUntriedBackend(svc, clientKeyV6(*p.flow), tried);
  return nextUntriedBackend(svc, p.flow->to_backend.key, tried);
}

Verdict SynProxy::headComplete(BurstState& s, Pending& p, const Service& svc, std::string_view head_bytes) {
  ProxyCounters& pc = s.ctx.counters->proxy;
  const HttpRequestHead head = p.scanner.request(head_bytes);
  const StickyInputs sticky{s.ctx.sessions, s.ctx.session_secret, &s.ctx.session_counters, nowSeconds(s.now_tsc)};
  const BackendChoice choice = p.flow->client_v6 ? chooseBackend(svc, head, clientKeyV6(*p.flow), sticky, pc)
                                                 : chooseBackend(svc, head, p.flow->to_backend.key, sticky, pc);
  if (choice.refused) {
    pc.strict_refusals.inc();
    s.ctx.counters->drops[static_cast<size_t>(DropReason::kStickyRefused)].inc();
    resetClientAndRelease(s.ctx, s.snap, p);
    return Verdict{VerdictKind::kDropped, DropReason::kStickyRefused, 0};
  }
  uint16_t backend = choice.backend;
  // The selection table already excludes backends that take no new connections; this catches a
  // next hop not resolved yet (createFlow drops those) and keeps the proxy from holding a client
  // for a backend it cannot reach.
  if (backend != hashing::kNoBackend && !backendUsable(svc.backends[backend])) backend = pickOther(svc, p);
  if (backend == hashing::kNoBackend) {
    s.ctx.counters->drops[static_cast<size_t>(DropReason::kNoBackend)].inc();
    resetClientAndRelease(s.ctx, s.snap, p);
    return Verdict{VerdictKind::kDropped, DropReason::kNoBackend, 0};
  }
  pc.chosen_by[static_cast<size_t>(choice.method)].inc();
  p.sticky_choice = choice.sticky;
  if (!connect(s.ctx, s.snap, p, svc, backend, s.now_tsc)) {
    s.ctx.counters->drops[static_cast<size_t>(DropReason::kNoLocalPort)].inc();
    resetClientAndRelease(s.ctx, s.snap, p);
    return Verdict{VerdictKind::kDropped, DropReason::kNoLocalPort, 0};
  }
  return consumed();
}

bool SynProxy::connect(WorkerContext& ctx, const Snapshot& snap, Pending& p, const Service& svc,
                       uint16_t backend, uint64_t now_tsc) {
  const BackendTarget& b = svc.backends[backend];
  FlowEntry* e = p.flow;
  const bool first_backend = e->local_port_be == 0;
  if (!first_backend && e->local_pool_port != b.egress_port) {
    // The next backend is behind another port: its source endpoint must be one of that port's.
    ctx.releaseLocalEndpoint(*e);
    e->local_port_be = 0;
  }
  if (e->local_port_be == 0 && !ctx.acquireLocalEndpoint(*e, snap, b.egress_port)) return false;
  if (first_backend) ctx.counters->flows_created.inc();
  if (e->has_reply_key) {
    // Another backend: the reply 5-tuple changes. The table cannot re-key an entry, so move the
    // flow to a fresh entry (the erase just freed one, so the insert cannot fail).
    const FlowEntry saved = *e;
    ctx.flows.erase(e);
    if (saved.client_v6) {
      const hashing::FlowKeyV6 key = clientKeyV6(saved);
      e = ctx.flows.insertV6(key, ctx.flows.hashKeyV6(key));
    } else {
      e = ctx.flows.insert(saved.to_backend.key, ctx.flows.hashKey(saved.to_backend.key));
    }
    *e = saved;
    e->has_reply_key = false;
    p.flow = e;
  }
  setBackend(*e, b);
  e->backend_id = b.id;
  addReplyIndex(ctx.flows, e, e->local_address_be, IPPROTO_TCP);
  if (e->client_v6) armNat64(*e);
  ctx.counters->backends[b.counter_slot].new_flows.inc();
  p.phase = Pending::Phase::kConnecting;
  p.attempts = 0;
  if (p.accepted.timestamps) {
    // The SYN's TSval comes from the lcore's rising clock (a 4-tuple may be in TIME_WAIT at the
    // backend), and the held segments' TSvals map onto it: the lowest one exactly, the others above
    // it. A backend completing its handshake drops an ACK whose TSval is below the SYN's (PAWS in
    // SYN-RECEIVED), so the SYN must not be newer than any replayed segment. Retransmitted SYNs
    // repeat this TSval for the same reason.
    p.backend_syn_tsval = backendSynTsval(now_tsc);
    p.client_ts_delta = p.backend_syn_tsval - (p.has_held_tsval ? p.first_held_tsval : p.client_tsval);
  }
  sendSyn(ctx, snap, p);
  p.connect_deadline_tsc = now_tsc + connectTimeout(svc.http);
  return true;
}

uint32_t SynProxy::backendSynTsval(uint64_t now_tsc) {
  const uint32_t now = nowMs(now_tsc) + backend_ts_base_;
  // The TSC only rises on one lcore; the guard keeps the promise even if it were adjusted.
  if (!backend_tsval_issued_ || seqGt(now, last_backend_tsval_)) last_backend_tsval_ = now;
  backend_tsval_issued_ = true;
  return last_backend_tsval_;
}

// The backend's SYN starts from the client's ISN, so client -> backend sequence numbers never change,
// and offers exactly what the client was granted (the backend cannot be given more than the client
// can use). Its MSS leaves room for a timestamps option we may have to insert toward the client. Its
// TSval is ours (see connect()), not the client's.
bool SynProxy::sendSyn(WorkerContext& ctx, const Snapshot& snap, Pending& p) {
  const FlowEntry& e = *p.flow;
  const LocalPort& egress = snap.ports[e.to_backend.egress_port];
  SynSegment syn;
  syn.src_mac = egress.mac;
  syn.dst_mac = e.backend_mac;
  syn.vlan = egress.vlan;
  syn.src_addr_be = e.local_address_be;
  syn.dst_addr_be = e.backend_address_be;
  syn.src_port_be = e.local_port_be;
  syn.dst_port_be = e.backend_port_be;
  syn.seq = p.client_isn;
  syn.window = static_cast<uint16_t>(std::min<uint32_t>(p.client_window, 0xffff));
  syn.mss = static_cast<uint16_t>(p.accepted.mss - (p.accepted.timestamps ? kTsOptionSpace : 0));
  syn.window_scale = p.accepted.window_scale;
  syn.sack_permitted = p.accepted.sack_permitted;
  syn.timestamps = p.accepted.timestamps;
  syn.tsval = p.backend_syn_tsval;
  const size_t slot = static_cast<size_t>(&p - slots_.data());
  rte_mbuf* any_held = held_[slot * config_.max_held_segments];
  ++p.attempts;
  ctx.counters->proxy.backend_syns.inc();
  rte_mbuf* m = buildSyn(any_held->pool, syn);
  if (m == nullptr) {
    // Pool empty: counted as a transmit failure; the retransmission timer tries again.
    ctx.counters->drops[static_cast<size_t>(DropReason::kTxFull)].inc();
    return false;
  }
  queueTx(ctx, m, e.to_backend.egress_port);
  return true;
}

void SynProxy::backendFailed(WorkerContext& ctx, const Snapshot& snap, Pending& p, uint64_t now_tsc) {
  ProxyCounters& pc = ctx.counters->proxy;
  if (p.backends_tried < kMaxBackendsTried) p.tried_ids[p.backends_tried++] = p.flow->backend_id;
  if (p.sticky_choice) {
    pc.rebinds[static_cast<size_t>(RebindCause::kConnectFailed)].inc();
    p.sticky_choice = false;
  }
  const Service* svc = serviceOf(snap, *p.flow);
  const uint32_t limit = svc == nullptr ? 0 : std::min<uint32_t>(svc->http.max_backends_tried, kMaxBackendsTried);
  const uint16_t next = p.backends_tried < limit ? pickOther(*svc, p) : hashing::kNoBackend;
  if (next == hashing::kNoBackend) {
    resetClientAndRelease(ctx, snap, p);
    return;
  }
  pc.backend_retries_other.inc();
  if (!connect(ctx, snap, p, *svc, next, now_tsc)) resetClientAndRelease(ctx, snap, p);
}

// --- Backend answers ---

Verdict SynProxy::onBackendSegment(BurstState& s, rte_mbuf* m, ParsedFrame& f, FlowEntry* e) {
  Pending& p = slots_[e->proxy_slot];
  if (p.phase != Pending::Phase::kConnecting) return dropPacket(s, m, DropReason::kNoFlow);
  const auto* tcp = static_cast<const rte_tcp_hdr*>(f.l4);
  const uint8_t flags = f.tcp_flags;
  // Only an answer to our SYN counts (RFC 9293 3.10.7.3: ACK of our ISN + 1); anything else is stale.
  if (!(flags & RTE_TCP_ACK_FLAG) || rte_be_to_cpu_32(tcp->recv_ack) != p.client_isn + 1) {
    return dropPacket(s, m, DropReason::kNoFlow);
  }
  if (flags & RTE_TCP_RST_FLAG) {
    s.ctx.counters->proxy.backend_refused.inc();
    rte_pktmbuf_free(m);
    backendFailed(s.ctx, s.snap, p, s.now_tsc);
    return consumed();
  }
  if (!(flags & RTE_TCP_SYN_FLAG)) return dropPacket(s, m, DropReason::kNoFlow);
  TcpOptions options;
  if (!parseOptions(f, options)) return dropPacket(s, m, DropReason::kMalformed);
  const uint32_t backend_isn = rte_be_to_cpu_32(tcp->sent_seq);
  rte_pktmbuf_free(m);

  SpliceState& st = e->splice;
  st = SpliceState{};
  st.seq_delta = p.our_isn - backend_isn;
  const bool client_ws = p.accepted.window_scale != kNoWindowScale;
  const bool backend_ws = client_ws && options.has_window_scale;
  st.client_shift = client_ws ? p.accepted.window_scale : 0;
  st.backend_reads_shift = backend_ws ? p.accepted.window_scale : 0;
  st.backend_shift = backend_ws ? std::min(options.window_scale, kMaxWindowScale) : 0;
  st.client_reads_shift = client_ws ? p.our_shift : 0;
  if (p.accepted.timestamps) {
    if (options.has_timestamps) {
      st.flags |= SpliceState::kTranslateTs;
      // The cookie's TSval, which the held segments and every ACK until the splice echo, maps exactly
      // onto the SYN-ACK's TSval. Linux (6.17 on, TcpExtTSEcrRejected) drops a handshake-completing
      // ACK whose TSecr lies outside the TSvals of the SYN-ACKs it sent, so mapping by elapsed time
      // (our clock at the SYN-ACK onto its TSval) made the replay's TSecr a few ms too old whenever
      // the millisecond changed while connecting, and the client waited for RTO retransmissions
      // until the backend retransmitted its SYN-ACK. Our clock, as the client sees it, just pauses
      // for the connect; it never goes back (backend TSvals only grow from the SYN-ACK's).
      st.ts_delta = p.client_tsecr - options.tsval;
      // And the client's TSvals into the clock our SYN started (connect()).
      st.client_ts_delta = p.client_ts_delta;
    } else {
      st.flags |= SpliceState::kInsertTs;
      st.our_ts_base = p.our_ts_base;
      st.client_tsval = p.client_tsval;
    }
  }
  if (p.accepted.sack_permitted && !options.sack_permitted) st.flags |= SpliceState::kStripSack;
  e->proxy_phase = ProxyPhase::kSpliced;
  s.ctx.counters->proxy.connections_spliced.inc();

  // Replay: each held segment's ACK (our ISN + 1) becomes the backend's ISN + 1, which completes the
  // backend's handshake with the first one. The segments came in on the client's port, and what
  // forwardSpliced answers them with (a segment too big for the backend link is refused to the
  // client) leaves on the rx port with its MAC and VLAN: the client's, not this SYN-ACK's.
  BurstState from_client = s;
  from_client.rx_port = e->to_client.egress_port;
  const size_t slot = static_cast<size_t>(&p - slots_.data());
  rte_mbuf** held = &held_[slot * config_.max_held_segments];
  for (uint16_t i = 0; i < p.held_count; ++i) {
    rte_mbuf* h = held[i];
    held[i] = nullptr;
    ParsedFrame hf;
    parseFrame(h, hf);
    forwardSpliced(from_client, h, hf, e);
  }
  p.held_count = 0;
  release(s.ctx, p, /*erase_flow=*/false);
  return consumed();
}

// --- Set-Cookie learning ---

void SynProxy::learnFromResponse(BurstState& s, const rte_mbuf* m, const ParsedFrame& f, const FlowEntry& e) {
  if (s.ctx.sessions == nullptr || s.ctx.session_secret == nullptr) return;
  const uint32_t payload = tcpPayloadLength(f);
  constexpr std::string_view kHttp1 = "HTTP/1.";
  if (payload < kHttp1.size()) return;
  const auto* bytes = reinterpret_cast<const char*>(tcpPayload(f));
  // Contiguous bytes only: the payload must lie in the first mbuf segment.
  if (bytes + payload > rte_pktmbuf_mtod(m, const char*) + rte_pktmbuf_data_len(m)) return;
  if (std::string_view(bytes, kHttp1.size()) != kHttp1) return;
  const Service* svc = serviceOf(s.snap, e);
  if (svc == nullptr || svc->http.learn_cookie.empty()) return;
  // Only this segment is examined: a response head spread over several segments (rare for the
  // heads that set cookies) is not learnt. Bounded by the segment and by max_head_bytes.
  HttpLimits limits;
  limits.max_head_bytes = std::max<uint32_t>(svc->http.max_head_bytes, 16);
  limits.max_line_bytes = limits.max_head_bytes;
  HttpHeadScanner scanner(HttpHeadScanner::Kind::kResponse, limits);
  const std::string_view received(bytes, payload);
  if (scanner.scan(received) != HeadStatus::kComplete) return;
  const HttpResponseHead head = scanner.response(received);
  const std::optional<std::string_view> value = findSetCookie(head, svc->http.learn_cookie);
  if (!value) return;
  // The attributes follow the value on its line, inside the head.
  const char* line_end = head.fields.data() + head.fields.size();
  const char* after = value->data() + value->size();
  const std::string_view rest(after, static_cast<size_t>(std::find(after, line_end, '\r') - after));
  const SessionKey key = sessionKey(*value, *s.ctx.session_secret);
  ProxyCounters& pc = s.ctx.counters->proxy;
  if (setCookieExpires(*value, rest)) {
    if (s.ctx.sessions->erase(key, s.ctx.session_counters) == SessionEraseResult::kErased) {
      pc.sessions_forgotten.inc();
    }
    return;
  }
  const SessionInsertResult r = s.ctx.sessions->insert(
      key, SessionValue{e.backend_id, svc->http.session_service}, nowSeconds(s.now_tsc), s.ctx.session_counters);
  if (r != SessionInsertResult::kBusy && r != SessionInsertResult::kBadService) pc.sessions_learned.inc();
}

// --- Timers and release ---

bool SynProxy::poll(WorkerContext& ctx, const Snapshot& snap, uint64_t now_tsc) {
  if (free_slots_.size() == capacity_) return false;
  ProxyCounters& pc = ctx.counters->proxy;
  const uint32_t n = std::min(config_.sweep_slots, capacity_);
  for (uint32_t k = 0; k < n; ++k) {
    Pending& p = slots_[sweep_cursor_];
    sweep_cursor_ = sweep_cursor_ + 1 == capacity_ ? 0 : sweep_cursor_ + 1;
    if (p.phase == Pending::Phase::kFree) continue;
    const Service* svc = serviceOf(snap, *p.flow);
    if (svc == nullptr) {  // the service is gone: nobody can take this connection
      resetClientAndRelease(ctx, snap, p);
      continue;
    }
    // The proxy's own timers end a binding; keep the flow table's expiry from ending it first.
    p.flow->to_backend.last_seen_tsc = now_tsc;
    if (p.phase == Pending::Phase::kReadingHead) {
      if (now_tsc - p.head_deadline_tsc < (uint64_t{1} << 63)) {
        pc.head_timeouts.inc();
        resetClientAndRelease(ctx, snap, p);
      }
      continue;
    }
    if (now_tsc - p.connect_deadline_tsc >= (uint64_t{1} << 63)) continue;  // not due yet
    if (p.attempts < std::max<uint8_t>(svc->http.connect_attempts, 1)) {
      sendSyn(ctx, snap, p);
      p.connect_deadline_tsc = now_tsc + connectTimeout(svc->http);
    } else {
      pc.backend_timeouts.inc();
      backendFailed(ctx, snap, p, now_tsc);
    }
  }
  return true;
}

void SynProxy::abandon(WorkerContext& ctx, const FlowEntry& e) {
  if (e.proxy_phase != ProxyPhase::kBinding || e.proxy_slot >= capacity_) return;
  Pending& p = slots_[e.proxy_slot];
  if (p.phase == Pending::Phase::kFree || p.flow != &e) return;
  if (p.phase == Pending::Phase::kReadingHead) {
    ctx.counters->proxy.head_timeouts.inc();
  } else {
    ctx.counters->proxy.backend_timeouts.inc();
  }
  release(ctx, p, /*erase_flow=*/false);
}

void SynProxy::resetClientAndRelease(WorkerContext& ctx, const Snapshot& snap, Pending& p) {
  const size_t slot = static_cast<size_t>(&p - slots_.data());
  rte_mbuf** held = &held_[slot * config_.max_held_segments];
  if (p.held_count != 0) {
    // The first held segment becomes the RST: its ACK is our ISN + 1, which the client accepts.
    rte_mbuf* m = held[0];
    held[0] = held[p.held_count - 1];
    held[p.held_count - 1] = nullptr;
    --p.held_count;
    ParsedFrame f;
    parseFrame(m, f);
    const FlowEntry& e = *p.flow;
    const LocalPort& port = snap.ports[e.to_client.egress_port];
    turnIntoReset(m, f);
    if (writeL2(m, f.l2_len, port.vlan, e.client_mac, port.mac)) {
      queueTx(ctx, m, e.to_client.egress_port);
    } else {
      ctx.counters->drops[static_cast<size_t>(DropReason::kNoHeadroom)].inc();
      rte_pktmbuf_free(m);
    }
  }
  release(ctx, p, /*erase_flow=*/true);
}

void SynProxy::release(WorkerContext& ctx, Pending& p, bool erase_flow) {
  const size_t slot = static_cast<size_t>(&p - slots_.data());
  rte_mbuf** held = &held_[slot * config_.max_held_segments];
  for (uint16_t i = 0; i < p.held_count; ++i) {
    rte_pktmbuf_free(held[i]);
    held[i] = nullptr;
  }
  if (erase_flow && p.flow != nullptr) {
    ctx.releaseLocalEndpoint(*p.flow);
    ctx.flows.erase(p.flow);
  } else if (p.flow != nullptr && p.flow->proxy_phase == ProxyPhase::kBinding) {
    p.flow->proxy_phase = ProxyPhase::kNone;
  }
  p.phase = Pending::Phase::kFree;
  p.held_count = 0;
  p.flow = nullptr;
  free_slots_.push_back(static_cast<uint32_t>(slot));
}

}  // namespace lb::dataplane
