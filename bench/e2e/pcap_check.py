#!/usr/bin/env python3
"""Independent check of a gen_pcap file: framing, checksums, destination and flow count.

dataplane_bench runs it on every pcap it generates before using it, so a benchmark never measures a
file the load balancer would drop as malformed. It re-implements the checksums (RFC 1071) instead of
sharing code with tools/pktgen, so a bug in the generator cannot hide itself.

usage: pcap_check.py FILE --vip A.B.C.D --dport N [--flows N] [--limit N]
Exit status 0 if every checked packet is valid (and the flow count matches, when given), 1 otherwise.
"""
import argparse
import ipaddress
import struct
import sys

from pcap_file import ones_sum


def csum(data: bytes) -> int:
    return ones_sum(data)  # 0xffff when the stored checksum is right


def check(path, vip, vip6, dport, limit):
    errors, flows, count, protos = [], set(), 0, {6: 0, 17: 0}
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic, vmaj, vmin, _, _, snap, link = struct.unpack("<IHHiIII", hdr)
        if magic != 0xA1B2C3D4 or (vmaj, vmin) != (2, 4) or link != 1:
            return [f"bad pcap header magic={magic:#x} version={vmaj}.{vmin} link={link}"], flows, 0, protos
        while limit is None or count < limit:
            rec = f.read(16)
            if len(rec) < 16:
                break
            _, _, incl, orig = struct.unpack("<IIII", rec)
            fr = f.read(incl)
            n = count
            count += 1
            if incl != orig or incl < 60 or len(fr) != incl:
                errors.append(f"pkt {n}: length incl={incl} orig={orig}")
                continue
            etype = struct.unpack("!H", fr[12:14])[0]
            if etype == 0x0800:
                ip = fr[14:34]
                if ip[0] != 0x45 or csum(ip) != 0xFFFF:
                    errors.append(f"pkt {n}: bad IPv4 header/checksum")
                tot = struct.unpack("!H", ip[2:4])[0]
                proto, src, dst = ip[9], ip[12:16], ip[16:20]
                l4 = fr[34 : 14 + tot]
                pseudo = src + dst + struct.pack("!BBH", 0, proto, len(l4))
                if dst != vip:
                    errors.append(f"pkt {n}: dst {ipaddress.IPv4Address(dst)} is not the VIP")
            elif etype == 0x86DD:
                ip = fr[14:54]
                plen = struct.unpack("!H", ip[4:6])[0]
                proto, src, dst = ip[6], ip[8:24], ip[24:40]
                l4 = fr[54 : 54 + plen]
                pseudo = src + dst + struct.pack("!IxxxB", len(l4), proto)
                if vip6 is not None and dst != vip6:
                    errors.append(f"pkt {n}: dst {ipaddress.IPv6Address(dst)} is not the VIP6")
            else:
                errors.append(f"pkt {n}: ethertype {etype:#x}")
                continue
            if proto not in (6, 17):
                errors.append(f"pkt {n}: protocol {proto}")
                continue
            protos[proto] += 1
            sport, dp = struct.unpack("!HH", l4[:4])
            if dp != dport:
                errors.append(f"pkt {n}: dport {dp}")
            if csum(pseudo + l4) != 0xFFFF:
                errors.append(f"pkt {n}: bad L4 checksum")
            if proto == 6 and l4[13] != 0x10:
                errors.append(f"pkt {n}: TCP flags {l4[13]:#x}, expected ACK only")
            flows.add((proto, src, sport))
            if len(errors) > 20:
                break
    return errors, flows, count, protos


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("--vip", required=True)
    ap.add_argument("--vip6")
    ap.add_argument("--dport", type=int, required=True)
    ap.add_argument("--flows", type=int, help="expected distinct flows (only checked without --limit)")
    ap.add_argument("--limit", type=int, help="check only the first N packets")
    a = ap.parse_args()
    vip6 = ipaddress.IPv6Address(a.vip6).packed if a.vip6 else None
    errors, flows, count, protos = check(a.pcap, ipaddress.IPv4Address(a.vip).packed, vip6, a.dport, a.limit)
    if a.flows is not None and a.limit is None and len(flows) != a.flows:
        errors.append(f"{len(flows)} distinct flows, expected {a.flows}")
    for e in errors[:20]:
        print(f"pcap_check: {a.pcap}: {e}", file=sys.stderr)
    if not errors:
        print(f"pcap_check: {a.pcap}: {count} packets OK (tcp {protos[6]}, udp {protos[17]}, {len(flows)} flows)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
