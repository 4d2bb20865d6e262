#!/usr/bin/env python3
"""Integration (b, h): new connections spread over backends in proportion to their weights.

N curl connections (8 at a time) to http://VIP/ through tetherd; each response names
its backend. Every connection has its own 5-tuple, so each backend's count is ~Binomial(N, w/sum(w))
and must lie within harness.binomial_tolerance of N*w/sum(w). The stats file's per-backend
new_flows must grow by exactly the number of connections each backend served (one TCP connection is
one flow). Runs in any forwarding mode: fullnat (backends on :8080), dsr and ipip (backends on :80).
With --local-addresses (fullnat), the port has that range of full-NAT source addresses: the backends
must then see connections from every address of the range and from no other.
In ipip mode the client (MTU 1500, like the port) also uploads 2 MB: its full-size segments do not fit
the port once encapsulated, so Tether must answer them with ICMP fragmentation needed, the client's
stack must lower its path MTU to the VIP, and the upload must arrive intact.
With --workers N (N af_packet queue pairs, one per worker lcore), every worker must have received
traffic; in fullnat, replies the kernel's fanout delivered to a worker that does not own the flow
must have been handed over to the owner (handoff_out > 0, and every one received: handoff_in equal).
"""
import hashlib
import ipaddress
import os

from harness import (VIP, TestFailure, backend_addr, binomial_tolerance, check, drops_delta, log, new_flows_delta,
                     run_test, wait_for, warm_up)


def add_args(ap):
    ap.add_argument("--connections", type=int, help="default 300 in fullnat, 120 in dsr/ipip")
    ap.add_argument("--weights", default="1,1,2", help="backend weights, comma separated")
    ap.add_argument("--local-addresses", help="fullnat: the port's local_addresses, first-last")


def body(ctx):
    args = ctx.args
    weights = [int(w) for w in args.weights.split(",")]
    n = args.connections or (300 if args.mode == "fullnat" else 120)
    topo = ctx.topology(backends=len(weights))
    backends = [(backend_addr(i + 1), w) for i, w in enumerate(weights)]
    lb = ctx.start_tetherd(ctx.config(backends, local_addresses=args.local_addresses))
    warm_up(topo)
    before = lb.fresh_stats()

    log("%d connections to http://%s/ (%s, weights %s)" % (n, VIP, args.mode, weights))
    r = topo.probe(["http-burst", "--url", "http://%s/" % VIP, "--n", str(n), "--parallel", "8",
                    "--max-time", "10"], timeout=120)
    log("done in %.1fs: %s" % (r["seconds"], r["counts"]))
    check(not r["errors"], "%d of %d requests failed, e.g. %s" % (len(r["errors"]), n, r["errors"][:3]))
    counts = r["counts"]
    unknown = set(counts) - {"b%d" % (i + 1) for i in range(len(weights))}
    check(not unknown, "responses from unexpected backends: %s" % unknown)

    total_w = sum(weights)
    chi2 = 0.0
    problems = []
    for i, w in enumerate(weights):
        name, p = "b%d" % (i + 1), w / total_w
        got, want, tol = counts.get(name, 0), n * p, binomial_tolerance(n, p)
        chi2 += (got - want) ** 2 / want if want else 0
        log("  %s weight %d: %3d connections, expected %.1f +- %.1f (share %.3f vs %.3f)" %
            (name, w, got, want, tol, got / n, p))
        if abs(got - want) > tol:
            problems.append("%s got %d, expected %.1f +- %.1f" % (name, got, want, tol))
        elif w > 0 and got == 0:  # the tolerance allows 0 for small N; P(0) is < 1e-7 there
            problems.append("%s (weight %d) got no connections" % (name, w))
    log("  chi-square %.2f with %d degrees of freedom" % (chi2, len(weights) - 1))
    check(not problems, "spread outside tolerance: " + "; ".join(problems))

    # Stats: one new flow per connection, attributed to the backend that answered.
    want_flows = {backend_addr(i + 1): counts.get("b%d" % (i + 1), 0) for i in range(len(weights))}
    state = {}

    def flows_match():
        state["after"] = lb.fresh_stats()
        state["delta"] = new_flows_delta(before, state["after"], "web")
        return state["delta"] == want_flows
    try:
        wait_for("stats new_flows to match the responses", flows_match, 5, interval=0)
    except TestFailure:
        raise TestFailure("stats new_flows delta %s != responses per backend %s" %
                             (state.get("delta"), want_flows))
    dd = drops_delta(before, state["after"])
    log("stats agree: new_flows delta %s; drop deltas %s" % (state["delta"], dd or "none"))
    check(dd.get("malformed", 0) == 0 and dd.get("unsupported", 0) == 0,
          "well-formed traffic was counted as malformed/unsupported: %s" % dd)
    if args.local_addresses:
        check_local_addresses(topo, args.local_addresses)
    if args.mode == "ipip":
        check_path_mtu_discovery(ctx, topo, lb)
    if args.workers > 1:
        check_workers(args, state["after"])
    lb.check_alive()


def check_workers(args, stats):
    lcores = stats["lcores"]
    rx = [l["rx_packets"] for l in lcores]
    out, into = sum(l["handoff_out"] for l in lcores), sum(l["handoff_in"] for l in lcores)
    log("%d workers: rx packets %s, replies handed to their owner %d (received %d)" % (len(lcores), rx, out, into))
    check(len(lcores) == args.workers, "stats list %d lcores, expected %d" % (len(lcores), args.workers))
    check(all(n > 0 for n in rx), "a worker received nothing: rx %s" % rx)
    if args.mode == "fullnat":
        check(out > 0, "no reply reached a worker that does not own its flow: was the fanout exercised?")
        check(into == out, "handoff_out %d != handoff_in %d" % (out, into))


def check_path_mtu_discovery(ctx, topo, lb):
    before = lb.fresh_stats()
    data = os.urandom(2 * 1000 * 1000)
    path = ctx.workdir / "upload.bin"
    path.write_bytes(data)
    p = topo.run("cl", ["curl", "-sS", "--fail", "--max-time", "30", "--data-binary", "@%s" % path,
                        "-H", "Content-Type: application/octet-stream", "http://%s/upload" % VIP], timeout=40)
    echoed = p.stdout.strip()
    check(echoed == hashlib.sha256(data).hexdigest(), "ipip upload corrupted or lost: backend saw %s" % echoed)
    after = lb.fresh_stats()
    answered = sum(l["icmp_too_big"] for l in after["lcores"]) - sum(l["icmp_too_big"] for l in before["lcores"])
    route = topo.run("cl", ["ip", "route", "get", VIP]).stdout
    log("ipip upload of %d bytes intact; %d oversized segments answered with ICMP fragmentation needed; "
        "client route: %s" % (len(data), answered, " ".join(route.split())))
    check(answered >= 1, "no ICMP fragmentation needed was sent, so the client's 1500-byte segments fit?")
    check("mtu 1480" in route, "the client did not learn the path MTU 1480: %s" % route.strip())


def check_local_addresses(topo, text):
    first, _, last = text.partition("-")
    first, last = ipaddress.ip_address(first), ipaddress.ip_address(last or first)
    want = {str(ipaddress.ip_address(a)) for a in range(int(first), int(last) + 1)}
    n = 16 * len(want)
    r = topo.probe(["http-burst", "--url", "http://%s/peer" % VIP, "--n", str(n), "--parallel", "8",
                    "--max-time", "10"], timeout=120)
    check(not r["errors"], "%d of %d /peer requests failed, e.g. %s" % (len(r["errors"]), n, r["errors"][:3]))
    seen = {}
    for body, count in r["counts"].items():
        peer = body.split()[-1]
        seen[peer] = seen.get(peer, 0) + count
    log("backends saw connections from %s" % dict(sorted(seen.items())))
    check(set(seen) == want, "full-NAT sources %s, expected exactly %s" % (sorted(seen), sorted(want)))


if __name__ == "__main__":
    run_test("sp", "spread across weighted backends", body, add_args=add_args)
