#!/usr/bin/env python3
"""Integration (a): tools/topology builds what the other tests assume, and `down` leaves nothing.

No tetherd involved. For each mode: the client reaches every backend's HTTP and UDP echo directly,
offloads are off, Tether's port has no address and nobody answers ARP for the VIP (only Tether may).
dsr: pointing the client's neighbor entry for the VIP at one backend's MAC (what Tether's MAC
rewrite does) gets an answer from that backend, sourced from the VIP. ipip: an IP-in-IP packet to a
backend is decapsulated and answered from the VIP directly. dsr and ipip again with --ipv6 (the
client gets IPv6 as test_ipv6.py gives it): each backend answers neighbour solicitations, HTTP and UDP
on its own IPv6 address but nobody answers a solicitation for the VIP6, and the same dsr and ipip
checks pass over IPv6 (ipip: IPv6-in-IPv4, protocol 41). A failed `up` removes its partial work.
"""
import os
import subprocess

from harness import (CLIENT_ADDR, TOPOLOGY, VIP, VIP6, Topology, backend_addr, backend_addr6, check, log,
                     mac_for, python, run_test)

BACKENDS = 3


def offloads_off(topo, node, dev):
    k = topo.run(node, ["ethtool", "-k", dev]).stdout
    on = [line.split(":")[0] for line in k.splitlines()
          if line.split(":")[0] in ("rx-checksumming", "tx-checksumming", "tcp-segmentation-offload",
                                    "generic-segmentation-offload", "generic-receive-offload")
          and line.split(":")[1].strip().startswith("on")]
    check(not on, "%s/%s still has offloads on: %s" % (node, dev, on))


def common_checks(topo):
    # The client reaches every backend directly: HTTP (GET /, blob integrity, upload) and UDP.
    for i in range(1, BACKENDS + 1):
        addr = backend_addr(i)
        p = topo.curl("http://%s:8080/" % addr)
        check(p.returncode == 0 and p.stdout == "b%d\n" % i, "GET / on %s: %r %r" % (addr, p.stdout, p.stderr))
    p = topo.run("cl", ["sh", "-c", "curl -sS --fail http://%s:8080/blob?bytes=3000001 | sha256sum"
                        % backend_addr(1)])
    want = subprocess.run([python(), str(TOPOLOGY.parent / "apps" / "blob.py"), "3000001"],
                          capture_output=True, text=True, check=True).stdout.strip()
    check(p.stdout.split()[0] == want, "blob sha256 %s != %s" % (p.stdout.split()[0], want))
    p = topo.run("cl", ["sh", "-c", "head -c 2000000 /dev/urandom > /tmp/.tt-up-$$ && "
                        "sha256sum < /tmp/.tt-up-$$ && curl -sS --fail --data-binary @/tmp/.tt-up-$$ "
                        "http://%s:8080/upload; rm -f /tmp/.tt-up-$$" % backend_addr(2)])
    lines = p.stdout.split()
    check(len(lines) == 3 and lines[0] == lines[2], "upload sha256 mismatch: %r" % p.stdout)
    for i in range(1, BACKENDS + 1):
        r = topo.probe(["udp", "--vip", backend_addr(i), "--flows", "2", "--per-flow", "2"])
        for f in r["flows"]:
            check(f["answered"] == 2 and f["backends"] == ["b%d" % i], "UDP echo b%d: %s" % (i, f))
    log("client reaches all %d backends (HTTP GET/blob/upload, UDP echo)" % BACKENDS)

    offloads_off(topo, "cl", "eth0")
    offloads_off(topo, "lb", topo.lb_dev)
    offloads_off(topo, "b1", "eth0")
    offloads_off(topo, "sw", topo.ns("lb"))
    link = topo.run("lb", ["ip", "-o", "link", "show", topo.lb_dev]).stdout
    check("PROMISC" in link and ",UP" in link, "%s not up+promisc: %s" % (topo.lb_dev, link))
    addrs = topo.run("lb", ["ip", "-o", "-4", "addr", "show", topo.lb_dev]).stdout.strip()
    check(addrs == "", "%s must have no IPv4 address: %s" % (topo.lb_dev, addrs))
    check(topo.lb_mac() == mac_for("10.99.0.2"), "unexpected Tether port MAC %s" % topo.lb_mac())
    r = topo.probe(["arp", "--target", VIP, "--wait", "0.5"])
    check(r["replies"] == [], "somebody answers ARP for the VIP without Tether: %s" % r["replies"])
    r = topo.probe(["arp", "--target", backend_addr(1), "--wait", "0.5"])
    check([x["sender_mac"] for x in r["replies"]] == [mac_for(backend_addr(1))], "ARP for b1: %s" % r)
    log("offloads off, %s up/promisc/no address, VIP unanswered by ARP" % topo.lb_dev)

    status = subprocess.run([str(TOPOLOGY), "status", "--prefix", topo.prefix], capture_output=True,
                            text=True, timeout=30)
    check(status.returncode == 0, "topology status says not healthy:\n" + status.stdout + status.stderr)


def dsr_checks(topo):
    # What Tether does in dsr mode, done by hand: the client sends VIP traffic to a backend's MAC.
    for i in range(1, BACKENDS + 1):
        topo.run("cl", ["ip", "neigh", "replace", VIP, "lladdr", mac_for(backend_addr(i)), "dev", "eth0",
                        "nud", "permanent"])
        p = topo.curl("http://%s/" % VIP)
        check(p.stdout == "b%d\n" % i, "dsr: GET http://VIP/ via b%d's MAC: %r %r" % (i, p.stdout, p.stderr))
        r = topo.probe(["udp", "--vip", VIP, "--flows", "1", "--per-flow", "2"])
        check(r["flows"][0]["backends"] == ["b%d" % i] and r["flows"][0]["answered"] == 2,
              "dsr: UDP to VIP via b%d's MAC: %s" % (i, r))
    topo.run("cl", ["ip", "neigh", "del", VIP, "dev", "eth0"])
    log("dsr: every backend accepts VIP traffic sent to its MAC and replies from the VIP (TCP, UDP)")


def ipip_checks(topo):
    for i in range(1, BACKENDS + 1):
        r = topo.probe(["ipip-udp", "--backend", backend_addr(i), "--vip", VIP, "--payload", "hello"])
        check(r["reply"] == "b%d:hello" % i and r["from"] == VIP + ":9000",
              "ipip: encapsulated UDP to b%d: %s" % (i, r))
    log("ipip: every backend decapsulates IP-in-IP and replies from the VIP directly")


def ipv6_checks(topo):
    topo.enable_client_ipv6()
    for i in range(1, BACKENDS + 1):
        addr6, mac = backend_addr6(i), mac_for(backend_addr(i))
        r = topo.probe(["ndp", "--target", addr6, "--wait", "0.5"])
        check([x["target_mac"] for x in r["replies"]] == [mac], "neighbour solicitation for %s: %s" % (addr6, r))
        p = topo.curl("http://[%s]:8080/" % addr6, extra=("-g",))
        check(p.returncode == 0 and p.stdout == "b%d\n" % i, "GET / on [%s]: %r %r" % (addr6, p.stdout, p.stderr))
        r = topo.probe(["udp", "--vip", addr6, "--flows", "1", "--per-flow", "2"])
        f = r["flows"][0]
        check(f["answered"] == 2 and f["backends"] == ["b%d" % i], "UDP echo [%s]: %s" % (addr6, f))
    # Every backend holds the VIP6 on lo; Linux answers solicitations only for the interface's own
    # addresses, so Tether will be the only one to answer for it.
    r = topo.probe(["ndp", "--target", VIP6, "--wait", "0.5"])
    check(r["replies"] == [], "somebody answers neighbour solicitations for the VIP6 without Tether: %s" % r)
    log("IPv6: every backend answers ND, HTTP and UDP on its own address; nobody answers ND for the VIP6")


def dsr_checks6(topo):
    for i in range(1, BACKENDS + 1):
        topo.run("cl", ["ip", "-6", "neigh", "replace", VIP6, "lladdr", mac_for(backend_addr(i)), "dev", "eth0",
                        "nud", "permanent"])
        p = topo.curl("http://[%s]/" % VIP6, extra=("-g",))
        check(p.stdout == "b%d\n" % i, "dsr: GET http://[VIP6]/ via b%d's MAC: %r %r" % (i, p.stdout, p.stderr))
        r = topo.probe(["udp", "--vip", VIP6, "--flows", "1", "--per-flow", "2"])
        check(r["flows"][0]["backends"] == ["b%d" % i] and r["flows"][0]["answered"] == 2,
              "dsr: UDP to VIP6 via b%d's MAC: %s" % (i, r))
    topo.run("cl", ["ip", "-6", "neigh", "del", VIP6, "dev", "eth0"])
    log("dsr: every backend accepts VIP6 traffic sent to its MAC and replies from the VIP6 (TCP, UDP)")


def ipip_checks6(topo):
    for i in range(1, BACKENDS + 1):
        r = topo.probe(["ipip-udp", "--backend", backend_addr(i), "--vip", VIP6, "--payload", "hello6"])
        check(r["reply"] == "b%d:hello6" % i and r["from"] == "[%s]:9000" % VIP6,
              "ipip: IPv6-in-IPv4 UDP to b%d: %s" % (i, r))
    log("ipip: every backend decapsulates IPv6-in-IPv4 (protocol 41) and replies from the VIP6 directly")


def failed_up_cleans_up(ctx):
    prefix = ctx.prefix + "f"
    env = dict(os.environ, TETHER_PYTHON="/bin/false")  # the backend servers die at once
    p = subprocess.run([str(TOPOLOGY), "up", "--prefix", prefix, "--backends", "1"], capture_output=True,
                       text=True, timeout=60, env=env)
    left = Topology(prefix).leftovers()
    if left:
        subprocess.run([str(TOPOLOGY), "down", "--prefix", prefix], capture_output=True, timeout=60)
    check(p.returncode != 0, "up with dead servers should fail")
    check(not left, "failed up left namespaces behind: %s" % left)
    p = subprocess.run([str(TOPOLOGY), "up", "--prefix", prefix, "--mode", "fullnat", "--ipv6"],
                       capture_output=True, text=True, timeout=60)
    left = Topology(prefix).leftovers()
    check(p.returncode != 0 and "--ipv6" in p.stderr and not left,
          "up --mode fullnat --ipv6 must be refused without side effects: rc %d %r, left %s" %
          (p.returncode, p.stderr, left))
    log("a failed `up` removes its partial topology; fullnat refuses --ipv6")


def running(pid):
    """True unless the process is gone or a zombie (exited, waiting for init to reap it)."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def body(ctx):
    for mode, ipv6 in (("fullnat", False), ("dsr", False), ("ipip", False), ("dsr", True), ("ipip", True)):
        topo = ctx.topology(mode=mode, backends=BACKENDS, ipv6=ipv6)
        common_checks(topo)
        if ipv6:
            ipv6_checks(topo)
        if mode == "dsr":
            dsr_checks(topo)
            if ipv6:
                dsr_checks6(topo)
        if mode == "ipip":
            ipip_checks(topo)
            if ipv6:
                ipip_checks6(topo)
        pids = []
        for node in ["sw", "cl", "lb"] + ["b%d" % i for i in range(1, BACKENDS + 1)]:
            pids += subprocess.run(["ip", "netns", "pids", topo.ns(node)], capture_output=True,
                                   text=True).stdout.split()
        check(pids, "no server processes found in the namespaces")
        topo.down()
        topo.down()  # idempotent
        check(not topo.leftovers(), "namespaces left after down: %s" % topo.leftovers())
        alive = [p for p in pids if running(p)]
        check(not alive, "processes survived down: %s" % alive)
        check(not topo.state_dir.exists(), "state dir left after down: %s" % topo.state_dir)
        log("%s%s: down removed all namespaces, processes (%d) and state" %
            (mode, " with IPv6" if ipv6 else "", len(pids)))
        ctx.topo = None
    failed_up_cleans_up(ctx)
    check(CLIENT_ADDR == "10.99.0.10", "harness constants drifted from tools/topology")


if __name__ == "__main__":
    run_test("tt", "topology self-test (no tetherd)", body, needs_tetherd=False)
