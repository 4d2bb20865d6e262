// TCP splicing for HTTP delayed binding (issue 5): the per-packet translation that joins the client's
// connection (handshake answered by Tether with a SYN cookie) to the backend's (opened later by
// Tether from the client's ISN), plus the few segments the proxy builds itself (SYN-ACK, SYN, RST).
//
// Because the backend connection starts from the client's ISN, client->backend sequence numbers never
// change; only the numbers the two ends chose differ: our cookie ISN and the backend's ISN (one
// offset, `seq_delta`), our TSval clock and the backend's (one offset, `ts_delta`), the client's
// TSval clock and the one Tether's backend SYN started (one offset, `client_ts_delta`: the SYN's
// TSval must beat a TIME_WAIT the backend may hold on the reused 4-tuple, RFC 7323 5.5, see
// syn_proxy.h), and the window shifts each side announced (RFC 7323 section 2). Each timestamp
// offset is a constant for the connection, so TSvals keep rising on both legs (RFC 7323 5.3). Options one side was granted and the other refused
// are neutralised: NOPs out (RFC 9293 3.1: NOP is valid anywhere), or, for timestamps the client was
// promised but the backend refused, a timestamps option inserted (RFC 7323 3.2: once negotiated,
// every segment carries one). Each translation returns its checksum delta (RFC 1624) so the caller
// folds once per packet together with the full-NAT address rewrite.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/packet_parser.h"
#include "dataplane/tcp_options.h"

namespace lb::dataplane {

// Per proxied flow, in its FlowEntry. Written only by the owning lcore.
struct SpliceState {
  enum Flags : uint8_t {
    kTranslateTs = 1,  // both sides use timestamps: translate TSval and TSecr both ways
    kInsertTs = 2,     // client has timestamps, backend refused: NOP them out c->b, insert b->c
    kStripSack = 4,    // client has SACK, backend refused: NOP out SACK blocks c->b
  };
  uint32_t seq_delta = 0;     // our ISN - backend ISN: b->c seq += delta, c->b ack and SACK -= delta
  uint32_t ts_delta = 0;      // our TSval clock - backend's: b->c TSval += it, c->b TSecr -= it
  uint32_t client_ts_delta = 0;  // backend-facing TSval - client's: c->b TSval += it, b->c TSecr -= it
  uint32_t our_ts_base = 0;   // kInsertTs: our TSval = milliseconds(now) + our_ts_base
  uint32_t client_tsval = 0;  // kInsertTs: the client's latest TSval, echoed in the inserted TSecr
  uint8_t client_shift = 0;        // shift the client scales its windows by (0: not negotiated)
  uint8_t backend_reads_shift = 0; // shift the backend applies to the client's windows
  uint8_t backend_shift = 0;       // shift the backend scales its windows by
  uint8_t client_reads_shift = 0;  // shift the client applies to windows it receives (ours)
  uint8_t flags = 0;
};

// Window rescaling between two shifts: min(65535, (raw << from) >> to), and never 0 for a non-zero
// window (a zero window would stall the sender until it probes).
inline uint16_t rescaleWindow(uint16_t raw, uint8_t from_shift, uint8_t to_shift) {
  if (from_shift == to_shift || raw == 0) return raw;
  const uint64_t bytes = uint64_t{raw} << from_shift;
  const uint64_t scaled = bytes >> to_shift;
  if (scaled == 0) return 1;
  return scaled > 0xffff ? uint16_t{0xffff} : static_cast<uint16_t>(scaled);
}

// Sum of the 16-bit words (as stored) of bytes [begin, end) of an even-aligned area, widened to
// whole words; the caller passes offsets whose widened range stays inside the area.
uint32_t wordSum(const uint8_t* area, size_t begin, size_t end);

// Replaces bytes [begin, end) of the options area with NOPs; returns the checksum delta.
uint64_t nopOut(uint8_t* options, size_t begin, size_t end);

enum class SpliceError : uint8_t { kNone, kBadOptions, kNoHeadroom };

// Client -> backend, before the full-NAT rewrite: ACK and SACK blocks into the backend's space,
// TSval into the clock our SYN started, TSecr into the backend's clock, window rescaled, refused options NOPed out. Adds the checksum delta
// to `l4_delta` (the caller applies it). Records the client's TSval for inserted timestamps.
SpliceError spliceClientToBackend(const ParsedFrame& f, SpliceState& st, uint64_t& l4_delta);

// Backend -> client, before the full-NAT rewrite: sequence number into our space, TSval into our
// clock, TSecr back into the client's clock, window rescaled; with kInsertTs a timestamps option is inserted (the mbuf grows by 12 bytes
// at the front: headers move, `f.ip` and `f.l4` are updated). `now_ms` is the codec's millisecond
// clock. Adds the TCP checksum delta to `l4_delta` and the IPv4 one to `ip_delta`.
SpliceError spliceBackendToClient(rte_mbuf* m, ParsedFrame& f, SpliceState& st, uint32_t now_ms,
                                  uint64_t& l4_delta, uint64_t& ip_delta);

// The options area of a parsed TCP frame, parsed into `parsed`; false when the data offset or an
// option is malformed (the caller drops the frame).
bool parseSegmentOptions(const ParsedFrame& f, TcpOptionsArea& area, TcpOptions& parsed);

// TCP header and payload bytes of a parsed IPv4 or IPv6 frame, as its IP header says (0 when the
// IPv4 lengths are inconsistent).
uint32_t segmentLength(const ParsedFrame& f);
// TCP payload bytes of a parsed TCP frame (0 when the lengths are inconsistent).
uint32_t tcpPayloadLength(const ParsedFrame& f);
// Sets the IP header's length (and the frame's l4_len for IPv6) for a segment of `length` bytes; the
// caller fixes the checksums.
void setSegmentLength(ParsedFrame& f, uint16_t length);
// Swaps source and destination address of an IPv4 or IPv6 frame (no checksum changes: a swap keeps
// every sum).
void swapAddresses(ParsedFrame& f);
// Full IPv4 header and TCP checksums, or the TCP checksum over the IPv6 pseudo-header.
void finishHeaders(const ParsedFrame& f);
inline uint8_t* tcpPayload(const ParsedFrame& f) {
  auto* tcp = static_cast<uint8_t*>(f.l4);
  return tcp + ((tcp[12] >> 4) * 4u);
}

// Turns a received segment into the RST answering it (RFC 9293 3.10.7.3): back to its sender, no
// payload, seq from its ACK. Rewrites the IPv4 or IPv6 header and TCP (full checksums; this packet is
// rare); the caller writes L2.
void turnIntoReset(rte_mbuf* m, ParsedFrame& f);

// Turns a SYN (IPv4 or IPv6) into our SYN-ACK in place: addresses and ports swapped, IPv4 options dropped, the
// given options block, `seq`/`ack`/`window`, full checksums. The caller writes L2. False when the
// mbuf cannot hold the new options (no tailroom).
bool turnIntoSynAck(rte_mbuf* m, ParsedFrame& f, uint32_t seq, uint32_t ack, uint16_t window,
                    const uint8_t* options, uint8_t options_len);

// What buildSyn writes.
struct SynSegment {
  rte_ether_addr src_mac{};
  rte_ether_addr dst_mac{};
  uint16_t vlan = 0;
  uint32_t src_addr_be = 0;
  uint32_t dst_addr_be = 0;
  uint16_t src_port_be = 0;
  uint16_t dst_port_be = 0;
  uint32_t seq = 0;
  uint16_t window = 0;
  uint16_t mss = 0;
  uint8_t window_scale = kNoWindowScale;
  bool sack_permitted = false;
  bool timestamps = false;
  uint32_t tsval = 0;
};

// A SYN in a fresh mbuf from `pool`, or nullptr when the pool is empty.
rte_mbuf* buildSyn(rte_mempool* pool, const SynSegment& syn);

}  // namespace lb::dataplane
