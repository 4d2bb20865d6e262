// Cookie-path throughput per core (issue 5): whole sticky HTTP requests replayed through the worker's
// real processBurst, with 1M and 10M sessions in the shared session table, against the plain full-NAT
// 5-tuple path on the same client frames as the in-run baseline.
//
// One request is one complete conversation on its own connection (8 received frames, RFC 9293 with
// the RFC 7323 options a Linux client sends):
//   client SYN -> [cookie SYN-ACK] -> client ACK -> client "GET /api/users/status" head of about 500
//   bytes with 6 cookies, SESSIONID one of the prefilled sessions -> [SYN to the learnt backend] ->
//   backend SYN-ACK -> [replayed head] -> backend response -> client FIN -> backend FIN -> client ACK.
// The frames a worker needs from its own output (the cookie ISN, the local port and backend it chose)
// are taken from a recording run; the timed replays feed the recorded frames to fresh workers, and
// every burst's transmitted frames must equal the recording byte for byte (fingerprints), so the
// replay is the same verified conversation and not a stream of drops.
//
// Schedule: a pipeline, so every burst mixes the phases of different connections as real traffic
// does. Burst t carries step k of connection group t-k for all 8 steps; groups of 4 give bursts of
// 32 frames.
//
// Why the recording runs against a small table of its own: the replay's table must not have been
// touched by the requests it is about to serve, or the 10M-entry figure would measure a warm cache.
// Each timed set uses fresh sessions drawn at random from the whole table.
//
// What is timed: processBurst only (rte_rdtsc around each call), which includes the SYN mbufs the
// proxy allocates for backends. Filling the input mbufs and freeing the transmitted ones (the NIC
// driver's work in tetherd) is outside, and reported separately as wall time.
//
// With --ipv6 the clients are IPv6 (fd00:99::<the IPv4 client address>) on the IPv6 VIP fd00:99::100:
// the same conversations through the SYN proxy and NAT64 (and, as the baseline, plain NAT64 full-NAT).
//
//   cookie_path_bench [--requests=20000] [--sets=5] [--sizes=1000000,10000000]
//                     [--pcap-dir=DIR] [--results=FILE] [--ipv6]
#include <pcap/pcap.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_version.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/bench_context.h"
#include "controlplane/config.h"
#include "controlplane/counter_slots.h"
#include "controlplane/neighbor_table.h"
#include "controlplane/snapshot_builder.h"
#include "dataplane/packet_processor.h"
#include "dataplane/session_table.h"
#include "dataplane/syn_proxy.h"
#include "dataplane/worker_context.h"
#include "tests/dataplane/packet_builder.h"
#include "tests/dataplane/proxy_test_frames.h"

namespace {

using lb::dataplane::LcoreCounters;
using lb::dataplane::SessionKey;
using lb::dataplane::SessionSecret;
using lb::dataplane::SessionTable;
using lb::dataplane::SessionValue;
using lb::dataplane::Snapshot;
using lb::dataplane::StickyMethod;
using lb::dataplane::WorkerContext;
using lb::dataplane::test::Bytes;
using lb::dataplane::test::DecodedSegment;
using lb::dataplane::test::Segment;
using lb::dataplane::test::ipv4;
namespace cp = lb::controlplane;

constexpr uint32_t kPortIp = ipv4(10, 99, 0, 2);
constexpr uint32_t kVip = ipv4(10, 99, 0, 100);
constexpr uint16_t kWebPort = 80;
constexpr uint16_t kBackendPort = 8080;
constexpr uint8_t kBackendHosts[] = {11, 12, 13, 14};
constexpr uint16_t kLocalPortMin = 10000;
constexpr uint16_t kLocalPortMax = 59999;
constexpr uint32_t kClientBase = ipv4(198, 18, 0, 0);  // RFC 2544 benchmarking range
constexpr lb::dataplane::Ipv6Bytes kPortIp6 = {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
constexpr lb::dataplane::Ipv6Bytes kVip6 = {0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
constexpr uint64_t kNowSeconds = 1000;                 // the replay's clock stands still at this second
constexpr lb::dataplane::SipKey kMaster{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
constexpr uint32_t kSteps = 8;  // received frames per request
constexpr uint32_t kGroup = 4;  // connections per group: bursts of kSteps * kGroup = 32
constexpr uint16_t kClientWindow = 502;
constexpr uint16_t kBackendWindow = 1000;
constexpr uint32_t kPoolMbufs = 8191;
constexpr uint8_t kFinAck = RTE_TCP_FIN_FLAG | RTE_TCP_ACK_FLAG;
constexpr uint8_t kPshAck = RTE_TCP_PSH_FLAG | RTE_TCP_ACK_FLAG;

rte_ether_addr mac(uint16_t id) { return lb::dataplane::test::testMac(id); }
rte_ether_addr portMac() { return mac(0x0101); }
rte_ether_addr clientMac() { return mac(0xc1c1); }

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "cookie_path_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Options {
  uint32_t requests = 20000;
  uint32_t sets = 5;
  std::vector<uint64_t> sizes = {1'000'000, 10'000'000};
  std::string pcap_dir = ".";
  std::string results;
  bool ipv6 = false;  // IPv6 clients on an IPv6 VIP (NAT64)
};

bool g_ipv6 = false;  // Options::ipv6, read by the frame builders

// IPv6 client k is fd00:99::<its IPv4 address>: one 32-bit number names a client in either family.
lb::dataplane::Ipv6Bytes clientAddress6(uint32_t client_ip) {
  lb::dataplane::Ipv6Bytes a = kVip6;
  for (int i = 0; i < 4; ++i) a[12 + i] = static_cast<uint8_t>(client_ip >> (24 - 8 * i));
  return a;
}

uint64_t parseNumber(const std::string& text, const char* flag) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v == 0) fail(absl::StrFormat("%s: '%s' is not a positive integer", flag, text));
  return v;
}

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&](const char* flag) -> std::optional<std::string> {
      const std::string prefix = std::string(flag) + "=";
      if (arg.rfind(prefix, 0) != 0) return std::nullopt;
      return arg.substr(prefix.size());
    };
    if (auto v = value("--requests")) {
      o.requests = static_cast<uint32_t>(std::min<uint64_t>(parseNumber(*v, "--requests"), 40000));
    } else if (auto v = value("--sets")) {
      o.sets = static_cast<uint32_t>(std::min<uint64_t>(parseNumber(*v, "--sets"), 50));
    } else if (auto v = value("--sizes")) {
      o.sizes.clear();
      std::stringstream list(*v);
      std::string item;
      while (std::getline(list, item, ',')) o.sizes.push_back(parseNumber(item, "--sizes"));
    } else if (auto v = value("--pcap-dir")) {
      o.pcap_dir = *v;
    } else if (auto v = value("--results")) {
      o.results = *v;
    } else if (arg == "--ipv6") {
      o.ipv6 = true;
    } else {
      fail("unknown argument '" + arg +
           "' (use --requests=N --sets=N --sizes=N,N --pcap-dir=DIR --results=FILE --ipv6)");
    }
  }
  // Whole groups only. The 40,000 cap above: a set takes one of the worker's 50,000 local ports per
  // request, and every connection is still closing when the set ends.
  if (o.requests % kGroup != 0) o.requests += kGroup - o.requests % kGroup;
  return o;
}

// --- the service: VIP 10.99.0.100:80, four backends 10.99.0.11-14:8080 -------------------------------

cp::Config makeConfig(bool http) {
  cp::Config c;
  c.dataplane.local_port_min = kLocalPortMin;
  c.dataplane.local_port_max = kLocalPortMax;
  c.ports.push_back({.name = "eth0", .address = {kPortIp, 24}, .gateway = std::nullopt, .vlan = 0});
  cp::ServiceConfig web;
  web.name = "web";
  web.vip = kVip;
  if (g_ipv6) {
    c.ports[0].address6 = cp::Ipv6Prefix{kPortIp6, 64};
    web.vip = 0;
    web.vip6 = kVip6;
  }
  web.port = kWebPort;
  web.protocol = cp::Protocol::kTcp;
  web.forwarding = cp::ForwardingMode::kFullNat;
  for (uint8_t h : kBackendHosts) web.backends.push_back({ipv4(10, 99, 0, h), kBackendPort, 1});
  if (http) {
    cp::HttpConfig h;
    h.sticky = {StickyMethod::kLearnCookie, StickyMethod::kFiveTuple};
    h.session_cookie = "SESSIONID";
    web.http = h;
  }
  c.services.push_back(web);
  for (uint8_t h : kBackendHosts) {
    const rte_ether_addr m = mac(h);
    cp::MacAddress a{};
    std::copy(std::begin(m.addr_bytes), std::end(m.addr_bytes), a.begin());
    c.neighbors.push_back({ipv4(10, 99, 0, h), a});
  }
  return c;
}

std::unique_ptr<Snapshot> makeSnapshot(bool http) {
  const cp::Config config = makeConfig(http);
  if (absl::Status s = cp::validateConfig(config); !s.ok()) fail("config: " + s.ToString());
  cp::NeighborTable neighbors;
  for (uint8_t h : kBackendHosts) neighbors.addStatic(ipv4(10, 99, 0, h), mac(h));
  cp::CounterSlots slots(lb::dataplane::kMaxBackendCounters);
  cp::BuildInputs in;
  in.config = &config;
  in.port_macs = {portMac()};
  in.neighbors = &neighbors;
  in.counter_slots = &slots;
  in.tsc_hz = rte_get_tsc_hz();
  in.generation = 1;
  auto built = cp::buildSnapshot(in);
  if (!built.ok()) fail("snapshot: " + built.status().ToString());
  return *std::move(built);
}

// --- sessions ----------------------------------------------------------------------------------------

uint64_t mix64(uint64_t x) {  // splitmix64 finaliser: session j's cookie text and backend
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Session j's SESSIONID value: 32 hex digits, like a servlet container's.
std::string sessionValue(uint64_t j) {
  return absl::StrFormat("%016X%016X", mix64(j), mix64(j ^ 0x5e5510d));
}

uint32_t sessionBackendIndex(uint64_t j) { return static_cast<uint32_t>(mix64(j) % std::size(kBackendHosts)); }

// The backend id the snapshot gave 10.99.0.<host>.
uint64_t backendId(const Snapshot& snap, uint32_t index) {
  for (const auto& b : snap.services[0].backends) {
    if (b.address_be == rte_cpu_to_be_32(ipv4(10, 99, 0, kBackendHosts[index]))) return b.id;
  }
  fail("backend missing from snapshot");
}

std::unique_ptr<SessionTable> makeTable(uint64_t capacity) {
  auto t = SessionTable::create(lb::dataplane::SessionTableConfig{.capacity = capacity});
  if (!t.ok()) fail("session table: " + t.status().ToString());
  return *std::move(t);
}

void insertSession(SessionTable& table, const SessionSecret& secret, const Snapshot& snap, uint64_t j,
                   lb::dataplane::SessionCounters& counters) {
  const auto r = table.insert(lb::dataplane::sessionKey(sessionValue(j), secret),
                              SessionValue{backendId(snap, sessionBackendIndex(j)), snap.services[0].http.session_service},
                              kNowSeconds, counters);
  if (r != lb::dataplane::SessionInsertResult::kInserted) fail(absl::StrFormat("prefill: insert %u refused", j));
}

// --- a worker without a thread or a NIC ---------------------------------------------------------------

class Worker {
 public:
  Worker(SessionTable* sessions, const SessionSecret* secret)
      : ctx_(std::make_unique<WorkerContext>(0, lb::dataplane::LocalPortPartition{kLocalPortMin, kLocalPortMax, 1},
                                             1u << 16)) {
    void* mem = rte_zmalloc("bench_counters", sizeof(LcoreCounters), alignof(LcoreCounters));
    if (mem == nullptr) fail("rte_zmalloc(LcoreCounters)");
    ctx_->counters = new (mem) LcoreCounters();
    ctx_->sessions = sessions;
    ctx_->session_secret = secret;
    ctx_->syn_cookie_master = kMaster;
    lb::dataplane::SynProxyConfig config;
    config.capacity = 1024;
    config.clock = lb::dataplane::SynCookieClock{rte_get_tsc_hz(), 64};
    config.cookie_master = kMaster;
    config.backend_clock_base_ms = 0;  // the recorder's and the replay's backend SYNs carry one TSval
    auto proxy = lb::dataplane::SynProxy::create(config);
    if (!proxy.ok()) fail("SynProxy: " + proxy.status().ToString());
    ctx_->proxy = *std::move(proxy);
  }
  ~Worker() {
    freeTx();
    ctx_->proxy.reset();
    ctx_->counters->~LcoreCounters();
    rte_free(ctx_->counters);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  WorkerContext& ctx() { return *ctx_; }
  const LcoreCounters& counters() const { return *ctx_->counters; }
  uint32_t freeTx() {
    uint32_t n = 0;
    for (auto& batch : ctx_->tx) {
      rte_pktmbuf_free_bulk(batch.packets.data(), batch.count);
      n += batch.count;
      batch.count = 0;
      batch.bytes = 0;
    }
    return n;
  }
  uint64_t totalDrops() const {
    uint64_t sum = 0;
    for (const auto& c : counters().drops) sum += c.read();
    return sum;
  }

 private:
  std::unique_ptr<WorkerContext> ctx_;
};

// --- the conversation ---------------------------------------------------------------------------------

struct Conn {
  uint32_t client_ip = 0;
  uint16_t client_port = 0;
  uint32_t client_isn = 0;
  uint64_t session = 0;
  uint32_t expected_backend_ip = 0;  // where the learnt session must send it (HTTP)
  // From the worker's output during the recording.
  uint32_t our_isn = 0;     // the cookie ISN (HTTP) or the backend's ISN (plain: sequence numbers pass)
  uint32_t our_tsval = 0;
  uint32_t backend_ip = 0;  // the backend the worker connected to and its local port
  uint16_t local_port = 0;
  uint32_t syn_tsval = 0;   // TSval of the SYN the backend received
  uint32_t backend_isn = 0;
};

struct Recording {
  std::vector<std::vector<Bytes>> bursts;         // received frames, burst by burst
  std::vector<uint32_t> tx_per_burst;             // transmitted frames each burst produced
  std::vector<uint64_t> tx_fingerprint;           // XXH3 of every transmitted frame, in order
  uint64_t rx_frames = 0;
  uint64_t tx_frames = 0;
};

std::string requestHead(const std::string& session_value) {
  std::string head =
      "GET /api/users/status HTTP/1.1\r\n"
      "Host: shop.example.com\r\n"
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
      "Accept: application/json, text/plain, */*\r\n"
      "Accept-Language: en-US,en;q=0.5\r\n"
      "Accept-Encoding: gzip, deflate, br\r\n"
      "Referer: https://shop.example.com/account/orders\r\n"
      "Cookie: _ga=GA1.2.1843215672.1763700000; _gid=GA1.2.977121003.1763700000; theme=dark; "
      "lang=en-US; SESSIONID=";
  head += session_value;
  head += "; cart=5f2c9a1e7b\r\nConnection: keep-alive\r\n\r\n";
  return head;
}

const std::string kResponse =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n"
    "Cache-Control: no-store\r\n\r\n{\"status\":\"ok\"}\n";

Segment fromClient(const Conn& c, uint8_t flags, uint32_t seq, uint32_t ack, Bytes options,
                   std::string payload = {}) {
  Segment s;
  s.src_mac = clientMac();
  s.dst_mac = portMac();
  s.src = c.client_ip;
  s.dst = kVip;
  s.v6 = g_ipv6;
  s.src6 = clientAddress6(c.client_ip);
  s.dst6 = kVip6;
  s.sport = c.client_port;
  s.dport = kWebPort;
  s.flags = flags;
  s.seq = seq;
  s.ack = ack;
  s.window = kClientWindow;
  s.options = std::move(options);
  s.payload = std::move(payload);
  return s;
}

Segment fromBackend(const Conn& c, uint8_t flags, uint32_t seq, uint32_t ack, Bytes options,
                    std::string payload = {}) {
  Segment s;
  s.src_mac = mac(static_cast<uint16_t>(c.backend_ip & 0xff));
  s.dst_mac = portMac();
  s.src = c.backend_ip;
  s.dst = kPortIp;
  s.sport = kBackendPort;
  s.dport = c.local_port;
  s.flags = flags;
  s.seq = seq;
  s.ack = ack;
  s.window = kBackendWindow;
  s.options = std::move(options);
  s.payload = std::move(payload);
  return s;
}

// The frame of step `step` of connection `c`: a Linux-like client (MSS 1460, window scale 7, SACK,
// timestamps) and backend. HTTP: SYN, ACK, head, backend SYN-ACK, response, FINs. Plain full-NAT has
// no SYN proxy, so the backend's SYN-ACK comes second and the client ACKs it.
Bytes frameFor(const Conn& c, uint32_t step, bool http, const std::string& head) {
  namespace t = lb::dataplane::test;
  const uint32_t req = static_cast<uint32_t>(head.size());
  const uint32_t resp = static_cast<uint32_t>(kResponse.size());
  const uint32_t cisn = c.client_isn;
  const uint32_t bisn = c.backend_isn;
  if (step == 0) return t::buildSegment(fromClient(c, RTE_TCP_SYN_FLAG, cisn, 0, t::synOptions(1460, 7, true, true, 100)));
  // The plain path's steps 1..3 are the HTTP path's 3, 1, 2 (the backend answers the SYN itself).
  uint32_t s = step;
  if (!http && step <= 3) s = step == 1 ? 3 : step - 1;
  switch (s) {
    case 1:
      return t::buildSegment(fromClient(c, RTE_TCP_ACK_FLAG, cisn + 1, c.our_isn + 1, t::timestampOption(101, c.our_tsval)));
    case 2:
      return t::buildSegment(
          fromClient(c, kPshAck, cisn + 1, c.our_isn + 1, t::timestampOption(102, c.our_tsval), head));
    case 3:
      return t::buildSegment(fromBackend(c, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG, bisn, cisn + 1,
                                         t::synOptions(1460, 9, true, true, 5000, c.syn_tsval)));
    case 4:
      return t::buildSegment(fromBackend(c, kPshAck, bisn + 1, cisn + 1 + req, t::timestampOption(5001, 102), kResponse));
    case 5:
      return t::buildSegment(
          fromClient(c, kFinAck, cisn + 1 + req, c.our_isn + 1 + resp, t::timestampOption(103, c.our_tsval + 1)));
    case 6:
      return t::buildSegment(fromBackend(c, kFinAck, bisn + 1 + resp, cisn + 2 + req, t::timestampOption(5002, 103)));
    default:
      return t::buildSegment(
          fromClient(c, RTE_TCP_ACK_FLAG, cisn + 2 + req, c.our_isn + 2 + resp, t::timestampOption(104, c.our_tsval + 2)));
  }
}

uint64_t fingerprint(uint64_t acc, const rte_mbuf* m) {
  if (m->nb_segs != 1) fail("a transmitted frame has more than one segment");
  return XXH3_64bits_withSeed(rte_pktmbuf_mtod(m, const void*), rte_pktmbuf_data_len(m), acc);
}

rte_mempool* g_pool = nullptr;

void fillMbufs(const std::vector<Bytes>& frames, rte_mbuf** out) {
  if (rte_pktmbuf_alloc_bulk(g_pool, out, static_cast<unsigned>(frames.size())) != 0) fail("mbuf pool exhausted");
  for (size_t i = 0; i < frames.size(); ++i) {
    char* data = rte_pktmbuf_append(out[i], static_cast<uint16_t>(frames[i].size()));
    if (data == nullptr) fail("frame larger than an mbuf");
    std::memcpy(data, frames[i].data(), frames[i].size());
  }
}

// Plays the conversations through `worker`, building each frame from what the worker sent so far, and
// checks what it sends: every SYN (HTTP) goes to the session's backend, every checksum is right.
Recording record(std::vector<Conn>& conns, const std::vector<std::string>& heads, bool http, Worker& worker,
                 const Snapshot& snap, uint64_t now_tsc) {
  Recording rec;
  std::unordered_map<uint32_t, uint32_t> by_isn;       // client ISN -> connection (SYNs to backends)
  std::unordered_map<uint64_t, uint32_t> by_client;    // client ip:port -> connection (SYN-ACKs)
  for (uint32_t i = 0; i < conns.size(); ++i) {
    by_isn[conns[i].client_isn] = i;
    by_client[uint64_t{conns[i].client_ip} << 16 | conns[i].client_port] = i;
  }
  const uint32_t groups = static_cast<uint32_t>(conns.size() / kGroup);
  std::vector<rte_mbuf*> mbufs(kSteps * kGroup);
  uint64_t backend_syns = 0;
  for (uint32_t t = 0; t < groups + kSteps - 1; ++t) {
    std::vector<Bytes> burst;
    for (uint32_t k = 0; k < kSteps; ++k) {
      if (t < k || t - k >= groups) continue;
      for (uint32_t j = 0; j < kGroup; ++j) {
        const uint32_t i = (t - k) * kGroup + j;
        burst.push_back(frameFor(conns[i], k, http, heads[i]));
      }
    }
    fillMbufs(burst, mbufs.data());
    lb::dataplane::processBurst(worker.ctx(), snap, 0, mbufs.data(), static_cast<uint16_t>(burst.size()), now_tsc,
                                nullptr);
    auto& batch = worker.ctx().tx[0];
    uint64_t fp = 0;
    for (uint16_t n = 0; n < batch.count; ++n) {
      rte_mbuf* m = batch.packets[n];
      fp = fingerprint(fp, m);
      const DecodedSegment d = lb::dataplane::test::decodeSegment(lb::dataplane::test::fromMbuf(m));
      if (!d.ok || !d.checksums_valid) fail("recording: a transmitted frame does not decode or has a bad checksum");
      if (d.flags == RTE_TCP_SYN_FLAG) {
        const auto it = by_isn.find(d.seq);
        if (it == by_isn.end()) fail("recording: SYN to a backend with an unknown ISN");
        Conn& c = conns[it->second];
        c.backend_ip = d.dst;
        c.local_port = d.sport;
        c.syn_tsval = d.options.tsval;
        if (d.src != kPortIp || d.dport != kBackendPort) fail("recording: SYN not full-NAT to a backend");
        if (http && d.dst != c.expected_backend_ip) {
          fail(absl::StrFormat("recording: session %u went to %08x, not its learnt backend %08x", c.session, d.dst,
                               c.expected_backend_ip));
        }
        ++backend_syns;
      } else if (d.flags == (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG) && (d.v6 ? d.src6 == kVip6 : d.src == kVip)) {
        const uint32_t client_ip = d.v6 ? (uint32_t{d.dst6[12]} << 24 | uint32_t{d.dst6[13]} << 16 |
                                           uint32_t{d.dst6[14]} << 8 | d.dst6[15])
                                        : d.dst;
        const auto it = by_client.find(uint64_t{client_ip} << 16 | d.dport);
        if (it == by_client.end()) fail("recording: SYN-ACK to an unknown client");
        Conn& c = conns[it->second];
        c.our_isn = d.seq;
        c.our_tsval = d.options.tsval;
      }
    }
    rec.tx_per_burst.push_back(batch.count);
    rec.tx_fingerprint.push_back(fp);
    rec.tx_frames += worker.freeTx();
    rec.rx_frames += burst.size();
    rec.bursts.push_back(std::move(burst));
  }
  if (backend_syns != conns.size()) fail(absl::StrFormat("recording: %u backend SYNs for %u requests", backend_syns, conns.size()));
  return rec;
}

struct Timing {
  uint64_t process_cycles = 0;  // inside processBurst
  double wall_seconds = 0;      // the whole replay, mbuf fill and free included
};

Timing replay(const Recording& rec, Worker& worker, const Snapshot& snap, uint64_t now_tsc) {
  Timing timing;
  std::vector<rte_mbuf*> mbufs(kSteps * kGroup);
  const auto start = std::chrono::steady_clock::now();
  for (size_t b = 0; b < rec.bursts.size(); ++b) {
    const auto& burst = rec.bursts[b];
    fillMbufs(burst, mbufs.data());
    const uint64_t t0 = rte_rdtsc();
    lb::dataplane::processBurst(worker.ctx(), snap, 0, mbufs.data(), static_cast<uint16_t>(burst.size()), now_tsc,
                                nullptr);
    timing.process_cycles += rte_rdtsc() - t0;
    auto& batch = worker.ctx().tx[0];
    uint64_t fp = 0;
    for (uint16_t n = 0; n < batch.count; ++n) fp = fingerprint(fp, batch.packets[n]);
    if (batch.count != rec.tx_per_burst[b] || fp != rec.tx_fingerprint[b]) {
      fail(absl::StrFormat("replay: burst %u sent %u frames (recorded %u) or different bytes", b, batch.count,
                           rec.tx_per_burst[b]));
    }
    worker.freeTx();
  }
  timing.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return timing;
}

// Connections of one set: distinct client 5-tuples and ISNs, each with a random prefilled session.
std::vector<Conn> makeConns(uint32_t set, uint32_t requests, uint64_t sessions, std::mt19937_64& rng) {
  std::vector<Conn> conns(requests);
  std::uniform_int_distribution<uint64_t> pick(0, sessions - 1);
  for (uint32_t i = 0; i < requests; ++i) {
    Conn& c = conns[i];
    const uint32_t n = set * requests + i;
    c.client_ip = kClientBase + (n >> 8) + 1;
    c.client_port = static_cast<uint16_t>(32768 + (n & 0xff) * 97 % 28000);
    c.client_isn = static_cast<uint32_t>(mix64(n) >> 32) | 1;  // distinct: checked by record()
    c.session = pick(rng);
    c.expected_backend_ip = ipv4(10, 99, 0, kBackendHosts[sessionBackendIndex(c.session)]);
    c.backend_isn = static_cast<uint32_t>(mix64(n + 77));
  }
  std::unordered_map<uint32_t, int> seen;
  for (Conn& c : conns) {
    while (seen.count(c.client_isn)) c.client_isn += 2;
    seen[c.client_isn] = 1;
  }
  return conns;
}

void writePcap(const std::string& path, const Recording& rec) {
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  if (dead == nullptr) fail("pcap_open_dead");
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  if (dumper == nullptr) fail("pcap_dump_open(" + path + "): " + pcap_geterr(dead));
  for (size_t b = 0; b < rec.bursts.size(); ++b) {
    for (const Bytes& f : rec.bursts[b]) {
      pcap_pkthdr h{};
      const uint64_t us = b * 10;  // one burst every 10 us
      h.ts.tv_sec = static_cast<time_t>(kNowSeconds + us / 1'000'000);
      h.ts.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
      h.caplen = h.len = static_cast<bpf_u_int32>(f.size());
      pcap_dump(reinterpret_cast<u_char*>(dumper), &h, f.data());
    }
  }
  pcap_dump_close(dumper);
  pcap_close(dead);
}

struct Result {
  std::string name;
  uint64_t requests_per_set = 0;
  std::vector<double> cycles_per_request;  // one per set
  double wall_ns_per_request = 0;          // median set, fill and free included
  double packets_per_request = 0;          // received frames
  double tx_per_request = 0;
  std::string checks;
};

std::string sizeName(uint64_t n) {
  return n % 1'000'000 == 0 ? absl::StrFormat("%uM", n / 1'000'000) : absl::StrFormat("%u", n);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

Result runCookiePath(const Options& opt, uint64_t table_size, const Snapshot& snap, const SessionSecret& secret,
                     std::string& memory_note) {
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t now_tsc = kNowSeconds * hz;
  Result r;
  r.name = absl::StrFormat("cookie path, %s sessions", sizeName(table_size));
  r.requests_per_set = opt.requests;

  // Prefill the shared table.
  rte_malloc_socket_stats before{};
  rte_malloc_get_socket_stats(0, &before);
  const auto fill_start = std::chrono::steady_clock::now();
  auto table = makeTable(table_size);
  lb::dataplane::SessionCounters prefill_counters;
  for (uint64_t j = 0; j < table_size; ++j) insertSession(*table, secret, snap, j, prefill_counters);
  rte_malloc_socket_stats after{};
  rte_malloc_get_socket_stats(0, &after);
  const bool in_dpdk_heap = after.heap_allocsz_bytes - before.heap_allocsz_bytes >= table->memoryBytes() / 2;
  memory_note += absl::StrFormat(
      "  %s sessions: %.0f MB table (%s), %u occupied slots of %u, %u evictions, prefill %.1f s\n",
      sizeName(table_size), table->memoryBytes() / 1e6,
      in_dpdk_heap ? "EAL heap, --no-huge: 4 KiB pages" : "anonymous mmap, THP madvise", table->occupied(),
      table->slotCount(), prefill_counters.evictions.read(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - fill_start).count());
  if (table->occupied() != table_size) fail("prefill: table does not hold every session");

  std::mt19937_64 rng(table_size);
  uint64_t rx_total = 0, tx_total = 0;
  std::vector<double> wall;
  for (uint32_t set = 0; set < opt.sets; ++set) {
    std::vector<Conn> conns = makeConns(set, opt.requests, table_size, rng);
    std::vector<std::string> heads;
    heads.reserve(conns.size());
    for (const Conn& c : conns) heads.push_back(requestHead(sessionValue(c.session)));

    // Record against a small table holding only this set's sessions (same keys, same backends).
    auto small = makeTable(std::max<uint64_t>(1024, 2 * opt.requests));
    lb::dataplane::SessionCounters small_counters;
    for (const Conn& c : conns) {
      if (!small->peek(lb::dataplane::sessionKey(sessionValue(c.session), secret), kNowSeconds)) {
        insertSession(*small, secret, snap, c.session, small_counters);
      }
    }
    Recording rec;
    {
      Worker recorder(small.get(), &secret);
      rec = record(conns, heads, /*http=*/true, recorder, snap, now_tsc);
    }
    if (set == 0 && table_size == opt.sizes.front()) {
      writePcap(opt.pcap_dir + "/cookie_path_http.pcap", rec);
    }

    const unsigned pool_before = rte_mempool_in_use_count(g_pool);
    Timing timing;
    uint64_t learnt = 0, spliced = 0, hits = 0, drops = 0;
    {
      Worker worker(table.get(), &secret);
      timing = replay(rec, worker, snap, now_tsc);
      const auto& p = worker.counters().proxy;
      learnt = p.chosen_by[static_cast<size_t>(StickyMethod::kLearnCookie)].read();
      spliced = p.connections_spliced.read();
      hits = worker.ctx().session_counters.hits.read();
      drops = worker.totalDrops();
      if (worker.ctx().proxy->pendingCount() != 0) fail("replay: connections still pending");
    }
    if (rte_mempool_in_use_count(g_pool) != pool_before) fail("replay: mbufs leaked");
    if (learnt != opt.requests || spliced != opt.requests || hits != opt.requests || drops != 0) {
      fail(absl::StrFormat("replay: chosen_by learn_cookie %u, spliced %u, session hits %u, drops %u for %u requests",
                           learnt, spliced, hits, drops, opt.requests));
    }
    r.cycles_per_request.push_back(static_cast<double>(timing.process_cycles) / opt.requests);
    wall.push_back(timing.wall_seconds * 1e9 / opt.requests);
    rx_total += rec.rx_frames;
    tx_total += rec.tx_frames;
  }
  r.wall_ns_per_request = median(wall);
  r.packets_per_request = static_cast<double>(rx_total) / (uint64_t{opt.requests} * opt.sets);
  r.tx_per_request = static_cast<double>(tx_total) / (uint64_t{opt.requests} * opt.sets);
  r.checks = absl::StrFormat(
      "every set: chosen_by[learn_cookie] = connections_spliced = session hits = %u, 0 drops, every SYN to the "
      "session's backend, transmitted bytes = recording, mempool in-use back to start",
      opt.requests);
  return r;
}

Result runPlain(const Options& opt, const Snapshot& snap) {
  const uint64_t now_tsc = kNowSeconds * rte_get_tsc_hz();
  Result r;
  r.name = "plain full-NAT (5-tuple), same client frames";
  r.requests_per_set = opt.requests;
  std::mt19937_64 rng(opt.sizes.front());
  uint64_t rx_total = 0, tx_total = 0;
  std::vector<double> wall;
  for (uint32_t set = 0; set < opt.sets; ++set) {
    std::vector<Conn> conns = makeConns(set, opt.requests, opt.sizes.front(), rng);
    std::vector<std::string> heads;
    for (const Conn& c : conns) heads.push_back(requestHead(sessionValue(c.session)));
    Recording rec;
    {
      Worker recorder(nullptr, nullptr);
      rec = record(conns, heads, /*http=*/false, recorder, snap, now_tsc);
    }
    if (set == 0) writePcap(opt.pcap_dir + "/cookie_path_plain.pcap", rec);
    const unsigned pool_before = rte_mempool_in_use_count(g_pool);
    Timing timing;
    uint64_t created = 0, drops = 0;
    {
      Worker worker(nullptr, nullptr);
      timing = replay(rec, worker, snap, now_tsc);
      created = worker.counters().flows_created.read();
      drops = worker.totalDrops();
    }
    if (rte_mempool_in_use_count(g_pool) != pool_before) fail("plain replay: mbufs leaked");
    if (created != opt.requests || drops != 0) {
      fail(absl::StrFormat("plain replay: %u flows, %u drops for %u requests", created, drops, opt.requests));
    }
    r.cycles_per_request.push_back(static_cast<double>(timing.process_cycles) / opt.requests);
    wall.push_back(timing.wall_seconds * 1e9 / opt.requests);
    rx_total += rec.rx_frames;
    tx_total += rec.tx_frames;
  }
  r.wall_ns_per_request = median(wall);
  r.packets_per_request = static_cast<double>(rx_total) / (uint64_t{opt.requests} * opt.sets);
  r.tx_per_request = static_cast<double>(tx_total) / (uint64_t{opt.requests} * opt.sets);
  r.checks = absl::StrFormat(
      "every set: flows_created = %u, 0 drops, transmitted bytes = recording, mempool in-use back to start",
      opt.requests);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parseOptions(argc, argv);
  g_ipv6 = opt.ipv6;
  const auto run_start = std::chrono::steady_clock::now();

  // The EAL without hugepages or devices (like the dataplane tests). Its heap is kept too small for a
  // session table, so both tables come from anonymous memory with transparent huge pages requested
  // (SessionTable::create's fallback): 2 MiB pages like tetherd's hugepages, the same for 1M and 10M.
  const std::string prefix = "tether-cookiebench-" + std::to_string(getpid());
  std::vector<std::string> args = {"cookie_path_bench", "-l", "0", "--no-huge", "-m", "64", "--no-shconf",
                                   "--no-pci", "--no-telemetry", "--log-level=*:error", "--file-prefix", prefix};
  std::vector<char*> eal_argv;
  for (std::string& a : args) eal_argv.push_back(a.data());
  eal_argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), eal_argv.data()) < 0) {
    fail(std::string("rte_eal_init: ") + rte_strerror(rte_errno));
  }
  // A per-lcore cache as tetherd's pool has: the proxy allocates its backend SYNs on the timed path.
  g_pool = rte_pktmbuf_pool_create("bench_pool", kPoolMbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (g_pool == nullptr) fail(std::string("rte_pktmbuf_pool_create: ") + rte_strerror(rte_errno));

  const auto http_snap = makeSnapshot(true);
  const auto plain_snap = makeSnapshot(false);
  const SessionSecret secret = SessionSecret::fromSeed(42);
  const double hz = static_cast<double>(rte_get_tsc_hz());

  std::string memory_note;
  std::vector<Result> results;
  results.push_back(runPlain(opt, *plain_snap));
  for (uint64_t size : opt.sizes) results.push_back(runCookiePath(opt, size, *http_snap, secret, memory_note));

  const double plain_cycles = median(results[0].cycles_per_request);
  std::ostringstream out;
  out << "# cookie_path_bench (bench/dataplane/cookie_path_bench.cc): whole sticky HTTP requests through processBurst\n";
  if (opt.ipv6) out << "clients: IPv6 (fd00:99::/96) on the IPv6 VIP fd00:99::100, NAT64 to the IPv4 backends (--ipv6)\n";
  out << absl::StrFormat("cpu: %s, TSC %.2f GHz; %s; burst %u (%u steps x %u connections, pipelined)\n",
                         lb::bench::cpuModel(), hz / 1e9, rte_version(), kSteps * kGroup, kSteps, kGroup);
  out << absl::StrFormat("request: %u-byte head, 6 cookies (SESSIONID random over the table), %u-byte response\n",
                         requestHead(sessionValue(0)).size(), kResponse.size());
  out << absl::StrFormat("%u sets x %u requests per row, fresh sessions and a fresh worker per set; timed: "
                         "processBurst only (rdtsc)\n",
                         opt.sets, opt.requests);
  out << memory_note;
  out << absl::StrFormat("%-46s %12s %10s %10s %10s %8s %8s %10s %9s\n", "path", "req/s/core", "ns/req",
                         "cyc/req", "cyc(min)", "rx/req", "tx/req", "wall ns", "x plain");
  for (const Result& r : results) {
    const double cycles = median(r.cycles_per_request);
    out << absl::StrFormat("%-46s %12.0f %10.0f %10.0f %10.0f %8.1f %8.1f %10.0f %9.2f\n", r.name, hz / cycles,
                           cycles / hz * 1e9, cycles, lb::bench::minOf(r.cycles_per_request), r.packets_per_request,
                           r.tx_per_request, r.wall_ns_per_request, cycles / plain_cycles);
  }
  out << "(req/s, ns, cyc: median set; cyc(min): least disturbed set; wall ns: per request with mbuf fill and free;"
         " x plain: cycles relative to the plain row)\n";
  out << "checks:\n";
  for (const Result& r : results) out << "  " << r.name << ": " << r.checks << "\n";
  out << absl::StrFormat("pcaps: %s/cookie_path_http.pcap, %s/cookie_path_plain.pcap (first set); total run %.1f s\n",
                         opt.pcap_dir, opt.pcap_dir,
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count());
  std::fputs(out.str().c_str(), stdout);
  if (!opt.results.empty()) {
    std::ofstream file(opt.results);
    file << out.str();
    if (!file) fail("cannot write " + opt.results);
  }
  rte_mempool_free(g_pool);
  rte_eal_cleanup();
  return 0;
}
