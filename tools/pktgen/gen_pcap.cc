// gen_pcap: writes a pcap of synthetic client->VIP packets for dataplane benchmarks and tests.
//
// Every flow is one (client address, client port) pair sending to VIP:dport. TCP packets carry the ACK
// flag only (established-flow traffic, the load balancer's steady state); UDP packets are plain
// datagrams. By default each flow sends exactly one packet (--packets = --flows) and the order is a
// seeded shuffle, so a replay touches every flow once per pass in an order no cache can predict. The
// frames are 60 bytes (64 on the wire with FCS) unless --payload or IPv6 makes them longer.
//
// Client addresses come from 198.18.0.0/15 (RFC 2544 benchmarking range) and 2001:2::/48 (RFC 5180);
// flow i uses address (i mod clients) and port (sport_min + i div clients), so both vary.
//
//   gen_pcap --flows 1048576 --proto tcp --vip 10.99.0.100 --dport 80 --dst-mac 02:70:63:61:70:00 --out f.pcap
//
// Exit status: 0 written, 2 bad arguments, 1 I/O error.
#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/pktgen/frame_builder.h"
#include "tools/pktgen/pcap_writer.h"

namespace lb::pktgen {
namespace {

enum class ProtocolMix { kTcp, kUdp, kMixed };
enum class Order { kShuffle, kRoundRobin };

struct Options {
  uint64_t flows = 4096;
  uint64_t packets = 0;  // 0 = one packet per flow
  ProtocolMix protocols = ProtocolMix::kTcp;
  Order order = Order::kShuffle;
  uint32_t vip = 0x0a630064;  // 10.99.0.100
  Ipv6Address vip6{};
  uint16_t dport = 80;
  MacAddress dst_mac{0x02, 0x70, 0x63, 0x61, 0x70, 0x00};  // net_pcap's default port-0 MAC
  MacAddress src_mac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  uint32_t client_net = 0xc6120000;  // 198.18.0.0
  uint8_t client_prefix = 15;
  uint64_t clients = 65536;  // distinct client addresses (capped by --flows and the prefix)
  uint16_t sport_min = 1024;
  unsigned ipv6_percent = 0;
  std::optional<size_t> payload_bytes;  // default: fill the frame to 60 bytes
  uint64_t seed = 1;
  std::string out;
};

// splitmix64 (Steele et al., "Fast splittable pseudorandom number generators", 2014): tiny, seedable,
// and identical across platforms, so a given --seed always yields the same file.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

[[noreturn]] void usageError(const std::string& message) {
  std::fprintf(stderr,
               "gen_pcap: %s\n"
               "usage: gen_pcap --out FILE [--flows N] [--packets N] [--proto tcp|udp|mixed]\n"
               "                [--vip A.B.C.D] [--dport N] [--dst-mac MAC] [--src-mac MAC]\n"
               "                [--client-net A.B.C.D/LEN] [--clients N] [--sport-min N]\n"
               "                [--order shuffle|roundrobin] [--seed N] [--payload BYTES]\n"
               "                [--ipv6-percent 0..100 --vip6 ADDR]\n",
               message.c_str());
  std::exit(2);
}

uint64_t parseUint(std::string_view key, std::string_view text, uint64_t min, uint64_t max) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    usageError(std::string(key) + ": '" + std::string(text) + "' is not an integer in " + std::to_string(min) +
               ".." + std::to_string(max));
  }
  return value;
}

uint32_t parseIpv4(std::string_view key, const std::string& text) {
  in_addr addr{};
  if (inet_pton(AF_INET, text.c_str(), &addr) != 1) usageError(std::string(key) + ": bad IPv4 address '" + text + "'");
  return ntohl(addr.s_addr);
}

Ipv6Address parseIpv6(std::string_view key, const std::string& text) {
  Ipv6Address addr{};
  if (inet_pton(AF_INET6, text.c_str(), addr.data()) != 1) {
    usageError(std::string(key) + ": bad IPv6 address '" + text + "'");
  }
  return addr;
}

MacAddress parseMac(std::string_view key, const std::string& text) {
  MacAddress mac{};
  unsigned b[6];
  char tail = 0;
  if (std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6) {
    usageError(std::string(key) + ": bad MAC address '" + text + "'");
  }
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(b[i]);
  return mac;
}

Options parseArgs(int argc, char** argv) {
  Options opt;
  bool have_vip6 = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view key = argv[i];
    if (key == "-h" || key == "--help") usageError("help");
    if (i + 1 >= argc) usageError(std::string(key) + ": missing value");
    const std::string value = argv[++i];
    if (key == "--flows") {
      opt.flows = parseUint(key, value, 1, 1ull << 32);
    } else if (key == "--packets") {
      opt.packets = parseUint(key, value, 1, 1ull << 32);
    } else if (key == "--proto") {
      if (value == "tcp") opt.protocols = ProtocolMix::kTcp;
      else if (value == "udp") opt.protocols = ProtocolMix::kUdp;
      else if (value == "mixed") opt.protocols = ProtocolMix::kMixed;
      else usageError("--proto: expected tcp, udp or mixed, got '" + value + "'");
    } else if (key == "--order") {
      if (value == "shuffle") opt.order = Order::kShuffle;
      else if (value == "roundrobin") opt.order = Order::kRoundRobin;
      else usageError("--order: expected shuffle or roundrobin, got '" + value + "'");
    } else if (key == "--vip") {
      opt.vip = parseIpv4(key, value);
    } else if (key == "--vip6") {
      opt.vip6 = parseIpv6(key, value);
      have_vip6 = true;
    } else if (key == "--dport") {
      opt.dport = static_cast<uint16_t>(parseUint(key, value, 1, 65535));
    } else if (key == "--dst-mac") {
      opt.dst_mac = parseMac(key, value);
    } else if (key == "--src-mac") {
      opt.src_mac = parseMac(key, value);
    } else if (key == "--client-net") {
      const auto slash = value.find('/');
      if (slash == std::string::npos) usageError("--client-net: expected A.B.C.D/LEN");
      opt.client_prefix = static_cast<uint8_t>(parseUint(key, std::string_view(value).substr(slash + 1), 8, 30));
      const uint32_t mask = ~0u << (32 - opt.client_prefix);
      opt.client_net = parseIpv4(key, value.substr(0, slash)) & mask;
    } else if (key == "--clients") {
      opt.clients = parseUint(key, value, 1, 1ull << 24);
    } else if (key == "--sport-min") {
      opt.sport_min = static_cast<uint16_t>(parseUint(key, value, 1, 65535));
    } else if (key == "--ipv6-percent") {
      opt.ipv6_percent = static_cast<unsigned>(parseUint(key, value, 0, 100));
    } else if (key == "--payload") {
      opt.payload_bytes = parseUint(key, value, 0, 1400);
    } else if (key == "--seed") {
      opt.seed = parseUint(key, value, 0, UINT64_MAX);
    } else if (key == "--out") {
      opt.out = value;
    } else {
      usageError("unknown option " + std::string(key));
    }
  }
  if (opt.out.empty()) usageError("--out is required");
  if (opt.ipv6_percent > 0 && !have_vip6) usageError("--ipv6-percent needs --vip6");
  if (opt.packets == 0) opt.packets = opt.flows;
  // Usable host addresses in the client prefix (skip the network and broadcast addresses).
  const uint64_t hosts = (1ull << (32 - opt.client_prefix)) - 2;
  opt.clients = std::min({opt.clients, opt.flows, hosts});
  const uint64_t ports_needed = (opt.flows + opt.clients - 1) / opt.clients;
  if (opt.sport_min + ports_needed - 1 > 65535) {
    usageError(std::to_string(opt.flows) + " flows need " + std::to_string(ports_needed) +
               " source ports per client from --sport-min " + std::to_string(opt.sport_min) +
               "; raise --clients or widen --client-net");
  }
  return opt;
}

FlowSpec flowFor(const Options& opt, uint64_t i) {
  FlowSpec flow;
  if (opt.protocols == ProtocolMix::kUdp || (opt.protocols == ProtocolMix::kMixed && (i & 1))) {
    flow.protocol = L4Protocol::kUdp;
  }
  const uint64_t client = i % opt.clients;
  flow.src_port = static_cast<uint16_t>(opt.sport_min + i / opt.clients);
  flow.dst_port = opt.dport;
  // Spread IPv6 flows evenly through the flow index space so every prefix of the file has the mix.
  flow.ipv6 = (i % 100) < opt.ipv6_percent;
  if (flow.ipv6) {
    flow.src_ipv6 = {0x20, 0x01, 0x00, 0x02};  // 2001:2::/48, RFC 5180 benchmarking prefix
    const uint32_t host = static_cast<uint32_t>(client + 1);
    flow.src_ipv6[12] = static_cast<uint8_t>(host >> 24);
    flow.src_ipv6[13] = static_cast<uint8_t>(host >> 16);
    flow.src_ipv6[14] = static_cast<uint8_t>(host >> 8);
    flow.src_ipv6[15] = static_cast<uint8_t>(host);
    flow.dst_ipv6 = opt.vip6;
  } else {
    flow.src_ipv4 = opt.client_net + static_cast<uint32_t>(client + 1);
    flow.dst_ipv4 = opt.vip;
  }
  return flow;
}

int run(const Options& opt) {
  const auto start = std::chrono::steady_clock::now();
  // Order of one pass over the flows; later passes repeat it (so every flow gets one packet per pass).
  std::vector<uint32_t> pass(opt.flows);
  std::iota(pass.begin(), pass.end(), 0u);
  if (opt.order == Order::kShuffle) {
    uint64_t state = opt.seed;
    for (size_t i = pass.size() - 1; i > 0; --i) {  // Fisher-Yates
      std::swap(pass[i], pass[splitmix64(state) % (i + 1)]);
    }
  }

  PcapWriter writer(opt.out);
  if (!writer.ok()) {
    std::perror(("gen_pcap: " + opt.out).c_str());
    return 1;
  }
  std::array<uint8_t, kMaxFrameBytes> frame{};
  uint64_t tcp_packets = 0, udp_packets = 0, ipv6_packets = 0, bytes = 0;
  for (uint64_t k = 0; k < opt.packets; ++k) {
    const uint64_t flow_index = pass[k % opt.flows];
    const uint64_t round = k / opt.flows;
    const FlowSpec flow = flowFor(opt, flow_index);
    FrameOptions fo;
    fo.dst_mac = opt.dst_mac;
    fo.src_mac = opt.src_mac;
    const size_t headers = unpaddedFrameBytes(flow, 0);
    fo.payload_bytes = opt.payload_bytes.value_or(headers < kMinFrameBytes ? kMinFrameBytes - headers : 0);
    uint64_t seq_state = opt.seed ^ (flow_index * 0x2545f4914f6cdd1dull);
    const uint64_t r = splitmix64(seq_state);
    fo.tcp_seq = static_cast<uint32_t>(r) + static_cast<uint32_t>(round * fo.payload_bytes);
    fo.tcp_ack = static_cast<uint32_t>(r >> 32);
    fo.ip_id = static_cast<uint16_t>(flow_index + round);
    const size_t n = buildFrame(flow, fo, frame);
    if (n == 0) {
      std::fprintf(stderr, "gen_pcap: frame for flow %llu does not fit\n", static_cast<unsigned long long>(flow_index));
      return 1;
    }
    writer.write({frame.data(), n}, k);  // 1 us apart; net_pcap ignores timestamps
    (flow.protocol == L4Protocol::kTcp ? tcp_packets : udp_packets)++;
    ipv6_packets += flow.ipv6;
    bytes += n;
  }
  if (!writer.close()) {
    std::perror(("gen_pcap: " + opt.out).c_str());
    return 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr,
               "gen_pcap: wrote %llu packets (%llu flows, %llu clients, tcp %llu, udp %llu, ipv6 %llu, %llu frame "
               "bytes) to %s in %.2f s\n",
               static_cast<unsigned long long>(opt.packets), static_cast<unsigned long long>(opt.flows),
               static_cast<unsigned long long>(opt.clients), static_cast<unsigned long long>(tcp_packets),
               static_cast<unsigned long long>(udp_packets), static_cast<unsigned long long>(ipv6_packets),
               static_cast<unsigned long long>(bytes), opt.out.c_str(), seconds);
  return 0;
}

}  // namespace
}  // namespace lb::pktgen

int main(int argc, char** argv) { return lb::pktgen::run(lb::pktgen::parseArgs(argc, argv)); }
