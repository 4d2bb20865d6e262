#!/usr/bin/env python3
"""End-to-end demo: real curl clients -> VIP -> tetherd (DPDK, af_packet) -> three HTTP backends.

For each forwarding mode it builds the tools/topology network, starts tetherd, opens N new TCP
connections from the client namespace, and prints how they spread over the backends (what the
clients saw and what tetherd counted), then tears everything down. In full-NAT the client then
turns IPv6 on and does the same through the IPv6 VIP, which Tether serves from the same IPv4
backends (NAT64). Reuses the integration-test
harness (tests/integration/harness.py) so the demo and the tests drive Tether the same way.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
import harness  # noqa: E402
from harness import VIP, VIP6, Context, add_ipv6_vip, backend_addr, new_flows_delta, warm_up  # noqa: E402

WEIGHTS = [1, 1, 2]


def burst(topo, lb, label, url, service, connections):
    """N new connections to `url`; prints what the clients saw and tetherd counted per backend."""
    before = lb.fresh_stats()
    r = topo.probe(["http-burst", "--url", url, "--n", str(connections), "--parallel", "8", "--max-time", "10"],
                   timeout=120)
    after = lb.fresh_stats()
    flows = new_flows_delta(before, after, service)
    print("\n%s: %d connections to %s in %.1f s, %d failed" % (label, connections, url, r["seconds"], len(r["errors"])))
    print("  %-8s %-12s %6s %9s %12s %17s" % ("backend", "address", "weight", "expected", "clients saw",
                                               "tetherd new_flows"))
    for i, w in enumerate(WEIGHTS):
        name, addr = "b%d" % (i + 1), backend_addr(i + 1)
        print("  %-8s %-12s %6d %9.1f %12d %17d" % (name, addr, w, connections * w / sum(WEIGHTS),
                                                    r["counts"].get(name, 0), flows.get(addr, 0)))
    drops = {k: v for k, v in harness.drops_delta(before, after).items() if v}
    print("  drops: %s" % (drops or "none"))
    return not r["errors"]


def demo_mode(tetherd, mode, connections):
    args = argparse.Namespace(tetherd=tetherd, mode=mode, dynamic_neighbors=False)
    ctx = Context(args, "demo")
    try:
        topo = ctx.topology(backends=len(WEIGHTS))
        backends = [(backend_addr(i + 1), w) for i, w in enumerate(WEIGHTS)]
        cfg = ctx.config(backends)
        if mode == "fullnat":
            add_ipv6_vip(cfg)
        lb = ctx.start_tetherd(cfg)
        warm_up(topo)
        ok = burst(topo, lb, mode, "http://%s/" % VIP, "web", connections)
        if mode == "fullnat":
            topo.enable_client_ipv6()
            ok = burst(topo, lb, "fullnat, IPv6 clients (NAT64)", "http://[%s]/" % VIP6, "web6", connections) and ok
        return ok
    finally:
        if ctx.tetherd is not None:
            ctx.tetherd.stop()
        if ctx.topo is not None and ctx.topo.is_up:
            ctx.topo.down()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tetherd", required=True)
    ap.add_argument("--connections", type=int, default=300)
    ap.add_argument("--modes", default="fullnat,dsr,ipip")
    args = ap.parse_args()
    harness.log = lambda msg: None  # the demo prints its own summary
    ok = all([demo_mode(args.tetherd, m, args.connections) for m in args.modes.split(",")])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
