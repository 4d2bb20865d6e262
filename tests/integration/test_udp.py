#!/usr/bin/env python3
"""Integration (g): UDP through the VIP: every datagram is answered, each flow sticks to one backend.

netprobe.py udp opens F connected UDP sockets (so replies are only accepted from VIP:9000) and sends
M datagrams on each; the backends' echo answers "<name>:<payload>". Every datagram must be answered
(a lost one is retried, not a failure, up to 3 times), all datagrams of one socket must reach the
same backend, the flows must spread over more than one backend, and the `echo` service's new_flows
must grow by exactly F. Works in every forwarding mode (--mode).
"""
from harness import TestFailure, VIP, backend_addr, check, log, new_flows_delta, run_test, wait_for

FLOWS = 40
PER_FLOW = 3


def body(ctx):
    topo = ctx.topology(backends=3)
    backends = [(backend_addr(i), 1) for i in (1, 2, 3)]
    lb = ctx.start_tetherd(ctx.config(backends))

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
    lb.check_alive()


if __name__ == "__main__":
    run_test("ud", "UDP echo through the VIP", body)
