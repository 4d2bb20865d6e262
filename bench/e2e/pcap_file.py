"""What the benchmark's pcap scripts share: reading little-endian pcap files, and the RFC 1071 sum."""
import struct

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
