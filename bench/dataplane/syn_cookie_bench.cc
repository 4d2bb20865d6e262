// SYN cookie encode/decode (dataplane/syn_cookie.h) and the TCP option work around them
// (dataplane/tcp_options.h): the per-SYN and per-handshake-ACK cost of delayed binding under a SYN
// flood, where every SYN costs one encode and every completing ACK one decode.
//
// Inputs are generated before any timed loop: 4096 SYNs (random client address, port and ISN, one VIP)
// and their cookies, visited in turn. `now` is a 2 GHz TSC-like clock advancing 1 us per packet, so
// the epoch key cache is exercised as in a worker (a hit except once per epoch).
//   BM_SynCookie_Encode/timestamps:{0,1}   one SipHash; with timestamps also the TSval arithmetic
//   BM_SynCookie_Decode/age:{0,1}          valid ACK in the issuing epoch (one hash) or the next (two)
//   BM_SynCookie_DecodeForged              random ACK numbers: both epochs tried, then refused
//   BM_TcpOptions_ParseSyn                 Linux's 20-byte SYN options block
//   BM_TcpOptions_TranslateSackAndTs       3 SACK blocks + timestamps rewritten, checksum applied
#include <benchmark/benchmark.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_context.h"
#include "dataplane/checksum.h"
#include "dataplane/syn_cookie.h"
#include "dataplane/tcp_options.h"

namespace lb::dataplane::bench {
namespace {

constexpr size_t kSyns = 4096;  // power of two: index with a mask
constexpr uint64_t kTicksPerSecond = 2'000'000'000;
constexpr uint64_t kTicksPerPacket = 2'000;  // 1 us
constexpr SynCookieClock kClock{.ticks_per_second = kTicksPerSecond, .epoch_seconds = 64};
constexpr uint64_t kEpochTicks = kTicksPerSecond * 64;
constexpr uint64_t kStart = 1000 * kEpochTicks;  // start of an epoch; benchmarks stay inside it
constexpr SipKey kMaster{0x0123456789abcdef, 0xfedcba9876543210};

struct Syn {
  hashing::FlowKeyV4 key;
  uint32_t client_isn;
  SynCookie cookie;  // as issued at kStart
};

std::vector<Syn> makeSyns(SynCookieCodec& codec, bool timestamps) {
  std::mt19937_64 rng(42);
  std::vector<Syn> syns(kSyns);
  const SynOptions offered{.mss = 1460, .window_scale = 7, .sack_permitted = true,
                           .timestamps = timestamps};
  for (Syn& s : syns) {
    const uint64_t r = rng();
    s.key = {.src_addr_be = static_cast<uint32_t>(r), .dst_addr_be = 0x0100000a,
             .src_port_be = static_cast<uint16_t>(r >> 32), .dst_port_be = 0x5000, .protocol = 6};
    s.client_isn = static_cast<uint32_t>(rng());
    s.cookie = *codec.encode(s.key, s.client_isn, offered, kStart);
  }
  return syns;
}

void BM_SynCookie_Encode(benchmark::State& state) {
  const DerivedSecretSource secrets(kMaster);
  SynCookieCodec codec = SynCookieCodec::create(secrets, kClock).value();
  const bool timestamps = state.range(0) != 0;
  const std::vector<Syn> syns = makeSyns(codec, timestamps);
  const SynOptions offered{.mss = 1460, .window_scale = 7, .sack_permitted = true,
                           .timestamps = timestamps};
  size_t i = 0;
  uint64_t now = kStart;
  for (auto _ : state) {
    const Syn& s = syns[i++ & (kSyns - 1)];
    now += kTicksPerPacket;
    benchmark::DoNotOptimize(codec.encode(s.key, s.client_isn, offered, now));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(timestamps ? "SYN with TS, WS 7, SACK" : "SYN without timestamps");
}
BENCHMARK(BM_SynCookie_Encode)->ArgName("timestamps")->Arg(0)->Arg(1);

void BM_SynCookie_Decode(benchmark::State& state) {
  const DerivedSecretSource secrets(kMaster);
  SynCookieCodec codec = SynCookieCodec::create(secrets, kClock).value();
  const std::vector<Syn> syns = makeSyns(codec, true);
  const uint64_t age = static_cast<uint64_t>(state.range(0));
  size_t i = 0;
  uint64_t now = kStart + age * kEpochTicks;
  size_t accepted = 0;
  for (auto _ : state) {
    const Syn& s = syns[i++ & (kSyns - 1)];
    now += kTicksPerPacket;
    const std::optional<SynOptions> options =
        codec.decode(s.key, s.client_isn, s.cookie.server_isn + 1, s.cookie.tsval, now);
    accepted += options.has_value();
    benchmark::DoNotOptimize(options);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["accepted_fraction"] =
      static_cast<double>(accepted) / static_cast<double>(std::max<size_t>(1, i));
  state.SetLabel(age == 0 ? "issuing epoch: 1 hash" : "next epoch: 2 hashes");
}
BENCHMARK(BM_SynCookie_Decode)->ArgName("age")->Arg(0)->Arg(1);

void BM_SynCookie_DecodeForged(benchmark::State& state) {
  const DerivedSecretSource secrets(kMaster);
  SynCookieCodec codec = SynCookieCodec::create(secrets, kClock).value();
  const std::vector<Syn> syns = makeSyns(codec, true);
  std::mt19937_64 rng(7);
  std::vector<uint32_t> acks(kSyns);
  for (uint32_t& ack : acks) ack = static_cast<uint32_t>(rng());
  size_t i = 0;
  uint64_t now = kStart + kEpochTicks;  // epoch > 0, so both candidates are tried
  size_t accepted = 0;
  for (auto _ : state) {
    const size_t n = i++ & (kSyns - 1);
    now += kTicksPerPacket;
    const std::optional<SynOptions> options =
        codec.decode(syns[n].key, syns[n].client_isn, acks[n], syns[n].cookie.tsval, now);
    accepted += options.has_value();
    benchmark::DoNotOptimize(options);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["accepted_fraction"] =
      static_cast<double>(accepted) / static_cast<double>(std::max<size_t>(1, i));
  state.SetLabel("random ack: 2 hashes, refused");
}
BENCHMARK(BM_SynCookie_DecodeForged);

void BM_TcpOptions_ParseSyn(benchmark::State& state) {
  const uint8_t syn[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x11, 0x22, 0x33, 0x44,
                         0, 0, 0, 0, 1, 3, 3, 7};
  TcpOptions parsed;
  for (auto _ : state) {
    benchmark::DoNotOptimize(syn);
    benchmark::DoNotOptimize(parseTcpOptions(syn, parsed));
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("MSS SACKOK TS NOP WS (20 bytes)");
}
BENCHMARK(BM_TcpOptions_ParseSyn);

void BM_TcpOptions_TranslateSackAndTs(benchmark::State& state) {
  // NOP NOP TS, NOP NOP SACK with 3 blocks: 40 bytes, every field 4-byte aligned after the NOPs.
  uint8_t options[40] = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 26};
  for (size_t b = 16; b < sizeof(options); ++b) options[b] = static_cast<uint8_t>(b * 7);
  TcpOptions parsed;
  if (parseTcpOptions(options, parsed) != TcpOptionsError::kNone) {
    state.SkipWithError("options block did not parse");
    return;
  }
  uint16_t check = 0x1234;
  for (auto _ : state) {
    uint64_t delta = translateSackBlocks(options, parsed, 0x01000193);
    delta += translateTimestamps(options, parsed, 0x00abcdef, 0);
    check = checksumApply(check, delta);
    benchmark::DoNotOptimize(check);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("3 SACK blocks + TSval, one checksumApply");
}
BENCHMARK(BM_TcpOptions_TranslateSackAndTs);


}  // namespace
}  // namespace lb::dataplane::bench

int main(int argc, char** argv) {
  benchmark::AddCustomContext("cpu_model", lb::bench::cpuModel());
  benchmark::AddCustomContext("cookie_hash", "SipHash-2-4, 24-byte input, per-epoch key (64 s)");
  benchmark::AddCustomContext("syns", std::to_string(lb::dataplane::bench::kSyns));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
