#include "tests/dataplane/fragment_frames.h"

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace lb::dataplane::test {
namespace {

constexpr size_t kL3 = sizeof(rte_ether_hdr);
constexpr size_t kIpHeader = sizeof(rte_ipv4_hdr);
constexpr uint16_t kMoreFragments = 0x2000;
constexpr uint16_t kOffsetMask = 0x1fff;

// rte_ipv4_cksum's value is stored as it is, not in network order.
void sealHeader(Bytes& frame) {
  const uint16_t checksum = recomputeIpv4Checksum(frame, kL3);
  std::memcpy(&frame[kL3 + 10], &checksum, sizeof(checksum));
}

}  // namespace

void resealHeader(Bytes& frame) { sealHeader(frame); }

std::vector<Bytes> fragmentFrame(const Bytes& frame, size_t chunk, size_t first_chunk) {
  const size_t total = get16(frame, kL3 + 2);
  const size_t payload = total - kIpHeader;
  std::vector<Bytes> fragments;
  for (size_t at = 0, len = 0; at < payload; at += len) {
    len = std::min(at == 0 && first_chunk != 0 ? first_chunk : chunk, payload - at);
    // Sized once and copied into: GCC 12 warns (-Warray-bounds, wrongly) on insert after a sized construct.
    Bytes f(kL3 + kIpHeader + len);
    std::copy(frame.begin(), frame.begin() + kL3 + kIpHeader, f.begin());
    std::copy(frame.begin() + kL3 + kIpHeader + at, frame.begin() + kL3 + kIpHeader + at + len, f.begin() + kL3 + kIpHeader);
    put16(f, kL3 + 2, static_cast<uint16_t>(kIpHeader + len));
    const bool last = at + len == payload;
    put16(f, kL3 + 6, static_cast<uint16_t>((last ? 0 : kMoreFragments) | (at / 8)));
    sealHeader(f);
    fragments.push_back(std::move(f));
  }
  return fragments;
}

absl::StatusOr<Bytes> joinFragments(const std::vector<Bytes>& fragments, size_t mtu) {
  if (fragments.empty()) {
    return absl::FailedPreconditionError("no fragments");
  }
  struct Piece {
    size_t offset;
    const Bytes* frame;
  };
  std::vector<Piece> pieces;
  const Bytes& first = fragments.front();
  for (const Bytes& f : fragments) {
    const DecodedFrame d = decode(f);
    if (!d.has_ipv4 || d.ihl_bytes != kIpHeader || d.l3_offset != kL3) {
      return absl::FailedPreconditionError("a fragment is not untagged IPv4 without options");
    }
    if (!ipv4HeaderChecksumValid(f, kL3)) {
      return absl::FailedPreconditionError("a fragment's header checksum is wrong");
    }
    if (d.total_length > mtu || f.size() != kL3 + d.total_length) {
      return absl::FailedPreconditionError(
          absl::StrCat("a fragment of ", d.total_length, " IP bytes (MTU ", mtu, ", frame ", f.size(), ")"));
    }
    // MACs, ethertype, then version..TOS, identification, TTL, protocol, addresses.
    const bool same = std::equal(f.begin(), f.begin() + kL3 + 2, first.begin()) &&
                      std::equal(f.begin() + kL3 + 4, f.begin() + kL3 + 6, first.begin() + kL3 + 4) &&
                      std::equal(f.begin() + kL3 + 8, f.begin() + kL3 + 10, first.begin() + kL3 + 8) &&
                      std::equal(f.begin() + kL3 + 12, f.begin() + kL3 + 20, first.begin() + kL3 + 12);
    if (!same) {
      return absl::FailedPreconditionError("fragments disagree on their L2 or IP header");
    }
    pieces.push_back({static_cast<size_t>(d.fragment_offset & kOffsetMask) * 8u, &f});
  }
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.offset < b.offset; });
  size_t payload = 0;
  for (const Piece& p : pieces) payload += p.frame->size() - kL3 - kIpHeader;
  Bytes whole(kL3 + kIpHeader + payload);
  std::copy(pieces.front().frame->begin(), pieces.front().frame->begin() + kL3 + kIpHeader, whole.begin());
  size_t filled = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const Bytes& f = *pieces[i].frame;
    const bool more = (get16(f, kL3 + 6) & kMoreFragments) != 0;
    if (pieces[i].offset != filled || more != (i + 1 < pieces.size())) {
      return absl::FailedPreconditionError(
          absl::StrCat("fragment at offset ", pieces[i].offset, " leaves a hole or overlaps, or MF is wrong"));
    }
    if (i + 1 < pieces.size() && (f.size() - kL3 - kIpHeader) % 8 != 0) {
      return absl::FailedPreconditionError("a fragment other than the last carries a payload that is not a multiple of 8");
    }
    std::copy(f.begin() + kL3 + kIpHeader, f.end(), whole.begin() + kL3 + kIpHeader + filled);
    filled += f.size() - kL3 - kIpHeader;
  }
  put16(whole, kL3 + 2, static_cast<uint16_t>(whole.size() - kL3));
  put16(whole, kL3 + 6, get16(whole, kL3 + 6) & ~(kMoreFragments | kOffsetMask));
  sealHeader(whole);
  return whole;
}

rte_mempool* indirectPool() {
  static rte_mempool* pool = rte_pktmbuf_pool_create("test_indirect", 1023, 0, 0, 0, SOCKET_ID_ANY);
  return pool;
}

}  // namespace lb::dataplane::test
