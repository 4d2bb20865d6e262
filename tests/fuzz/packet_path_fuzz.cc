// libFuzzer target for the whole packet path (dataplane/packet_processor.h): each input is a few
// frames fed through processBurst in one or more bursts, with a snapshot holding an HTTP service
// (SYN proxy, learnt and hashed cookies), a plain full-NAT TCP service and a UDP service, each on an
// IPv4 VIP and on an IPv6 one (NAT64; the two HTTP services share their sessions), followed
// optionally by the worker loop's timer work (SynProxy::poll, flow expiry). Built only with
// -Dfuzz=true under clang (see the HTTP section of tests/dataplane/meson.build for the commands).
// It checks, beyond ASan/UBSan's memory checks:
//   - every mbuf comes back: after each input the mempool's in-use count equals its start value
//     (everything transmitted, held by the proxy or queued is freed when the worker is torn down);
//   - every transmitted mbuf passes rte_mbuf_check and is one segment whose data lies in its buffer.
// Received frames sit in external buffers allocated to their exact size (plus headroom and
// tailroom a flag byte can take away), so a read past a frame's end traps in ASan instead of
// landing in the next mbuf of the pool.
//
// Input layout: records of [control byte][length, 2 bytes big-endian][frame]; a truncated last record
// is cut to the bytes present. Control bits: 0 = start a new burst before this frame; 1 = received on
// port 1 (VLAN 10) instead of port 0; 2-4 = advance the clock before the burst (0, 1 ms, 100 ms, 1 s,
// 5 s, 30 s, 2 min, 1 h); 5 = run the timers after the burst; 6 = no tailroom; 7 = no headroom.
// The SYN-cookie key, the session secret and the start time are fixed, so a recorded conversation
// (the seeds in tests/fuzz/corpus/packet_path/) replays with valid cookies and the same local ports.
//
// With PACKET_PATH_FUZZ_WRITE_SEEDS=DIR set, the binary writes those seeds into DIR and exits.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <string>
#include <tuple>
#include <vector>

#include "dataplane/packet_processor.h"
#include "dataplane/session_table.h"
#include "dataplane/ipv4_fragments.h"
#include "dataplane/syn_proxy.h"
#include "dataplane/worker_context.h"
#include "hashing/selector.h"
#include "tests/dataplane/packet_builder.h"
#include "tests/dataplane/fragment_frames.h"
#include "tests/dataplane/proxy_test_frames.h"

namespace {

namespace dp = lb::dataplane;
using dp::test::Bytes;
using dp::test::ipv4;

constexpr uint32_t kPortIp = ipv4(10, 99, 0, 2);
constexpr uint32_t kPort1Ip = ipv4(10, 98, 0, 2);
constexpr uint16_t kPort1Vlan = 10;
constexpr uint32_t kVip = ipv4(10, 99, 0, 100);
constexpr uint32_t kClientIp = ipv4(10, 99, 0, 200);
constexpr uint16_t kHttpPort = 80;
constexpr uint16_t kTcpPort = 81;
constexpr uint16_t kDsr6Port = 82;   // IPv6 only: DSR to dual-stack backends
constexpr uint16_t kIpip6Port = 83;  // IPv6 only: 6in4 to dual-stack backends
constexpr uint16_t kUdpPort = 9000;
constexpr uint16_t kBackendPort = 8080;
constexpr uint16_t kUdpBackendPort = 9001;
constexpr uint8_t kBackendHosts[] = {11, 12, 13};
// IPv6 clients (NAT64 full-NAT): port 0's address6 and the VIP of IPv6 copies of the TCP and UDP services.
constexpr dp::Ipv6Bytes kPortIp6 = {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
constexpr dp::Ipv6Bytes kVip6 = {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
constexpr dp::Ipv6Bytes kClientIp6 = {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc1};
constexpr uint16_t kLocalPortMin = 10000;
constexpr uint16_t kLocalPortMax = 59999;
constexpr uint64_t kTicksPerSecond = 1'000'000;  // the fuzzer's clock: 1 tick = 1 us, independent of the host
constexpr uint64_t kStartTsc = 1000 * kTicksPerSecond;
constexpr dp::SipKey kMaster{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
constexpr uint64_t kClockSteps[8] = {0, 1'000, 100'000, 1'000'000, 5'000'000, 30'000'000, 120'000'000,
                                     3'600'000'000ULL};
constexpr size_t kMaxFrames = 64;
constexpr uint16_t kMaxFrameBytes = 2048;
constexpr uint16_t kTailroom = 64;  // a SYN-ACK may carry up to 20 bytes more options than its SYN
constexpr unsigned kPoolMbufs = 4095;

namespace ctl {
constexpr uint8_t kNewBurst = 1;
constexpr uint8_t kPort1 = 2;
constexpr uint8_t kTimers = 32;
constexpr uint8_t kNoTailroom = 64;
constexpr uint8_t kNoHeadroom = 128;
constexpr uint8_t clock(uint8_t step) { return static_cast<uint8_t>(step << 2); }
}  // namespace ctl

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "packet_path_fuzz: %s\n", what);
    std::abort();
  }
}

rte_mempool* g_pool = nullptr;
rte_mempool* g_indirect_pool = nullptr;  // for splitting reassembled datagrams (Ipv4Fragments::split)
dp::Snapshot* g_snap = nullptr;
const dp::SessionSecret* g_secret = nullptr;
dp::LcoreCounters* g_counters = nullptr;

rte_ether_addr portMac(uint16_t port) { return dp::test::testMac(static_cast<uint16_t>(0x0101 + port)); }
rte_ether_addr clientMac() { return dp::test::testMac(0xc1c1); }
rte_ether_addr backendMac(uint8_t host) { return dp::test::testMac(host); }

dp::Service makeService(uint16_t port, dp::Protocol protocol, uint16_t backend_port, bool http, uint32_t first_slot) {
  std::vector<lb::hashing::WeightedBackend> weighted;
  for (uint8_t h : kBackendHosts) weighted.push_back({.id = 1000u + h, .weight = 1});
  auto selector = lb::hashing::buildSelector(weighted, lb::hashing::SelectorParams{.maglev_size = 251});
  check(selector.ok(), "buildSelector");
  dp::Service svc{.vip_be = rte_cpu_to_be_32(kVip),
                  .port_be = rte_cpu_to_be_16(port),
                  .protocol = protocol,
                  .forwarding = dp::ForwardingMode::kFullNat,
                  .key = dp::BalanceKey::kFiveTuple,
                  .hash_seed = 7,
                  .selector = *std::move(selector),
                  .backends = {}};
  // Ids ascend with the host octet, so the id-sorted order is kBackendHosts' order.
  for (size_t i = 0; i < std::size(kBackendHosts); ++i) {
    dp::BackendTarget t;
    t.address_be = rte_cpu_to_be_32(ipv4(10, 99, 0, kBackendHosts[i]));
    t.port_be = rte_cpu_to_be_16(backend_port);
    t.egress_port = 0;
    t.next_hop_mac = backendMac(kBackendHosts[i]);
    t.next_hop_resolved = true;
    t.counter_slot = first_slot + static_cast<uint32_t>(i);
    t.id = 1000u + kBackendHosts[i];
    svc.backends.push_back(t);
  }
  if (http) {
    dp::HttpStickyPolicy& p = svc.http;
    p.enabled = true;
    p.methods = {dp::StickyMethod::kLearnCookie, dp::StickyMethod::kHashCookie, dp::StickyMethod::kFiveTuple};
    p.method_count = 3;
    p.learn_cookie = "SID";
    p.hash_cookie = "uid";
    p.session_service = 0;
    p.max_head_bytes = 1024;
    p.head_timeout_tsc = 5 * kTicksPerSecond;
    p.connect_timeout_tsc = kTicksPerSecond / 2;
    p.connect_attempts = 2;
    p.max_backends_tried = 2;
  }
  return svc;
}

dp::Snapshot* makeSnapshot() {
  auto* snap = new dp::Snapshot();
  snap->generation = 1;
  snap->services.push_back(makeService(kHttpPort, dp::Protocol::kTcp, kBackendPort, true, 0));
  snap->services.push_back(makeService(kTcpPort, dp::Protocol::kTcp, kBackendPort, false, 4));
  snap->services.push_back(makeService(kUdpPort, dp::Protocol::kUdp, kUdpBackendPort, false, 8));
  for (auto [port, protocol, backend_port, http, first_slot] :
       {std::tuple(kTcpPort, dp::Protocol::kTcp, kBackendPort, false, 12u),
        std::tuple(kUdpPort, dp::Protocol::kUdp, kUdpBackendPort, false, 16u),
        std::tuple(kHttpPort, dp::Protocol::kTcp, kBackendPort, true, 20u)}) {
    dp::Service v6 = makeService(port, protocol, backend_port, http, first_slot);
    v6.v6 = true;
    v6.vip6 = kVip6;
    v6.vip_be = 0;
    snap->services.push_back(std::move(v6));
  }
  for (auto [port, mode, first_slot] : {std::tuple(kDsr6Port, dp::ForwardingMode::kDsrL2, 24u),
                                        std::tuple(kIpip6Port, dp::ForwardingMode::kDsrIpip, 28u)}) {
    dp::Service direct = makeService(port, dp::Protocol::kTcp, port, false, first_slot);
    direct.forwarding = mode;
    direct.v6 = true;
    direct.vip6 = kVip6;
    direct.vip_be = 0;
    snap->services.push_back(std::move(direct));
  }
  snap->service_index.build(snap->services);
  snap->ports[0] = {.address_be = rte_cpu_to_be_32(kPortIp), .netmask_be = RTE_BE32(0xffffff00), .mac = portMac(0),
                    .vlan = 0, .local_first = kPortIp, .local_count = 1};
  snap->ports[1] = {.address_be = rte_cpu_to_be_32(kPort1Ip), .netmask_be = RTE_BE32(0xffffff00), .mac = portMac(1),
                    .vlan = kPort1Vlan, .local_first = kPort1Ip, .local_count = 1};
  snap->ports[0].has_address6 = true;
  snap->ports[0].address6 = kPortIp6;
  snap->port_count = 2;
  snap->timeouts = {.tcp_syn_tsc = 5 * kTicksPerSecond,
                    .tcp_established_tsc = 300 * kTicksPerSecond,
                    .tcp_closing_tsc = 10 * kTicksPerSecond,
                    .udp_tsc = 30 * kTicksPerSecond};
  return snap;
}

// An external buffer of exactly headroom + frame + tailroom bytes, freed with the mbuf.
struct ExtBuffer {
  rte_mbuf_ext_shared_info shinfo;
  uint8_t* bytes;
};

void freeExtBuffer(void* /*addr*/, void* opaque) {
  auto* ext = static_cast<ExtBuffer*>(opaque);
  delete[] ext->bytes;
  delete ext;
}

rte_mbuf* toMbuf(const uint8_t* frame, uint16_t len, bool headroom, bool tailroom) {
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  check(m != nullptr, "mbuf pool exhausted");
  const uint16_t head = headroom ? RTE_PKTMBUF_HEADROOM : 0;
  const uint16_t buf_len = static_cast<uint16_t>(head + len + (tailroom ? kTailroom : 0));
  auto* ext = new ExtBuffer{};
  ext->bytes = new uint8_t[buf_len == 0 ? 1 : buf_len];
  ext->shinfo.free_cb = freeExtBuffer;
  ext->shinfo.fcb_opaque = ext;
  rte_mbuf_ext_refcnt_set(&ext->shinfo, 1);
  // IOVA as VA: nothing does DMA here, and rte_mbuf_check refuses a zero IOVA.
  rte_pktmbuf_attach_extbuf(m, ext->bytes, reinterpret_cast<uintptr_t>(ext->bytes), buf_len, &ext->shinfo);
  m->data_off = head;
  m->data_len = len;
  m->pkt_len = len;
  if (len != 0) std::memcpy(ext->bytes + head, frame, len);
  return m;
}

// One worker, fresh for every input so that inputs are independent (libFuzzer needs determinism).
class Harness {
 public:
  Harness()
      : ctx_(std::make_unique<dp::WorkerContext>(0, dp::LocalPortPartition{kLocalPortMin, kLocalPortMax, 1}, 1024)) {
    g_counters->~LcoreCounters();
    ctx_->counters = new (g_counters) dp::LcoreCounters();
    auto table = dp::SessionTable::create(dp::SessionTableConfig{.capacity = 1024});
    check(table.ok(), "SessionTable::create");
    sessions_ = *std::move(table);
    // A learnt session: SID=s1 lives on the second backend.
    sessions_->insert(dp::sessionKey("s1", *g_secret), dp::SessionValue{1000u + kBackendHosts[1], 0},
                      static_cast<uint32_t>(kStartTsc / kTicksPerSecond), ctx_->session_counters);
    ctx_->sessions = sessions_.get();
    ctx_->session_secret = g_secret;
    ctx_->syn_cookie_master = kMaster;
    dp::SynProxyConfig config;
    config.capacity = 8;
    config.head_buffer_bytes = 2048;
    config.max_held_segments = 4;
    config.sweep_slots = 8;
    config.clock = dp::SynCookieClock{kTicksPerSecond, 64};
    config.cookie_master = kMaster;
    auto proxy = dp::SynProxy::create(config);
    check(proxy.ok(), "SynProxy::create");
    ctx_->proxy = *std::move(proxy);
    dp::Ipv4FragmentsConfig fragments;
    fragments.max_datagrams = 8;
    fragments.timeout_tsc = kTicksPerSecond;
    fragments.indirect_pool = g_indirect_pool;
    auto reassembly = dp::Ipv4Fragments::create(fragments);
    check(reassembly.ok(), "Ipv4Fragments::create");
    ctx_->fragments = *std::move(reassembly);
  }
  ~Harness() {
    freeTx();
    ctx_->proxy.reset();      // frees the segments it holds
    ctx_->fragments.reset();  // and the fragments of incomplete datagrams
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  void burst(std::vector<rte_mbuf*>& mbufs, uint16_t rx_port) {
    if (mbufs.empty()) return;
    dp::processBurst(*ctx_, *g_snap, rx_port, mbufs.data(), static_cast<uint16_t>(mbufs.size()), now_, nullptr);
    mbufs.clear();
  }
  // The worker loop's timer work (dataplane/worker.cc).
  void timers() {
    ctx_->proxy->poll(*ctx_, *g_snap, now_);
    ctx_->fragments->expire(now_);
    dp::WorkerContext& ctx = *ctx_;
    ctx.flows.expireSlice(now_, g_snap->timeouts, 1024, [&ctx](const dp::FlowEntry& e) {
      if (e.proxy_phase == dp::ProxyPhase::kBinding && ctx.proxy) ctx.proxy->abandon(ctx, e);
      ctx.releaseLocalEndpoint(e);
    });
  }
  void advance(uint64_t ticks) { now_ += ticks; }

  // Checks and frees everything transmitted; returns the frames when `keep` is set (seed recording).
  std::vector<Bytes> freeTx(bool keep = false) {
    std::vector<Bytes> out;
    for (auto& batch : ctx_->tx) {
      for (uint16_t i = 0; i < batch.count; ++i) {
        rte_mbuf* m = batch.packets[i];
        const char* reason = nullptr;
        check(rte_mbuf_check(m, 1, &reason) == 0, reason != nullptr ? reason : "rte_mbuf_check");
        check(m->nb_segs == 1 && m->pkt_len == m->data_len, "transmitted mbuf is not one whole segment");
        check(uint32_t{m->data_off} + m->data_len <= m->buf_len, "transmitted data past its buffer");
        if (keep) out.push_back(dp::test::fromMbuf(m));
        rte_pktmbuf_free(m);
      }
      batch.count = 0;
      batch.bytes = 0;
    }
    return out;
  }

 private:
  std::unique_ptr<dp::WorkerContext> ctx_;
  std::unique_ptr<dp::SessionTable> sessions_;
  uint64_t now_ = kStartTsc;
};

// Runs one input; with `tx_log`, also returns what each burst transmitted (seed recording).
void runInput(const uint8_t* data, size_t size, std::vector<std::vector<Bytes>>* tx_log) {
  const unsigned in_use_before = rte_mempool_in_use_count(g_pool);
  {
    Harness h;
    std::vector<rte_mbuf*> pending;
    uint16_t pending_port = 0;
    bool pending_timers = false;
    const auto flush = [&] {
      h.burst(pending, pending_port);
      if (pending_timers) h.timers();
      pending_timers = false;
      if (tx_log != nullptr) {
        tx_log->push_back(h.freeTx(true));
      } else {
        h.freeTx();
      }
    };
    size_t pos = 0;
    for (size_t frames = 0; frames < kMaxFrames && pos < size; ++frames) {
      const uint8_t control = data[pos++];
      uint16_t len = 0;
      if (pos + 2 <= size) len = static_cast<uint16_t>(data[pos] << 8 | data[pos + 1]);
      pos = std::min(size, pos + 2);
      len = static_cast<uint16_t>(std::min<size_t>({len, size - pos, kMaxFrameBytes}));
      const uint16_t port = (control & ctl::kPort1) ? 1 : 0;
      if ((control & ctl::kNewBurst) || port != pending_port || pending.size() == dp::kMaxBurst) {
        flush();
        h.advance(kClockSteps[(control >> 2) & 7]);
      }
      pending_port = port;
      pending_timers = pending_timers || (control & ctl::kTimers);
      pending.push_back(toMbuf(data + pos, len, !(control & ctl::kNoHeadroom), !(control & ctl::kNoTailroom)));
      pos += len;
    }
    flush();
  }
  check(rte_mempool_in_use_count(g_pool) == in_use_before, "mbufs leaked: mempool in-use count not back to start");
}

// --- seeds: valid conversations recorded against this harness -------------------------------------

struct SeedWriter {
  std::vector<uint8_t> input;
  void frame(uint8_t control, const Bytes& f) {
    input.push_back(control);
    input.push_back(static_cast<uint8_t>(f.size() >> 8));
    input.push_back(static_cast<uint8_t>(f.size()));
    input.insert(input.end(), f.begin(), f.end());
  }
};

// Replays `input` and returns the frames the last burst transmitted, decoded.
std::vector<dp::test::DecodedSegment> lastTx(const std::vector<uint8_t>& input) {
  std::vector<std::vector<Bytes>> log;
  runInput(input.data(), input.size(), &log);
  std::vector<dp::test::DecodedSegment> out;
  if (!log.empty()) {
    for (const Bytes& f : log.back()) out.push_back(dp::test::decodeSegment(f));
  }
  return out;
}

dp::test::Segment clientSeg(uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, Bytes options,
                            std::string payload = {}, bool v6 = false) {
  dp::test::Segment s;
  s.src_mac = clientMac();
  s.dst_mac = portMac(0);
  s.src = kClientIp;
  s.dst = kVip;
  s.v6 = v6;
  s.src6 = kClientIp6;
  s.dst6 = kVip6;
  s.sport = 40000;
  s.dport = dport;
  s.flags = flags;
  s.seq = seq;
  s.ack = ack;
  s.window = 502;
  s.options = std::move(options);
  s.payload = std::move(payload);
  return s;
}

dp::test::Segment backendSeg(const dp::test::DecodedSegment& syn, uint8_t flags, uint32_t seq, uint32_t ack,
                             Bytes options, std::string payload = {}) {
  return dp::test::answering(syn, flags, seq, ack, 1000, std::move(options), std::move(payload));
}

const dp::test::DecodedSegment* findFlags(const std::vector<dp::test::DecodedSegment>& tx, uint8_t flags) {
  for (const auto& d : tx) {
    if (d.ok && d.flags == flags) return &d;
  }
  return nullptr;
}

constexpr uint8_t kSyn = RTE_TCP_SYN_FLAG;
constexpr uint8_t kSynAck = RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG;
constexpr uint8_t kAck = RTE_TCP_ACK_FLAG;
constexpr uint8_t kPshAck = RTE_TCP_PSH_FLAG | RTE_TCP_ACK_FLAG;
constexpr uint8_t kFinAck = RTE_TCP_FIN_FLAG | RTE_TCP_ACK_FLAG;

// An HTTP conversation through the SYN proxy: the head in `parts` (one segment each), the backend's
// response, FINs both ways; from the IPv6 client to the IPv6 VIP with `v6`.
// `backend_host`: where the head's cookie must send it (0: any).
std::vector<uint8_t> httpConversation(const std::vector<std::string>& parts, const std::string& response,
                                      uint8_t backend_host, bool v6 = false) {
  namespace t = dp::test;
  SeedWriter w;
  auto clientSeg = [v6](uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, Bytes options,
                        std::string payload = {}) {
    return ::clientSeg(dport, flags, seq, ack, std::move(options), std::move(payload), v6);
  };
  const uint32_t isn = 0xfffffff0u;  // sequence numbers wrap during the conversation
  w.frame(ctl::kNewBurst, t::buildSegment(clientSeg(kHttpPort, kSyn, isn, 0, t::synOptions(1460, 7, true, true, 1000))));
  const auto first_tx = lastTx(w.input);
  const auto* syn_ack = findFlags(first_tx, kSynAck);
  check(syn_ack != nullptr, "seed: no SYN-ACK");
  const uint32_t ours = syn_ack->seq;
  const uint32_t our_ts = syn_ack->options.tsval;
  w.frame(ctl::kNewBurst, t::buildSegment(clientSeg(kHttpPort, kAck, isn + 1, ours + 1, t::timestampOption(1001, our_ts))));
  uint32_t offset = 0;
  for (const std::string& part : parts) {
    w.frame(ctl::kNewBurst,
            t::buildSegment(clientSeg(kHttpPort, kPshAck, isn + 1 + offset, ours + 1, t::timestampOption(1002, our_ts), part)));
    offset += static_cast<uint32_t>(part.size());
  }
  const auto tx = lastTx(w.input);
  const auto* syn = findFlags(tx, kSyn);
  check(syn != nullptr, "seed: no SYN to a backend");
  const dp::test::DecodedSegment backend_syn = *syn;
  check(backend_host == 0 || backend_syn.dst == ipv4(10, 99, 0, backend_host), "seed: SYN not to the session's backend");
  const uint32_t bisn = 0x7000;
  w.frame(ctl::kNewBurst, t::buildSegment(backendSeg(backend_syn, kSynAck, bisn, isn + 1,
                                                     t::synOptions(1460, 9, true, true, 5000, 1002))));
  w.frame(ctl::kNewBurst, t::buildSegment(backendSeg(backend_syn, kPshAck, bisn + 1, isn + 1 + offset,
                                                     t::timestampOption(5001, 1002), response)));
  const uint32_t resp = static_cast<uint32_t>(response.size());
  w.frame(ctl::kNewBurst, t::buildSegment(clientSeg(kHttpPort, kFinAck, isn + 1 + offset, ours + 1 + resp,
                                                    t::timestampOption(1003, our_ts + 1))));
  w.frame(ctl::kNewBurst | ctl::kTimers,
          t::buildSegment(backendSeg(backend_syn, kFinAck, bisn + 1 + resp, isn + 2 + offset, t::timestampOption(5002, 1003))));
  const auto last = lastTx(w.input);
  check(findFlags(last, kFinAck) != nullptr, "seed: the backend's FIN did not reach the client");
  return w.input;
}

std::vector<uint8_t> plainTcpConversation() {
  namespace t = dp::test;
  SeedWriter w;
  w.frame(ctl::kNewBurst, t::buildSegment(clientSeg(kTcpPort, kSyn, 100, 0, t::synOptions(1460, 7, true, true, 1))));
  const auto first_tx = lastTx(w.input);
  const auto* syn = findFlags(first_tx, kSyn);
  check(syn != nullptr, "seed: SYN not forwarded");
  const dp::test::DecodedSegment s = *syn;
  w.frame(ctl::kNewBurst, t::buildSegment(backendSeg(s, kSynAck, 900, 101, t::synOptions(1460, 7, true, true, 50, 1))));
  w.frame(ctl::kNewBurst, t::buildSegment(clientSeg(kTcpPort, kAck, 101, 901, t::timestampOption(2, 50))));
  w.frame(0, t::buildSegment(clientSeg(kTcpPort, kPshAck, 101, 901, t::timestampOption(2, 50), "hello")));
  w.frame(ctl::kNewBurst, t::buildSegment(backendSeg(s, kPshAck, 901, 106, t::timestampOption(51, 2), "world")));
  w.frame(ctl::kNewBurst, t::buildSegment(clientSeg(kTcpPort, RTE_TCP_RST_FLAG | kAck, 106, 906, {})));
  check(lastTx(w.input).size() == 1, "seed: RST not forwarded");
  return w.input;
}

std::vector<uint8_t> udpAndOthers() {
  namespace t = dp::test;
  SeedWriter w;
  w.frame(ctl::kNewBurst, t::PacketBuilder()
                              .ethernet(clientMac(), portMac(0))
                              .ipv4(kClientIp, kVip)
                              .udp(5353, kUdpPort)
                              .payload(Bytes{'q', 'u', 'e', 'r', 'y'})
                              .build());
  const auto tx = [&] {
    std::vector<std::vector<Bytes>> log;
    runInput(w.input.data(), w.input.size(), &log);
    return log.back();
  }();
  check(tx.size() == 1, "seed: UDP not forwarded");
  const t::DecodedFrame out = t::decode(tx[0]);
  w.frame(ctl::kNewBurst, t::PacketBuilder()
                              .ethernet(backendMac(static_cast<uint8_t>(out.ip_dst & 0xff)), portMac(0))
                              .ipv4(out.ip_dst, kPortIp)
                              .udp(kUdpBackendPort, out.src_port)
                              .payload(Bytes{'a', 'n', 's'})
                              .build());
  const std::vector<Bytes> answer = [&] {
    std::vector<std::vector<Bytes>> log;
    runInput(w.input.data(), w.input.size(), &log);
    return log.back();
  }();
  check(answer.size() == 1, "seed: the UDP answer was not returned");
  // A client-side router's error to the VIP about that answer: passed on to the backend.
  const t::DecodedFrame seen = t::decode(answer[0]);
  w.frame(ctl::kNewBurst, t::PacketBuilder()
                              .ethernet(clientMac(), portMac(0))
                              .ipv4(ipv4(10, 99, 0, 1), kVip)
                              .icmpError(3, 4, 1400)
                              .payload(Bytes(answer[0].begin() + static_cast<std::ptrdiff_t>(seen.l3_offset), answer[0].end()))
                              .build());
  check(lastTx(w.input).size() == 1, "seed: the error to the VIP did not reach the backend");
  // The backend's port unreachable about that datagram, quoting all of it: relayed to the client.
  const Bytes quote(tx[0].begin() + static_cast<std::ptrdiff_t>(out.l3_offset), tx[0].end());
  w.frame(ctl::kNewBurst, t::PacketBuilder()
                              .ethernet(backendMac(static_cast<uint8_t>(out.ip_dst & 0xff)), portMac(0))
                              .ipv4(out.ip_dst, kPortIp)
                              .icmpError(3, 3, 0)
                              .payload(quote)
                              .build());
  check(lastTx(w.input).size() == 1, "seed: the port unreachable was not relayed");
  // ARP for the VIP, a ping, an ARP reply, a tagged frame on port 1 and one for an unknown VIP port.
  w.frame(ctl::kNewBurst, t::arpRequest(clientMac(), kClientIp, kVip));
  w.frame(0, t::PacketBuilder().ethernet(clientMac(), portMac(0)).ipv4(kClientIp, kVip).icmpEcho(true, 7, 1).build());
  w.frame(0, t::arpReply(backendMac(11), ipv4(10, 99, 0, 11), portMac(0), kPortIp));
  w.frame(0, t::PacketBuilder().ethernet(clientMac(), portMac(0)).ipv4(kClientIp, kVip).tcp(40001, 4444, kSyn).build());
  w.frame(ctl::kNewBurst | ctl::kPort1 | ctl::clock(4) | ctl::kTimers,
          t::PacketBuilder().ethernet(clientMac(), portMac(1)).vlan(kPort1Vlan).ipv4(kClientIp, kVip).tcp(40002, kTcpPort, kSyn).build());
  return w.input;
}

// IPv6 clients: neighbour discovery and ping for the VIP, a TCP connection and a UDP exchange through
// NAT64, and ICMP errors both ways (packet too big to the VIP, port unreachable from a backend).
std::vector<uint8_t> ipv6Nat64() {
  namespace t = dp::test;
  SeedWriter w;
  const dp::Ipv6Bytes solicited = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, kVip6[13], kVip6[14], kVip6[15]};
  Bytes ns(32, 0);
  ns[0] = 135;
  std::copy(kVip6.begin(), kVip6.end(), ns.begin() + 8);
  ns[24] = 1;  // source link-layer address option
  ns[25] = 1;
  const rte_ether_addr client = clientMac();
  std::copy(client.addr_bytes, client.addr_bytes + 6, ns.begin() + 26);
  w.frame(ctl::kNewBurst, t::buildIpv6Frame(client, t::testMac(0x3333), kClientIp6, solicited, IPPROTO_ICMPV6, ns, 2, 255));
  check(lastTx(w.input).size() == 1, "seed: the neighbour solicitation was not answered");
  w.frame(0, t::buildIpv6Frame(client, portMac(0), kClientIp6, kVip6, IPPROTO_ICMPV6, {128, 0, 0, 0, 0, 9, 0, 1}, 2));
  w.frame(ctl::kNewBurst, t::buildIpv6Frame(client, portMac(0), kClientIp6, kVip6, IPPROTO_TCP,
                                            t::tcpSegment(40100, kTcpPort, kSyn), offsetof(rte_tcp_hdr, cksum)));
  const std::vector<t::DecodedSegment> syn = lastTx(w.input);
  check(syn.size() == 1, "seed: the IPv6 SYN was not forwarded");
  w.frame(ctl::kNewBurst, t::buildSegment(backendSeg(syn[0], kSynAck, 900, 0x12000001, t::synOptions(1460, 7, true, true, 50, 1))));
  check(lastTx(w.input).size() == 1, "seed: the SYN-ACK did not reach the IPv6 client");
  w.frame(ctl::kNewBurst, t::buildIpv6Frame(client, portMac(0), kClientIp6, kVip6, IPPROTO_UDP,
                                            t::udpDatagram(40101, kUdpPort, {'v', '6'}), offsetof(rte_udp_hdr, dgram_cksum)));
  const std::vector<std::vector<Bytes>> log = [&] {
    std::vector<std::vector<Bytes>> l;
    runInput(w.input.data(), w.input.size(), &l);
    return l;
  }();
  check(log.back().size() == 1, "seed: the IPv6 datagram was not forwarded");
  const Bytes natted = log.back()[0];
  const t::DecodedFrame out = t::decode(natted);
  w.frame(ctl::kNewBurst, t::PacketBuilder()
                              .ethernet(backendMac(static_cast<uint8_t>(out.ip_dst & 0xff)), portMac(0))
                              .ipv4(out.ip_dst, kPortIp)
                              .udp(kUdpBackendPort, out.src_port)
                              .payload(Bytes{'b', '6'})
                              .build());
  std::vector<std::vector<Bytes>> answered;
  runInput(w.input.data(), w.input.size(), &answered);
  check(answered.back().size() == 1, "seed: the answer did not reach the IPv6 client");
  Bytes too_big = {2, 0, 0, 0, 0, 0, 0x05, 0x00};
  too_big.insert(too_big.end(), answered.back()[0].begin() + 14, answered.back()[0].end());
  w.frame(ctl::kNewBurst, t::buildIpv6Frame(client, portMac(0), kClientIp6, kVip6, IPPROTO_ICMPV6, too_big, 2));
  check(lastTx(w.input).size() == 1, "seed: packet too big did not reach the backend");
  w.frame(ctl::kNewBurst | ctl::kTimers, t::PacketBuilder()
                                             .ethernet(backendMac(static_cast<uint8_t>(out.ip_dst & 0xff)), portMac(0))
                                             .ipv4(out.ip_dst, kPortIp)
                                             .icmpError(3, 3, 0)
                                             .payload(Bytes(natted.begin() + static_cast<std::ptrdiff_t>(out.l3_offset), natted.end()))
                                             .build());
  check(lastTx(w.input).size() == 1, "seed: port unreachable did not reach the IPv6 client");
  return w.input;
}

// A 3000-byte UDP datagram to the VIP in three fragments (the last first), and the backend's
// 3000-byte answer in three fragments: each is reassembled and leaves in three fragments again.
std::vector<uint8_t> udpFragments() {
  namespace t = dp::test;
  SeedWriter w;
  const Bytes query = t::PacketBuilder()
                          .ethernet(clientMac(), portMac(0))
                          .ipv4(kClientIp, kVip)
                          .ipId(0x0f01)
                          .udp(5354, kUdpPort)
                          .payload(Bytes(3000, 'q'))
                          .build();
  std::vector<Bytes> parts = t::fragmentFrame(query, 1480);
  std::swap(parts.front(), parts.back());
  for (const Bytes& part : parts) w.frame(&part == &parts.front() ? ctl::kNewBurst : 0, part);
  const auto tx = [&] {
    std::vector<std::vector<Bytes>> log;
    runInput(w.input.data(), w.input.size(), &log);
    return log.back();
  }();
  const absl::StatusOr<Bytes> forwarded = t::joinFragments(tx, 1500);
  check(tx.size() == 3 && forwarded.ok(), "seed: the fragmented datagram was not forwarded in fragments");
  const t::DecodedFrame out = t::decode(*forwarded);
  const Bytes answer = t::PacketBuilder()
                           .ethernet(backendMac(static_cast<uint8_t>(out.ip_dst & 0xff)), portMac(0))
                           .ipv4(out.ip_dst, kPortIp)
                           .ipId(0x0f02)
                           .udp(kUdpBackendPort, out.src_port)
                           .payload(Bytes(3000, 'a'))
                           .build();
  parts = t::fragmentFrame(answer, 1480);
  for (const Bytes& part : parts) w.frame(&part == &parts.front() ? ctl::kNewBurst : 0, part);
  const auto returned = [&] {
    std::vector<std::vector<Bytes>> log;
    runInput(w.input.data(), w.input.size(), &log);
    return log.back();
  }();
  check(returned.size() == 3 && t::joinFragments(returned, 1500).ok(), "seed: the fragmented answer was not returned");
  return w.input;
}

// IPv6 clients of DSR and IPIP services: a connection to each, a segment too big for the backend
// link once encapsulated, and a packet too big about a backend's direct reply.
std::vector<uint8_t> ipv6Direct() {
  namespace t = dp::test;
  SeedWriter w;
  const rte_ether_addr client = clientMac();
  const auto segment = [&](uint16_t port, uint8_t flags, const Bytes& payload) {
    return t::buildIpv6Frame(client, portMac(0), kClientIp6, kVip6, IPPROTO_TCP, t::tcpSegment(40200, port, flags, payload),
                             offsetof(rte_tcp_hdr, cksum));
  };
  for (const uint16_t port : {kDsr6Port, kIpip6Port}) {
    w.frame(ctl::kNewBurst, segment(port, kSyn, {}));
    check(lastTx(w.input).size() == 1, "seed: the IPv6 SYN did not reach a dual-stack backend");
    w.frame(ctl::kNewBurst, segment(port, kAck, {}));
    w.frame(0, segment(port, kPshAck, Bytes(100, 'd')));
    check(lastTx(w.input).size() == 2, "seed: the IPv6 segments did not reach the backend");
  }
  w.frame(ctl::kNewBurst, segment(kIpip6Port, kAck, Bytes(1500 - 40 - 20, 'x')));
  check(lastTx(w.input).size() == 1, "seed: the oversized IPv6 segment was not answered");
  const Bytes reply = t::buildIpv6Frame(backendMac(kBackendHosts[0]), client, kVip6, kClientIp6, IPPROTO_TCP,
                                        t::tcpSegment(kDsr6Port, 40200, kAck, Bytes(200, 'r')), offsetof(rte_tcp_hdr, cksum));
  Bytes too_big(8 + reply.size() - 14, 0);
  too_big[0] = 2;
  too_big[6] = 0x05;  // MTU 1280
  std::copy(reply.begin() + 14, reply.end(), too_big.begin() + 8);
  w.frame(ctl::kNewBurst, t::buildIpv6Frame(client, portMac(0), kClientIp6, kVip6, IPPROTO_ICMPV6, too_big, 2));
  check(lastTx(w.input).size() == 1, "seed: packet too big did not reach the DSR backend");
  return w.input;
}

void writeSeeds(const std::string& dir) {
  const std::string response = "HTTP/1.1 200 OK\r\nSet-Cookie: SID=s2; Path=/\r\nContent-Length: 2\r\n\r\nhi";
  const std::pair<std::string, std::vector<uint8_t>> seeds[] = {
      {"http_learnt_cookie", httpConversation({"GET /cart HTTP/1.1\r\nHost: shop\r\nCookie: theme=dark; SID=s1\r\n\r\n"},
                                              response, kBackendHosts[1])},
      {"http_split_hash_cookie", httpConversation({"GET /a HTTP/1.1\r\nHo", "st: x\r\nCookie: uid=7\r\n\r\n"},
                                                  "HTTP/1.1 204 No Content\r\n\r\n", 0)},
      {"plain_tcp", plainTcpConversation()},
      {"udp_arp_icmp_vlan", udpAndOthers()},
      {"ipv6_nat64", ipv6Nat64()},
      {"ipv6_direct", ipv6Direct()},
      {"udp_fragments", udpFragments()},
      {"http_ipv6_learnt_cookie",
       httpConversation({"GET /cart HTTP/1.1\r\nHost: shop\r\nCookie: SID=s1\r\n\r\n"}, response, kBackendHosts[1],
                        /*v6=*/true)},
  };
  for (const auto& [name, input] : seeds) {
    const std::string path = dir + "/" + name;
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(input.data()), static_cast<std::streamsize>(input.size()));
    check(static_cast<bool>(f), "cannot write a seed file");
    std::printf("wrote %s (%zu bytes)\n", path.c_str(), input.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const std::string prefix = "tether-pathfuzz-" + std::to_string(getpid());
  std::vector<std::string> args = {"packet_path_fuzz", "-l", "0", "--no-huge", "-m", "128", "--no-shconf",
                                   "--no-pci", "--no-telemetry", "--log-level=*:error", "--file-prefix", prefix};
  std::vector<char*> eal_argv;
  for (std::string& a : args) eal_argv.push_back(a.data());
  eal_argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "packet_path_fuzz: rte_eal_init: %s\n", rte_strerror(rte_errno));
    std::exit(1);
  }
  // No per-lcore cache, so rte_mempool_in_use_count is exact.
  g_pool = rte_pktmbuf_pool_create("fuzz_pool", kPoolMbufs, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  check(g_pool != nullptr, "rte_pktmbuf_pool_create");
  g_indirect_pool = rte_pktmbuf_pool_create("fuzz_indirect", 1023, 0, 0, 0, SOCKET_ID_ANY);
  check(g_indirect_pool != nullptr, "rte_pktmbuf_pool_create(indirect)");
  void* mem = rte_zmalloc("fuzz_counters", sizeof(dp::LcoreCounters), alignof(dp::LcoreCounters));
  check(mem != nullptr, "rte_zmalloc(LcoreCounters)");
  g_counters = new (mem) dp::LcoreCounters();
  g_snap = makeSnapshot();
  g_secret = new dp::SessionSecret(dp::SessionSecret::fromSeed(5));
  if (const char* dir = std::getenv("PACKET_PATH_FUZZ_WRITE_SEEDS")) {
    writeSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  runInput(data, size, nullptr);
  return 0;
}
