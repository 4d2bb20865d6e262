#!/usr/bin/env python3
"""Integration (g): UDP through the VIP: every datagram is answered, each flow sticks to one backend.

netprobe.py udp opens F connected UDP sockets (so replies are only accepted from VIP:9000) and sends
M datagrams on each; the backends' echo answers "<name>:<payload>". Every datagram must be answered
(a lost one is retried, not a failure, up to 3 times), all datagrams of one socket must reach the
same backend, the flows must spread over more than one backend, and the `echo` service's new_flows
must grow by exactly F. Works in every forwarding mode (--mode).
In fullnat mode a second UDP service, VIP:9999, points at a backend port where nothing listens: the
backend's ICMP port unreachable goes to Tether's address, and Tether must relay it to the client,
whose connected socket then reports the refusal.
Before any of that, on af_packet: the same configuration with 16 KB ring frames but the default
mbuf_data_room must be refused at start (non-zero exit, no stats ever written, the key named).
Large datagrams: 4 flows send 8000-byte datagrams, which the client's kernel sends in 6 fragments.
With --pmd pcap tetherd sees the fragments as they are on the wire and must reassemble each datagram;
on af_packet (run with 16 KB ring frames and mbufs to match) the kernel has joined them already,
since DPDK's driver sets PACKET_FANOUT_FLAG_DEFRAG. Either way Tether balances the datagram as one
and forwards it in fragments that fit the backend's MTU; in fullnat the backend's 8000-byte answers
come back fragmented the same way. Every answer must carry the exact payload, and the counters must
account for every datagram: reassembled by Tether (pcap) and fragmented again (both).
In every mode the client then plays a router on its own side: after an echo it sends the VIP ICMP
fragmentation needed (MTU 1300) about the echo's reply. Tether must pass it to the backend that
answered, whose kernel then caches MTU 1300 for the reply's destination (the client; in fullnat,
Tether's address): `ip route get` in the backend's namespace shows it.
"""
from harness import CLIENT_ADDR, LB_ADDR, TestFailure, VIP, backend_addr, check, log, new_flows_delta, run_test, wait_for

FLOWS = 40
PER_FLOW = 3
CLOSED_PORT = 9999  # a VIP port whose backend port has no listener
LARGE_FRAME_BYTES = 16384  # af_packet ring frames: an 8000-byte datagram, joined by the kernel, fits


def body(ctx):
    topo = ctx.topology(backends=3)
    backends = [(backend_addr(i), 1) for i in (1, 2, 3)]
    closed = []
    if ctx.args.mode == "fullnat":
        closed = [{"name": "closed", "vip": VIP, "port": CLOSED_PORT, "protocol": "udp", "forwarding": "fullnat",
                   "backends": [{"address": backend_addr(1), "port": CLOSED_PORT}]}]
    cfg = ctx.config(backends, extra_services=closed)
    if getattr(ctx.args, "pmd", "af_packet") == "af_packet":
        # The driver refuses mbufs smaller than its ring frames; tetherd must say which key to raise.
        output = ctx.expect_tetherd_refuses(cfg, "set mbuf_data_room to at least framesz + 96",
                                            af_packet_frame_bytes=LARGE_FRAME_BYTES)
        log("16 KB ring frames with the default mbuf_data_room: refused at start (%s)" %
            next(line for line in output.splitlines() if "mbuf_data_room" in line).strip())
    lb = ctx.start_tetherd(cfg, af_packet_frame_bytes=LARGE_FRAME_BYTES)

    def warm():
        r = topo.probe(["udp", "--vip", VIP, "--flows", "1", "--per-flow", "1", "--retries", "1"])
        return r["flows"][0]["answered"] == 1
    wait_for("first UDP echo through the VIP", warm, 20, interval=0.2)
    before = lb.fresh_stats()

    r = topo.probe(["udp", "--vip", VIP, "--flows", str(FLOWS), "--per-flow", str(PER_FLOW),
                    "--pad", "700"], timeout=120)
    flows = r["flows"]
    per_backend = {}
    for f in flows:
        check(f["answered"] == PER_FLOW, "flow from port %d: %d of %d datagrams answered (unexpected: %s)"
              % (f["sport"], f["answered"], PER_FLOW, f["unexpected"]))
        check(len(f["backends"]) == 1, "flow from port %d answered by several backends: %s" %
              (f["sport"], f["backends"]))
        per_backend[f["backends"][0]] = per_backend.get(f["backends"][0], 0) + 1
    log("%d UDP flows x %d datagrams (%s): all answered from %s:9000, flows per backend %s" %
        (FLOWS, PER_FLOW, ctx.args.mode, VIP, per_backend))
    check(len(per_backend) >= 2, "all %d flows went to one backend: %s" % (FLOWS, per_backend))

    want = {backend_addr(int(name[1:])): n for name, n in per_backend.items()}
    state = {}

    def match():
        state["d"] = {a: n for a, n in new_flows_delta(before, lb.fresh_stats(), "echo").items() if n}
        return state["d"] == want
    try:
        wait_for("echo new_flows to match", match, 5, interval=0)
    except TestFailure:
        raise TestFailure("stats new_flows delta for echo %s != flows per backend %s" % (state.get("d"), want))
    log("stats agree: echo new_flows delta %s" % state["d"])
    if closed:
        check_port_unreachable_relayed(topo, lb)
    check_large_datagrams(topo, lb, ctx.args.mode, ctx.args.pmd)
    check_frag_needed_reaches_backend(topo, lb, ctx.args.mode)
    lb.check_alive()


def lcore_sum(stats, key):
    return sum(l[key] for l in stats["lcores"])


def check_large_datagrams(topo, lb, mode, pmd):
    flows, per_flow, pad = 4, 3, 8000
    before = lb.fresh_stats()
    r = topo.probe(["udp", "--vip", VIP, "--flows", str(flows), "--per-flow", str(per_flow), "--pad", str(pad)],
                   timeout=60)
    for f in r["flows"]:
        check(f["answered"] == per_flow and len(f["backends"]) == 1,
              "large datagrams from port %d: %d of %d answered by %s (unexpected: %s)"
              % (f["sport"], f["answered"], per_flow, f["backends"], f["unexpected"]))
    after = lb.fresh_stats()
    delta = {k: lcore_sum(after, k) - lcore_sum(before, k)
             for k in ("fragments_in", "datagrams_reassembled", "fragments_out")}
    failed = after["totals"]["drops"]["reassembly_failed"] - before["totals"]["drops"]["reassembly_failed"]
    # A datagram cut short (an af_packet ring frame too small for it) would count here.
    malformed = after["totals"]["drops"]["malformed"] - before["totals"]["drops"]["malformed"]
    log("%d UDP flows x %d datagrams of %d bytes (%s, %s): all answered intact; %s, reassembly_failed %d" %
        (flows, per_flow, pad, mode, pmd, delta, failed))
    # Requests only in the DSR modes; answers too in fullnat. Retries may add a few.
    directions = 2 if mode == "fullnat" else 1
    sent = flows * per_flow * directions
    if pmd == "pcap":
        check(delta["datagrams_reassembled"] >= sent, "datagrams_reassembled grew by %d, expected >= %d" %
              (delta["datagrams_reassembled"], sent))
        check(delta["fragments_in"] >= 6 * sent, "fragments_in grew by %d, expected >= %d" %
              (delta["fragments_in"], 6 * sent))
    check(delta["fragments_out"] >= 6 * sent, "fragments_out grew by %d, expected >= %d" %
          (delta["fragments_out"], 6 * sent))
    check(failed == 0, "%d fragments given up on" % failed)
    check(malformed == 0, "%d frames dropped as malformed" % malformed)


def check_port_unreachable_relayed(topo, lb):
    before = lb.fresh_stats()
    r = topo.probe(["udp", "--vip", VIP, "--port", str(CLOSED_PORT), "--flows", "1", "--per-flow", "1",
                    "--retries", "2", "--wait", "2"])
    flow = r["flows"][0]
    after = lb.fresh_stats()
    relayed = sum(l["icmp_relayed"] for l in after["lcores"]) - sum(l["icmp_relayed"] for l in before["lcores"])
    log("UDP to %s:%d (no listener behind it): %s; ICMP errors relayed: %d" % (VIP, CLOSED_PORT, flow, relayed))
    check("ICMP port unreachable" in flow["unexpected"],
          "the client's socket never saw the backend's port unreachable: %s" % flow)
    check(relayed >= 1, "icmp_relayed did not grow")


def check_frag_needed_reaches_backend(topo, lb, mode):
    mtu = 1300
    before = lb.fresh_stats()
    r = topo.probe(["frag-needed-udp", "--vip", VIP, "--mtu", str(mtu)])
    check(r["backend"] is not None, "no echo through the VIP before the ICMP error")
    reply_dst = LB_ADDR if mode == "fullnat" else CLIENT_ADDR
    state = {}

    def learnt():
        state["route"] = topo.run(r["backend"], ["ip", "route", "get", reply_dst]).stdout.strip()
        return "mtu %d" % mtu in state["route"]
    try:
        wait_for("%s's route to %s to learn MTU %d" % (r["backend"], reply_dst, mtu), learnt, 5)
    except TestFailure:
        raise TestFailure("%s never learnt MTU %d for %s: `ip route get` says %r" %
                          (r["backend"], mtu, reply_dst, state.get("route")))
    after = lb.fresh_stats()
    passed = sum(l["icmp_to_backend"] for l in after["lcores"]) - sum(l["icmp_to_backend"] for l in before["lcores"])
    log("ICMP fragmentation needed to %s about %s's reply to %s:%d: passed on %d; %s now routes %r" %
        (VIP, r["backend"], r["src"], r["sport"], passed, r["backend"], state["route"].replace("\n", " | ")))
    check(passed >= 1, "icmp_to_backend did not grow")


if __name__ == "__main__":
    run_test("ud", "UDP echo through the VIP", body)
