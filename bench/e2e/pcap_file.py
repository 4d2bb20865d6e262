"""What the benchmark's pcap scripts share: reading little-endian pcap files, the RFC 1071 sum, and the
TCP segment of an IPv4 or IPv6 frame."""
import struct
from typing import NamedTuple

# net_pcap writes nanosecond pcaps (0xa1b23c4d); gen_pcap writes microsecond ones (0xa1b2c3d4).
_MAGICS = (0xA1B2C3D4, 0xA1B23C4D)


def records(path, who):
    """Yields (global header, record header, frame) for every frame of the file; `who` names the
    script in the error for a file that is not a little-endian pcap."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24 or struct.unpack("<I", hdr[:4])[0] not in _MAGICS:
            raise SystemExit(f"{who}: {path}: not a little-endian pcap file")
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            incl = struct.unpack("<IIII", rec)[2]
            yield hdr, rec, f.read(incl)


def frames(path, who):
    for _, _, frame in records(path, who):
        yield frame


def ones_sum(data: bytes) -> int:
    """The folded one's-complement sum of the 16-bit words: 0xffff over data whose stored checksum
    is right; ~sum & 0xffff is the value to store."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


class TcpSegment(NamedTuple):
    """A TCP segment carried in an untagged Ethernet frame, over IPv4 or IPv6 (no extension headers)."""
    version: int   # 4 or 6
    l3_len: int    # the IP header's length: IHL * 4, or 40
    src: bytes     # addresses, 4 or 16 bytes
    dst: bytes
    sport: int
    dport: int
    seq: int
    ack: int
    l4: bytes      # TCP header and payload, as far as the IP header's length field says

    @property
    def payload_len(self):
        return len(self.l4) - (self.l4[12] >> 4) * 4

    @property
    def pseudo(self):
        """The pseudo-header the TCP checksum covers: RFC 793 for IPv4, RFC 8200 section 8.1 for IPv6."""
        if self.version == 4:
            return self.src + self.dst + struct.pack("!BBH", 0, 6, len(self.l4))
        return self.src + self.dst + struct.pack("!IxxxB", len(self.l4), 6)


def tcp_segment(fr):
    """The TcpSegment of an untagged IPv4/TCP or IPv6/TCP frame, else None."""
    if fr[12:14] == b"\x08\x00" and len(fr) >= 54 and fr[14] >> 4 == 4 and fr[23] == 6:
        l3_len, end, src, dst = (fr[14] & 0xF) * 4, 14 + struct.unpack("!H", fr[16:18])[0], fr[26:30], fr[30:34]
    elif fr[12:14] == b"\x86\xdd" and len(fr) >= 74 and fr[14] >> 4 == 6 and fr[20] == 6:
        l3_len, end, src, dst = 40, 54 + struct.unpack("!H", fr[18:20])[0], fr[22:38], fr[38:54]
    else:
        return None
    l4 = fr[14 + l3_len : end]
    if len(l4) < 20:
        return None
    return TcpSegment(fr[14] >> 4, l3_len, src, dst, *struct.unpack("!HHII", l4[:12]), l4)
