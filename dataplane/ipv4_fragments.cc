// rte_ip_frag_table_del_expired_entries is still marked experimental in DPDK 22.11; it is the
// library's only way to free a timed-out datagram before another fragment happens to land on it.
#define ALLOW_EXPERIMENTAL_API 1

#include "dataplane/ipv4_fragments.h"

#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_mbuf_dyn.h>

#include <array>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_format.h"

namespace lb::dataplane {
namespace {

// Ways per bucket of the library's hash table (a power of two); DPDK's ip_reassembly example uses 16.
// Four keep the table at about 0.8 KB per datagram held while the buckets stay roomy: there are as
// many buckets as datagrams.
constexpr uint32_t kBucketEntries = 4;

// One call can put on the death row the datagram it gives up on (up to MAX_FRAG fragments and the
// new one) and a stale datagram evicted to make room: free the row before it could overflow.
constexpr uint32_t kDeathRowReserve = 2 * (RTE_LIBRTE_IP_FRAG_MAX_FRAG + 1);

// Set once by create(), before any worker runs; 0 until then, so nothing counts as reassembled.
uint64_t g_reassembled_flag = 0;

}  // namespace

bool isReassembled(const rte_mbuf* m) { return (m->ol_flags & g_reassembled_flag) != 0; }

absl::StatusOr<std::unique_ptr<Ipv4Fragments>> Ipv4Fragments::create(const Ipv4FragmentsConfig& config) {
  if (config.max_datagrams == 0) return absl::InvalidArgumentError("fragment reassembly needs max_datagrams >= 1");
  if (g_reassembled_flag == 0) {
    rte_mbuf_dynflag flag{};
    std::snprintf(flag.name, sizeof(flag.name), "tether_reassembled");
    const int bit = rte_mbuf_dynflag_register(&flag);  // the same bit again for the same name
    if (bit < 0) return absl::ResourceExhaustedError("no dynamic mbuf flag left to mark reassembled datagrams");
    g_reassembled_flag = uint64_t{1} << bit;
  }
  rte_ip_frag_tbl* table = rte_ip_frag_table_create(config.max_datagrams, kBucketEntries, config.max_datagrams,
                                                    config.timeout_tsc, config.socket);
  if (table == nullptr) {
    return absl::ResourceExhaustedError(absl::StrFormat("cannot allocate the fragment table for %u datagrams (%s)",
                                                        config.max_datagrams, rte_strerror(rte_errno)));
  }
  return std::unique_ptr<Ipv4Fragments>(new Ipv4Fragments(table, config.indirect_pool));
}

Ipv4Fragments::~Ipv4Fragments() {
  freeDeathRow();
  rte_ip_frag_table_destroy(table_);  // frees the mbufs of datagrams still held
}

uint32_t Ipv4Fragments::freeDeathRow() {
  const uint32_t freed = death_row_.cnt;
  if (freed != 0) rte_ip_frag_free_death_row(&death_row_, 0);
  return freed;
}

Ipv4Fragments::Added Ipv4Fragments::add(rte_mbuf* m, rte_ipv4_hdr* ip, uint16_t l2_len, uint16_t l3_len,
                                        uint64_t now_tsc) {
  Added result;
  if (death_row_.cnt + kDeathRowReserve > RTE_IP_FRAG_DEATH_ROW_MBUF_LEN) result.freed += freeDeathRow();
  m->l2_len = l2_len;
  m->l3_len = l3_len;
  result.datagram = rte_ipv4_frag_reassemble_packet(table_, &death_row_, m, now_tsc, ip);
  result.freed += freeDeathRow();
  if (result.datagram != nullptr) {
    result.datagram->ol_flags |= g_reassembled_flag;
    auto* whole = rte_pktmbuf_mtod_offset(result.datagram, rte_ipv4_hdr*, l2_len);
    whole->hdr_checksum = 0;  // the library leaves it zero
    whole->hdr_checksum = rte_ipv4_cksum(whole);
  }
  return result;
}

uint32_t Ipv4Fragments::expire(uint64_t now_tsc) {
  uint32_t freed = 0;
  // Each call stops when the death row has no room for another datagram: free it and go on.
  for (;;) {
    rte_ip_frag_table_del_expired_entries(table_, &death_row_, now_tsc);
    const uint32_t now_freed = freeDeathRow();
    freed += now_freed;
    if (now_freed + RTE_LIBRTE_IP_FRAG_MAX_FRAG < RTE_IP_FRAG_DEATH_ROW_MBUF_LEN) return freed;
  }
}

uint16_t Ipv4Fragments::split(rte_mbuf* m, uint16_t l2_len, uint16_t mtu, std::span<rte_mbuf*> out) const {
  std::array<uint8_t, sizeof(rte_ether_hdr) + sizeof(rte_vlan_hdr)> l2;
  if (l2_len > l2.size() || indirect_pool_ == nullptr) {
    rte_pktmbuf_free(m);
    return 0;
  }
  std::memcpy(l2.data(), rte_pktmbuf_mtod(m, const uint8_t*), l2_len);
  rte_pktmbuf_adj(m, l2_len);  // the library takes the packet from its IPv4 header
  const int32_t made = rte_ipv4_fragment_packet(m, out.data(), static_cast<uint16_t>(out.size()), mtu, m->pool,
                                                indirect_pool_);
  rte_pktmbuf_free(m);  // the fragments hold references to what they need of it
  if (made <= 0) return 0;
  const auto count = static_cast<uint16_t>(made);
  uint16_t ok = 0;
  for (uint16_t i = 0; i < count; ++i) {
    rte_mbuf* fragment = out[i];
    auto* ip = rte_pktmbuf_mtod(fragment, rte_ipv4_hdr*);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    // The header mbuf has the pool's headroom for the L2 header; a single segment (payload copied in
    // from the attached buffer) is what every PMD can send and frees the datagram's mbufs at once.
    auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(fragment, l2_len));
    if (frame == nullptr || rte_pktmbuf_linearize(fragment) != 0) {
      rte_pktmbuf_free(fragment);
      continue;
    }
    std::memcpy(frame, l2.data(), l2_len);
    out[ok++] = fragment;
  }
  if (ok != count) {  // a datagram with a fragment missing is no use to the receiver
    for (uint16_t i = 0; i < ok; ++i) rte_pktmbuf_free(out[i]);
    return 0;
  }
  return ok;
}

}  // namespace lb::dataplane
