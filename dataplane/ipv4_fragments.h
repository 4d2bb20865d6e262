// IPv4 fragments (RFC 791) on one lcore: reassembled so the balancer sees the ports of every datagram
// it forwards, and split again when a packet leaves through a port whose MTU it exceeds.
//
// Why reassemble: only a datagram's first fragment carries its ports, so a balancer that forwards
// fragments one by one cannot tell which flow (and which backend) the others belong to, and in
// full-NAT it cannot rewrite them. Large UDP datagrams (DNS with EDNS, SIP, syslog, game and VPN
// traffic) arrive fragmented; without reassembly they are lost. The work is DPDK's ip_frag library
// (bounded table sized at start, death row freed by the caller); it runs only for fragments, which
// the established path never takes.
//
// Bounds: a datagram of at most RTE_LIBRTE_IP_FRAG_MAX_FRAG (8 in Debian's DPDK) fragments, at most
// `max_datagrams` incomplete at once per lcore, each held for at most the timeout. Whatever does not
// complete (timed out, too many fragments, overlapping, a duplicate first or last fragment, the table
// full) is freed and counted as DropReason::kReassemblyFailed, one per fragment.
#pragma once

#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/statusor.h"

namespace lb::dataplane {

struct Ipv4FragmentsConfig {
  uint32_t max_datagrams = 1024;  // incomplete datagrams held at once
  uint64_t timeout_tsc = 0;       // a datagram's fragments are freed this long after its first arrived
  int socket = SOCKET_ID_ANY;
  // Pool of data-less mbufs that split() attaches to the datagram's payload (shared by the lcores).
  rte_mempool* indirect_pool = nullptr;
};

// True for a datagram Ipv4Fragments put together, marked with a dynamic mbuf flag (registered by
// create()): the one kind of mbuf chain the parser accepts, also once it is handed to another lcore.
bool isReassembled(const rte_mbuf* m);

// Frees every segment after the first, which holds all of a reassembled datagram's headers: for an
// answer built in place from them (a RST, ICMP fragmentation needed) that carries none of the payload.
inline void keepFirstSegment(rte_mbuf* m) {
  if (m->next == nullptr) return;
  rte_pktmbuf_free(m->next);
  m->next = nullptr;
  m->nb_segs = 1;
  m->pkt_len = m->data_len;
}

class Ipv4Fragments {
 public:
  static absl::StatusOr<std::unique_ptr<Ipv4Fragments>> create(const Ipv4FragmentsConfig& config);
  ~Ipv4Fragments();
  Ipv4Fragments(const Ipv4Fragments&) = delete;
  Ipv4Fragments& operator=(const Ipv4Fragments&) = delete;

  struct Added {
    rte_mbuf* datagram = nullptr;  // the whole datagram once `m` completed it, else nullptr
    uint32_t freed = 0;            // fragments given up on by this call (this datagram's or stale ones)
  };
  // Takes fragment `m`, whose IPv4 header `ip` (l3_len bytes) follows l2_len bytes of L2 header.
  // The datagram comes back as an mbuf chain: the first fragment's headers, total length and header
  // checksum set for the whole, MF and offset cleared; its payload runs on in the other segments.
  Added add(rte_mbuf* m, rte_ipv4_hdr* ip, uint16_t l2_len, uint16_t l3_len, uint64_t now_tsc);

  // Frees the fragments of datagrams older than the timeout; returns how many.
  uint32_t expire(uint64_t now_tsc);

  // Largest number of fragments split() makes of one packet.
  static constexpr uint16_t kMaxSplit = 64;
  // Splits frame `m` (l2_len bytes of L2 header, then an IPv4 packet without DF) into fragments of
  // at most `mtu` IP bytes, each a single-segment frame with a copy of the L2 header and its own
  // header checksum. `m` is consumed. Returns how many were written to `out`; 0 when the packet has
  // DF set, needs more than out.size() fragments, or the pools ran out (then nothing is left over).
  uint16_t split(rte_mbuf* m, uint16_t l2_len, uint16_t mtu, std::span<rte_mbuf*> out) const;

 private:
  Ipv4Fragments(rte_ip_frag_tbl* table, rte_mempool* indirect_pool) : table_(table), indirect_pool_(indirect_pool) {}
  uint32_t freeDeathRow();

  rte_ip_frag_tbl* table_;
  rte_mempool* indirect_pool_;
  rte_ip_frag_death_row death_row_{};
};

}  // namespace lb::dataplane
