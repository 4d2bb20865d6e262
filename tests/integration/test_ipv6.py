#!/usr/bin/env python3
"""Integration: IPv6 clients reach the backends, configured by their IPv4 addresses, through an IPv6 VIP.

The client namespace gets IPv6 (fd00:99::10/64, on the link of Tether's port address fd00:99::2 and
of the VIP fd00:99::100). The client's kernel must resolve the VIP and Tether's address by neighbour
discovery (Tether answers; nothing is configured on the client), ping both, spread 300 HTTP requests
over the backends in proportion to their weights, move 20 MB each way intact (SHA-256 at both ends),
and get UDP echoes back from the backends. The IPv4 VIP keeps working alongside.

--mode fullnat (NAT64): the backends stay IPv4-only and unchanged. Both directions of a transfer take
the established path, and an ICMPv6 "packet too big" sent to the VIP about a reply must reach the
backend as ICMPv4 "fragmentation needed" with the MTU less 20, which its kernel caches.
--mode dsr|ipip: the backends are dual-stack (tools/topology --ipv6: the VIP6 on lo) and answer the
client directly from the VIP6. Only Tether answers neighbour solicitations and pings for the VIP6
although every backend holds it; the download's replies never pass through Tether; the "packet too
big" reaches the backend as it was sent (ipip: inside IPv6-in-IPv4), and its kernel caches MTU 1300
for the client. ipip: the upload reaches the backends inside IPv6-in-IPv4 (their decapsulators count
it), and its full-size packets do not fit the port once encapsulated, so Tether answers them with
"packet too big" announcing 1480, which the client's kernel caches for the VIP6.
"""
import re
import sys

from harness import (APPS, CLIENT_ADDR6, LB_ADDR, LB_ADDR6, UDP_PORT, VIP, VIP6, TestFailure, add_ipv6_vip,
                     binomial_tolerance, check, drops_delta, log, run_test, wait_for, warm_up)

sys.path.insert(0, str(APPS))
from blob import blob_sha256, file_sha256, write_blob  # noqa: E402

BACKENDS = [("10.99.0.11", 1), ("10.99.0.12", 1), ("10.99.0.13", 2)]


def ping6_ok(topo, target):
    p = topo.run("cl", ["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", target], timeout=20, check_rc=False)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", p.stdout)
    check(p.returncode == 0 and m and m.group(2) == "3", "ping -6 %s failed:\n%s%s" % (target, p.stdout, p.stderr))
    log("ping -6 %s: 3/3 replies" % target)


def curl6(topo, path, extra=(), timeout=70):
    return topo.run("cl", ["curl", "-sS", "-g", "--fail", "--max-time", str(timeout - 10), *extra,
                           "http://[%s]%s" % (VIP6, path)], timeout=timeout)


def check_established(ctx, what, before, after):
    """Both directions of an IPv6 client's flow are armed after their first packets: the backends'
    IPv4 replies are translated into IPv6 on the established path, and so are the client's IPv6
    segments into IPv4. With one worker nearly every packet of a transfer takes it (the handshake and
    the FINs do not). With two, af_packet's fanout may send replies to the worker that does not own
    their flow, which hands them over from its slow path (IPv4 replies: 65-93% established over
    runs), so only the log tells."""
    def total(stats, per_backend):
        return sum(b[per_backend] for s in stats["services"] for b in s["backends"])
    replies = total(after, "reply_packets") - total(before, "reply_packets")
    clients = total(after, "packets") - total(before, "packets")
    fast = (sum(lc["established_path"] for lc in after["lcores"]) -
            sum(lc["established_path"] for lc in before["lcores"]))
    packets = replies + clients
    log("IPv6 %s: %d client packets, %d backend replies, %d on the established path (%.0f%%)" %
        (what, clients, replies, fast, 100.0 * fast / max(packets, 1)))
    if ctx.args.workers == 1:
        check(fast >= 0.9 * packets, "only %d of %d packets took the established path" % (fast, packets))


def lcore_delta(before, after, key):
    return sum(c[key] for c in after["lcores"]) - sum(c[key] for c in before["lcores"])


def check_only_tether_answers(topo, lb, lb_mac, before):
    """dsr/ipip: every backend holds the VIP6 on lo, yet only Tether may answer for it on the link."""
    r = topo.probe(["ndp", "--target", VIP6])
    answerers = [x["eth_src"] for x in r["replies"]]
    check(answerers == [lb_mac] and r["replies"][0]["target_mac"] == lb_mac,
          "neighbour advertisements for %s from %s, want Tether's %s alone: %s" % (VIP6, answerers, lb_mac, r))
    echoes = lcore_delta(before, lb.fresh_stats(), "icmp_replies")
    check(echoes >= 6, "Tether answered %d echo requests; the 6 pings were answered by someone else" % echoes)
    log("only Tether answers for %s: one neighbour advertisement (%s); it answered the %d pings" %
        (VIP6, lb_mac, echoes))


def check_direct_replies(what, before, after, payload_bytes):
    """dsr/ipip: the backends' segments go straight to the client, so Tether receives only the
    client's side, fewer packets than the segments that carried the payload (IPv6 MSS <= 1440)."""
    segments = payload_bytes // 1440
    rx = after["totals"]["rx_packets"] - before["totals"]["rx_packets"]
    log("IPv6 %s: Tether received %d packets for a transfer of at least %d segments" % (what, rx, segments))
    check(rx < segments, "Tether received %d packets during the %s, at least one per segment (%d): did the "
          "replies pass through it?" % (rx, what, segments))


def decap_rx_packets(topo):
    """ipip: packets the backends' decapsulators handed to their kernels, IPv4 and IPv6 inside alike
    (tools/topology: ipip_decap.py's TUN device, or the kernel's sit0 for IPv6-in-IPv4)."""
    env = (topo.state_dir / "topology.env").read_text()
    dev = "sit0" if "ipip_decap=kernel" in env else "ipipu0"
    return sum(int(topo.run("b%d" % i, ["cat", "/sys/class/net/%s/statistics/rx_packets" % dev]).stdout)
               for i in range(1, len(BACKENDS) + 1))


def check_encapsulated(what, before, after, decap_before, decap_after):
    """ipip: what Tether forwarded to the backends reached them inside IPv6-in-IPv4, not as plain
    frames to their MACs, which the VIP6 on lo would take as well."""
    def sent(stats):
        return sum(b["packets"] for s in stats["services"] for b in s["backends"])
    forwarded, decapsulated = sent(after) - sent(before), decap_after - decap_before
    log("IPv6 %s: Tether forwarded %d packets, the backends decapsulated %d" % (what, forwarded, decapsulated))
    check(forwarded > 0 and decapsulated >= 0.9 * forwarded,
          "only %d of the %d packets forwarded during the %s arrived encapsulated" % (decapsulated, forwarded, what))


def check_client_path_mtu(topo, lb, before):
    """ipip: the upload's 1500-byte packets do not fit the port once encapsulated; Tether answers them
    with "packet too big" announcing 1480, and the client's kernel caches that MTU for the VIP6."""
    answered = lcore_delta(before, lb.fresh_stats(), "icmp_too_big")
    route = " ".join(topo.run("cl", ["ip", "-6", "route", "get", VIP6]).stdout.split())
    log("ipip upload: %d oversized packets answered with packet too big; client route: %s" % (answered, route))
    check(answered >= 1, "no ICMPv6 packet too big was sent, so the client's 1500-byte packets fit?")
    check("mtu 1480" in route, "the client did not learn the path MTU 1480 for %s: %s" % (VIP6, route))


def body(ctx):
    mode = ctx.args.mode
    topo = ctx.topology(backends=3, ipv6=mode != "fullnat")
    lb = ctx.start_tetherd(add_ipv6_vip(ctx.config(BACKENDS)))
    lb_mac = topo.lb_mac()
    topo.enable_client_ipv6()
    warm_up(topo)  # IPv4 first: the backends are up and resolved
    before = lb.fresh_stats()

    ping6_ok(topo, VIP6)
    ping6_ok(topo, LB_ADDR6)
    neigh = topo.run("cl", ["ip", "-6", "neigh", "show", VIP6, "dev", "eth0"]).stdout
    check(lb_mac in neigh, "client's neighbour entry for %s: %r, want %s" % (VIP6, neigh.strip(), lb_mac))
    log("client neighbour table: %s" % neigh.strip())
    if mode != "fullnat":
        check_only_tether_answers(topo, lb, lb_mac, before)

    n = 300
    r = topo.probe(["http-burst", "--url", "http://[%s]/" % VIP6, "--n", str(n), "--parallel", "6"], timeout=120)
    check(not r["errors"], "HTTP over IPv6 failed: %s" % r["errors"][:5])
    counts = r["counts"]
    log("HTTP over IPv6: %s in %.1f s" % (counts, r["seconds"]))
    total_weight = sum(w for _, w in BACKENDS)
    for i, (_, w) in enumerate(BACKENDS, 1):
        got, p = counts.get("b%d" % i, 0), w / total_weight
        tol = binomial_tolerance(n, p)
        check(abs(got / n - p) <= tol, "b%d got %d of %d (%.2f), want %.2f +- %.2f" % (i, got, n, got / n, p, tol))

    down_bytes = 20 * 1000 * 1000 + 7
    down_path = ctx.workdir / "download6.bin"
    before_down = lb.fresh_stats()
    curl6(topo, "/blob?bytes=%d" % down_bytes, extra=("-o", str(down_path)))
    got, want = file_sha256(down_path), blob_sha256(down_bytes)
    check(down_path.stat().st_size == down_bytes and got == want,
          "IPv6 download: %d bytes, sha256 %s, want %d bytes %s" % (down_path.stat().st_size, got, down_bytes, want))
    if mode == "fullnat":
        check_established(ctx, "download", before_down, lb.fresh_stats())
    else:
        check_direct_replies("download", before_down, lb.fresh_stats(), down_bytes)
    log("download over IPv6: %d bytes, sha256 matches" % down_bytes)
    up_bytes = 20 * 1000 * 1000 + 3
    up_path = ctx.workdir / "upload6.bin"
    want = write_blob(up_path, up_bytes, seed=66)
    before_up = lb.fresh_stats()
    decap_before = decap_rx_packets(topo) if mode == "ipip" else 0
    echoed = curl6(topo, "/upload", extra=("--data-binary", "@%s" % up_path,
                                          "-H", "Content-Type: application/octet-stream")).stdout.strip()
    check(echoed == want, "IPv6 upload: backend saw sha256 %s, sent %s" % (echoed, want))
    after_up = lb.fresh_stats()
    if mode == "fullnat":
        check_established(ctx, "upload", before_up, after_up)
    log("upload over IPv6: %d bytes, the backend's sha256 matches" % up_bytes)
    if mode == "ipip":
        check_encapsulated("upload", before_up, after_up, decap_before, decap_rx_packets(topo))
        check_client_path_mtu(topo, lb, before_up)

    r = topo.probe(["udp", "--vip", VIP6, "--port", str(UDP_PORT), "--flows", "20", "--per-flow", "3"])
    answered = sum(f["answered"] for f in r["flows"])
    seen = sorted({b for f in r["flows"] for b in f["backends"]})
    check(answered == 60, "UDP over IPv6: %d of 60 echoes answered: %s" % (answered, r["flows"][:3]))
    check(all(len(f["backends"]) == 1 for f in r["flows"]), "a UDP flow changed backend: %s" % r["flows"])
    log("UDP over IPv6: 60/60 echoes from %s" % seen)

    # A router on the client's IPv6 path: "packet too big" (MTU 1300) about an echo's reply. Full-NAT
    # passes it to the backend as "fragmentation needed" with MTU 1280, which its kernel caches for
    # Tether's address; dsr and ipip pass it on as it is, and the backend caches 1300 for the client.
    before_icmp = lb.fresh_stats()
    r = topo.probe(["frag-needed-udp", "--vip", VIP6, "--mtu", "1300"])
    check(r["backend"] is not None, "no UDP echo over IPv6 before the ICMPv6 error")
    if mode == "fullnat":
        dest, want, passed_as = LB_ADDR, "mtu 1280", "fragmentation needed"
        route_cmd = ["ip", "route", "get", LB_ADDR]
    else:
        dest, want = CLIENT_ADDR6, "mtu 1300"
        route_cmd = ["ip", "-6", "route", "get", CLIENT_ADDR6]
        passed_as = "packet too big" + (" in IPv6-in-IPv4" if mode == "ipip" else "")
    state = {}

    def learnt():
        state["route"] = topo.run(r["backend"], route_cmd).stdout.strip()
        return want in state["route"]
    try:
        wait_for("%s's route to %s to learn %s" % (r["backend"], dest, want), learnt, 5)
    except TestFailure:
        raise TestFailure("%s never learnt %s for %s: `%s` says %r" %
                          (r["backend"], want, dest, " ".join(route_cmd), state.get("route")))
    passed = lcore_delta(before_icmp, lb.fresh_stats(), "icmp_to_backend")
    log("ICMPv6 packet too big (1300) about %s's reply: passed on %d as %s; %s routes %r" %
        (r["backend"], passed, passed_as, r["backend"], state["route"]))
    check(passed >= 1, "icmp_to_backend did not grow")

    r = topo.probe(["http-burst", "--url", "http://%s/" % VIP, "--n", "30", "--parallel", "4"])
    check(not r["errors"] and sum(r["counts"].values()) == 30, "IPv4 VIP alongside: %s" % r)

    after = lb.fresh_stats()
    dd = drops_delta(before, after)
    nd = lcore_delta(before, after, "nd_replies")
    log("stats: neighbour advertisements %d, drop deltas %s" % (nd, dd or "none"))
    check(nd >= 1, "no neighbour solicitation answered (nd_replies %d)" % nd)
    check(dd.get("malformed", 0) == 0, "well-formed IPv6 traffic counted as malformed: %s" % dd)


if __name__ == "__main__":
    run_test("v6", "IPv6 clients through an IPv6 VIP (fullnat: NAT64 to IPv4 backends; dsr, ipip: dual-stack "
             "backends)", body, timeout_s=240)
