#!/usr/bin/env python3
"""A slow, simple Python stand-in for tetherd, for checking tests/integration/ itself.

It accepts tetherd's command line (EAL options, `--`, --config/--stats-file/--stats-interval-ms/
--duration-s), reads the same YAML, owns the interface named in `--vdev net_af_packet0,iface=X`
through an AF_PACKET socket and implements the externally visible contract the integration tests
check: ARP and ping for the port address and the VIPs, fullnat/dsr/ipip forwarding with a flow
table, SIGHUP reload that keeps established flows, the named drop counters, and the stats JSON.
It is NOT a model of Tether's internals: backend choice is a weighted hash, not Maglev, there is
one pretend worker lcore, and validation is minimal. Use it as

    tests/integration/test_spread.py --tetherd tools/apps/fake_tetherd.py

to tell a broken test from a broken tetherd. Never used by the build or by CI.
"""
import argparse
import ipaddress
import json
import os
import select
import signal
import socket
import struct
import sys
import time
import zlib

import yaml

ETH_P_ALL, ETH_P_IP, ETH_P_ARP = 0x0003, 0x0800, 0x0806
SOL_PACKET, PACKET_IGNORE_OUTGOING = 263, 23  # <linux/socket.h>, <linux/if_packet.h>
PROTO = {"tcp": 6, "udp": 17}
DROP_KEYS = ["malformed", "unknown_vip", "no_backend", "no_neighbor", "flow_table_full",
             "no_local_port", "tx_full", "unsupported", "handoff_full"]


def csum_fold(total):
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def checksum(data):
    if len(data) % 2:
        data = bytes(data) + b"\0"
    return (~csum_fold(sum(struct.unpack("!%dH" % (len(data) // 2), data)))) & 0xFFFF


def csum_update(csum, old, new):
    """RFC 1624 incremental update for replacing 16-bit-aligned bytes `old` by `new`."""
    total = (~csum) & 0xFFFF
    for i in range(0, len(old), 2):
        total += ((~((old[i] << 8) | old[i + 1])) & 0xFFFF) + ((new[i] << 8) | new[i + 1])
    return (~csum_fold(total)) & 0xFFFF


class Service:
    def __init__(self, d):
        self.name = d["name"]
        self.vip = socket.inet_aton(d["vip"])
        self.port = int(d["port"])
        self.proto = PROTO[d.get("protocol", "tcp")]
        self.mode = d.get("forwarding", "fullnat")
        self.backends = [(socket.inet_aton(b["address"]), int(b.get("port", self.port)),
                          int(b.get("weight", 1))) for b in d.get("backends", [])]
        # Weighted lookup table: ~1000 slots split by weight (largest remainder).
        total = sum(w for _, _, w in self.backends)
        self.table = []
        if total:
            shares = [(w * 1000 / total, i) for i, (_, _, w) in enumerate(self.backends)]
            counts = [int(s) for s, _ in shares]
            for _, i in sorted(shares, key=lambda x: x[0] - int(x[0]), reverse=True)[:1000 - sum(counts)]:
                counts[i] += 1
            for i, c in enumerate(counts):
                self.table += [i] * c


class Config:
    def __init__(self, path):
        with open(path) as f:
            d = yaml.safe_load(f)
        port = d["ports"][0]
        iface = ipaddress.ip_interface(port["address"])
        self.addr = socket.inet_aton(str(iface.ip))
        self.net = iface.network
        self.gateway = socket.inet_aton(port["gateway"]) if port.get("gateway") else None
        self.services = {(s.vip, s.port, s.proto): s for s in map(Service, d.get("services", []))}
        self.vips = {s.vip for s in self.services.values()}
        self.neighbors = {socket.inet_aton(n["address"]): bytes.fromhex(n["mac"].replace(":", ""))
                          for n in d.get("neighbors", []) or []}
        t = d.get("timeouts", {}) or {}
        self.tcp_s = int(t.get("tcp_established_s", 300))
        self.udp_s = int(t.get("udp_s", 30))
        dp = d.get("dataplane", {}) or {}
        self.lport_min = int(dp.get("local_port_min", 10000))
        self.lport_max = int(dp.get("local_port_max", 59999))


class Flow:
    __slots__ = ("svc_key", "mode", "backend", "bport", "lport", "client", "cport", "seen")


class FakeTether:
    def __init__(self, iface, cfg_path):
        self.iface, self.cfg_path = iface, cfg_path
        self.cfg = Config(cfg_path)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            self.sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            pass
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 << 20)
        self.sock.bind((iface, 0))
        self.sock.setblocking(False)
        self.mac = self.sock.getsockname()[4]
        self.neigh = dict(self.cfg.neighbors)
        self.arp_sent = {}
        self.flows = {}      # (proto, client, cport, vip, vport) -> Flow
        self.reverse = {}    # (proto, backend, bport, lport) -> Flow, fullnat only
        self.next_lport = self.cfg.lport_min
        self.rx = self.tx = 0
        self.drops = dict.fromkeys(DROP_KEYS, 0)
        self.new_flows = {}  # (service name, backend addr, port) -> n
        self.ident = 0

    # --- control ----------------------------------------------------------------------------------
    def reload(self):
        try:
            cfg = Config(self.cfg_path)
        except Exception as e:  # keep the old config, like the real one must
            sys.stderr.write("fake_tetherd: reload failed, keeping the old config: %s\n" % e)
            return
        self.cfg = cfg
        self.neigh.update(cfg.neighbors)
        sys.stderr.write("fake_tetherd: reloaded %s\n" % self.cfg_path)

    def stats(self):
        svcs = []
        for s in self.cfg.services.values():
            svcs.append({"name": s.name, "backends": [
                {"address": socket.inet_ntoa(a), "port": p,
                 "new_flows": self.new_flows.get((s.name, a, p), 0)} for a, p, _ in s.backends]})
        lc = {"rx_packets": self.rx, "tx_packets": self.tx, "drops": dict(self.drops)}
        return {"lcores": [dict(lcore=1, **lc)], "totals": lc, "flows_active": len(self.flows),
                "services": svcs}

    def expire(self, now):
        for key, f in list(self.flows.items()):
            if now - f.seen > (self.cfg.tcp_s if key[0] == 6 else self.cfg.udp_s):
                del self.flows[key]
                self.reverse.pop((key[0], f.backend, f.bport, f.lport), None)

    # --- dataplane --------------------------------------------------------------------------------
    def send(self, frame):
        try:
            self.sock.send(frame)
            self.tx += 1
        except OSError:
            self.drops["tx_full"] += 1

    def resolve(self, ip):
        mac = self.neigh.get(ip)
        if mac is None:
            now = time.monotonic()
            if now - self.arp_sent.get(ip, 0) > 0.2:
                self.arp_sent[ip] = now
                arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1, self.mac, self.cfg.addr,
                                  b"\0" * 6, ip)
                self.send(b"\xff" * 6 + self.mac + struct.pack("!H", ETH_P_ARP) + arp + b"\0" * 18)
        return mac

    def handle(self, f):
        self.rx += 1
        n = len(f)
        if n < 14:
            self.drops["malformed"] += 1
            return
        if f[0:6] != self.mac and f[0] & 1 == 0:
            return  # unicast for someone else (the bridge flooded it); not ours to count
        etype = (f[12] << 8) | f[13]
        if etype == ETH_P_ARP:
            return self.handle_arp(f)
        if etype != ETH_P_IP:
            self.drops["unsupported"] += 1
            return
        if n < 34 or f[14] >> 4 != 4:
            self.drops["malformed"] += 1
            return
        ihl = (f[14] & 0xF) * 4
        tot = (f[16] << 8) | f[17]
        if ihl < 20 or tot < ihl or 14 + tot > n:
            self.drops["malformed"] += 1
            return
        del f[14 + tot:]
        if ((f[20] << 8) | f[21]) & 0x3FFF:
            self.drops["unsupported"] += 1  # fragments
            return
        proto = f[23]
        src, dst = bytes(f[26:30]), bytes(f[30:34])
        l4 = 14 + ihl
        if proto == 1:
            return self.handle_icmp(f, l4, src, dst)
        if proto == 6:
            if tot - ihl < 20 or f[l4 + 12] >> 4 < 5 or (f[l4 + 12] >> 4) * 4 > tot - ihl:
                self.drops["malformed"] += 1
                return
        elif proto == 17:
            ulen = (f[l4 + 4] << 8) | f[l4 + 5] if tot - ihl >= 8 else 0
            if tot - ihl < 8 or ulen < 8 or ulen > tot - ihl:
                self.drops["malformed"] += 1
                return
        else:
            self.drops["unsupported"] += 1
            return
        sport, dport = struct.unpack_from("!HH", f, l4)
        if dst == self.cfg.addr:
            return self.handle_reverse(f, l4, proto, src, sport, dport)
        svc = self.cfg.services.get((dst, dport, proto))
        if svc is None:
            self.drops["unknown_vip"] += 1
            return
        now = time.monotonic()
        key = (proto, src, sport, dst, dport)
        fl = self.flows.get(key)
        if fl is None:
            if not svc.table:
                self.drops["no_backend"] += 1
                return
            b_addr, b_port, _ = svc.backends[svc.table[zlib.crc32(repr(key).encode()) % len(svc.table)]]
            fl = Flow()
            fl.svc_key, fl.mode, fl.backend, fl.bport = (dst, dport, proto), svc.mode, b_addr, b_port
            fl.client, fl.cport, fl.lport = src, sport, 0
            if svc.mode == "fullnat":
                fl.lport = self.alloc_lport(proto, b_addr, b_port)
                if fl.lport is None:
                    self.drops["no_local_port"] += 1
                    return
                self.reverse[(proto, b_addr, b_port, fl.lport)] = fl
            self.flows[key] = fl
            k = (svc.name, b_addr, b_port)
            self.new_flows[k] = self.new_flows.get(k, 0) + 1
        fl.seen = now
        mac = self.resolve(fl.backend)
        if mac is None:
            self.drops["no_neighbor"] += 1
            return
        if fl.mode == "dsr":
            f[0:12] = mac + self.mac
            return self.send(f)
        if fl.mode == "ipip":
            self.ident = (self.ident + 1) & 0xFFFF
            outer = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + tot, self.ident, 0x4000, 64, 4,
                                          0, self.cfg.addr, fl.backend))
            outer[10:12] = struct.pack("!H", checksum(outer))
            return self.send(mac + self.mac + b"\x08\x00" + bytes(outer) + bytes(f[14:]))
        self.rewrite(f, l4, proto, self.cfg.addr, fl.lport, fl.backend, fl.bport)
        f[0:12] = mac + self.mac
        self.send(f)

    def alloc_lport(self, proto, b_addr, b_port):
        span = self.cfg.lport_max - self.cfg.lport_min + 1
        for _ in range(span):
            p = self.next_lport
            self.next_lport = self.cfg.lport_min + (p + 1 - self.cfg.lport_min) % span
            if (proto, b_addr, b_port, p) not in self.reverse:
                return p
        return None

    def handle_reverse(self, f, l4, proto, src, sport, dport):
        fl = self.reverse.get((proto, src, sport, dport))
        if fl is None:
            self.drops["unknown_vip"] += 1
            return
        fl.seen = time.monotonic()
        mac = self.resolve(fl.client)
        if mac is None:
            self.drops["no_neighbor"] += 1
            return
        self.rewrite(f, l4, proto, fl.svc_key[0], fl.svc_key[1], fl.client, fl.cport)
        f[0:12] = mac + self.mac
        self.send(f)

    def rewrite(self, f, l4, proto, new_src, new_sport, new_dst, new_dport):
        old = bytes(f[26:34]) + bytes(f[l4:l4 + 4])
        new = new_src + new_dst + struct.pack("!HH", new_sport, new_dport)
        f[26:34] = new[:8]
        f[l4:l4 + 4] = new[8:]
        f[24:26] = b"\0\0"
        f[24:26] = struct.pack("!H", checksum(f[14:l4]))
        off = l4 + (16 if proto == 6 else 6)
        c = (f[off] << 8) | f[off + 1]
        if proto == 17 and c == 0:
            return  # UDP without checksum stays without
        c = csum_update(c, old, new)
        if proto == 17 and c == 0:
            c = 0xFFFF
        f[off:off + 2] = struct.pack("!H", c)

    def handle_arp(self, f):
        if len(f) < 42:
            self.drops["malformed"] += 1
            return
        op = (f[20] << 8) | f[21]
        sha, spa, tpa = bytes(f[22:28]), bytes(f[28:32]), bytes(f[38:42])
        if ipaddress.ip_address(spa) in self.cfg.net and spa != b"\0\0\0\0":
            self.neigh[spa] = sha
        if op == 1 and (tpa == self.cfg.addr or tpa in self.cfg.vips):
            arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 2, self.mac, tpa, sha, spa)
            self.send(sha + self.mac + struct.pack("!H", ETH_P_ARP) + arp + b"\0" * 18)

    def handle_icmp(self, f, l4, src, dst):
        if dst != self.cfg.addr and dst not in self.cfg.vips:
            self.drops["unknown_vip"] += 1
            return
        if len(f) < l4 + 8 or f[l4] != 8:
            self.drops["unsupported"] += 1
            return
        f[0:12] = bytes(f[6:12]) + bytes(f[0:6])
        f[26:34] = dst + src
        f[24:26] = b"\0\0"
        f[24:26] = struct.pack("!H", checksum(f[14:l4]))
        f[l4] = 0
        f[l4 + 2:l4 + 4] = b"\0\0"
        f[l4 + 2:l4 + 4] = struct.pack("!H", checksum(f[l4:]))
        self.send(f)


def main():
    argv = sys.argv[1:]
    eal, app = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else ([], argv)
    iface = None
    for i, a in enumerate(eal):
        if a == "--vdev" and i + 1 < len(eal):
            for kv in eal[i + 1].split(",")[1:]:
                if kv.startswith("iface="):
                    iface = kv[len("iface="):]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--stats-file")
    ap.add_argument("--stats-interval-ms", type=int, default=1000)
    ap.add_argument("--duration-s", type=float)
    args = ap.parse_args(app)
    if iface is None:
        sys.exit("fake_tetherd: no --vdev net_af_packet0,iface=IF among the EAL options")

    lb = FakeTether(iface, args.config)
    flags = {"reload": False, "stop": False}
    signal.signal(signal.SIGHUP, lambda *_: flags.__setitem__("reload", True))
    signal.signal(signal.SIGTERM, lambda *_: flags.__setitem__("stop", True))
    signal.signal(signal.SIGINT, lambda *_: flags.__setitem__("stop", True))
    sys.stderr.write("fake_tetherd: port %s mac %s, %d services\n" % (
        iface, ":".join("%02x" % b for b in lb.mac), len(lb.cfg.services)))
    sys.stderr.flush()
    start = last_stats = last_expire = 0.0
    start = time.monotonic()
    interval = args.stats_interval_ms / 1000.0
    buf = bytearray(65536)
    while not flags["stop"]:
        now = time.monotonic()
        if args.duration_s and now - start >= args.duration_s:
            break
        if flags["reload"]:
            flags["reload"] = False
            lb.reload()
        if args.stats_file and now - last_stats >= interval:
            last_stats = now
            tmp = args.stats_file + ".tmp"
            with open(tmp, "w") as fp:
                json.dump(lb.stats(), fp)
            os.replace(tmp, args.stats_file)
        if now - last_expire >= 1.0:
            last_expire = now
            lb.expire(now)
        try:
            r, _, _ = select.select([lb.sock], [], [], min(interval, 0.05))
        except InterruptedError:
            continue
        if not r:
            continue
        for _ in range(256):
            try:
                n, addr = lb.sock.recvfrom_into(buf)
            except BlockingIOError:
                break
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            lb.handle(bytearray(buf[:n]))
    sys.stderr.write("fake_tetherd: stopping\n")


if __name__ == "__main__":
    main()
