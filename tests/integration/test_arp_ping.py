#!/usr/bin/env python3
"""Integration (e): Tether answers ARP and ping for the VIP and its own address, and resolves
neighbors itself.

Runs with no static `neighbors:` in the config. A raw ARP who-has from the client for the VIP and for
Tether's address must get exactly one well-formed reply carrying P-lb0's MAC; nobody may answer for
an unused address. `ping -c 3` to both addresses must succeed and leave the client's neighbor entry
for the VIP pointing at Tether. Finally HTTP through the VIP works, which needs tetherd to ARP for
the backends (and, in fullnat, for the client) on its own.
"""
import re

from harness import CLIENT_ADDR, LB_ADDR, VIP, check, log, mac_for, run_test, warm_up

UNUSED = "10.99.0.99"


def arp_reply_ok(topo, target, lb_mac):
    r = topo.probe(["arp", "--target", target, "--wait", "1"])
    check(r["replies"], "ARP who-has %s: no reply" % target)
    check(all(x == r["replies"][0] for x in r["replies"]),
          "ARP who-has %s: conflicting replies %s" % (target, r["replies"]))
    a = r["replies"][0]
    want = {"sender_mac": lb_mac, "sender_ip": target, "target_mac": mac_for(CLIENT_ADDR),
            "target_ip": CLIENT_ADDR, "eth_src": lb_mac, "eth_dst": mac_for(CLIENT_ADDR),
            "htype": 1, "ptype": 0x0800, "hlen": 6, "plen": 4}
    wrong = {k: (a[k], v) for k, v in want.items() if a[k] != v}
    check(not wrong, "ARP reply for %s has wrong fields (got, want): %s" % (target, wrong))
    log("ARP who-has %s -> %s is-at %s" % (target, a["sender_ip"], a["sender_mac"]))


def ping_ok(topo, target):
    p = topo.run("cl", ["ping", "-c", "3", "-i", "0.2", "-W", "2", target], timeout=20, check_rc=False)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", p.stdout)
    check(p.returncode == 0 and m and m.group(2) == "3", "ping %s failed:\n%s%s" % (target, p.stdout, p.stderr))
    log("ping %s: 3/3 replies" % target)


def body(ctx):
    ctx.args.dynamic_neighbors = True
    topo = ctx.topology(backends=3)
    lb_mac = topo.lb_mac()
    lb = ctx.start_tetherd(ctx.config([("10.99.0.11", 1), ("10.99.0.12", 1), ("10.99.0.13", 1)]))
    check("neighbors" not in lb.config_path.read_text(), "this test must run without static neighbors")

    arp_reply_ok(topo, VIP, lb_mac)
    arp_reply_ok(topo, LB_ADDR, lb_mac)
    r = topo.probe(["arp", "--target", UNUSED, "--wait", "1"])
    check(r["replies"] == [], "ARP for unused %s answered: %s" % (UNUSED, r["replies"]))
    log("ARP who-has %s (unused): no reply" % UNUSED)

    ping_ok(topo, VIP)
    ping_ok(topo, LB_ADDR)
    neigh = topo.run("cl", ["ip", "neigh", "show", VIP, "dev", "eth0"]).stdout
    check(lb_mac in neigh and re.search(r"REACHABLE|STALE|DELAY|PROBE", neigh),
          "client's neighbor entry for the VIP: %r, want %s" % (neigh.strip(), lb_mac))
    log("client neighbor table: %s" % neigh.strip())

    warm_up(topo, "first HTTP request through the VIP (tetherd resolving neighbors by ARP)")
    r = topo.probe(["http-burst", "--url", "http://%s/" % VIP, "--n", "30", "--parallel", "4"])
    check(not r["errors"], "HTTP via VIP with ARP-resolved neighbors failed: %s" % r["errors"][:3])
    check(len(r["counts"]) >= 2, "30 connections reached only %s" % r["counts"])
    log("30 HTTP requests via the VIP with ARP-resolved neighbors: %s" % r["counts"])
    lb.check_alive()


if __name__ == "__main__":
    run_test("ap", "ARP and ping for the VIP", body)
