#!/usr/bin/env python3
"""Integration (issue 4, "Done when"): an operator manages live traffic with tetherctl alone.

A client in P-cl opens new HTTP connections to the VIP continuously (netprobe.py http-loop, ~60/s)
and records every failure and which backend answered, by phase. Service web starts with b1 and b2
(HTTP health checks through the exception path); b3 exists but is not configured. Then, only through
tetherctl in P-lb:

  1. `backends add web b3`            -> `health` shows b3 up; b3 receives new connections.
  2. a keep-alive download is paused on backend X (one of b1..b3);
     `backends drain web X`           -> `backends show` says draining; `top --json` shows X's new
                                         flows/s at 0 while the others continue; /metrics says
                                         admin_state draining and X's new_flows_total stops moving;
     the paused download resumes and finishes intact on X, and X's packets_total grows while
     its new_flows_total does not (established flows continue on a draining backend).
  3. `backends enable web X`          -> X receives new connections again.

At the end, tether_backend_new_flows_total (scraped with `tetherctl metrics` and parsed with
prometheus_client) grew for each backend by exactly the number of connections the clients saw it
serve, and not one client request failed in any phase.
"""
import subprocess
import sys

from harness import (APPS, BackgroundProbe, NETPROBE, VIP, backend_addr, check, log, metric, python,
                     read_hold_event, require_modules, run_test, wait_for, warm_up, web_backend_port)

sys.path.insert(0, str(APPS))
from blob import blob_sha256  # noqa: E402

HC = {"type": "http", "interval_ms": 500, "timeout_ms": 300, "rise": 2, "fall": 2, "http_path": "/health"}
RATE = 60                 # new connections per second from the client
HOLD_BYTES = 10 * 1000 * 1000


def name_of(addr):
    return "b%d" % (int(addr.rsplit(".", 1)[1]) - 10)


def flows_by_backend(samples, addrs, port, family="tether_backend_new_flows_total"):
    return {a: int(metric(samples, family, service="web", backend="%s:%d" % (a, port))) for a in addrs}


def body(ctx):
    topo = ctx.topology(backends=3)
    port = web_backend_port(ctx.args.mode)
    b1, b2, b3 = (backend_addr(i) for i in (1, 2, 3))
    allb = [b1, b2, b3]
    lb = ctx.start_tetherd(ctx.config([(b1, 1), (b2, 1)], health_check=HC, neighbor_hosts=[b3]),
                           extra_args=["--exception-tap", "tether0"])
    ctl = ctx.tetherctl()
    wait_for("b1 and b2 up", lambda: all(h["state"] == "up" for h in ctl.health().values()), 10, interval=0.1)
    warm_up(topo)
    m0 = ctl.metrics()
    base0 = flows_by_backend(m0, [b1, b2], port)

    loop = BackgroundProbe(topo, ["http-loop", "--host", VIP, "--rate", str(RATE), "--parallel", "4",
                                  "--duration", "80"])
    hold = None
    try:
        loop.mark("two")
        wait_for("the client loop to reach both backends", lambda: all(
            v > base0[a] for a, v in flows_by_backend(ctl.metrics(), [b1, b2], port).items()), 10, interval=0.3)

        # 1. Add b3.
        loop.mark("adding")  # requests of phase "two" all started before the change, of "added" after
        out = ctl.run("backends", "add", "web", "%s:%d" % (b3, port)).stdout.strip()
        loop.mark("added")
        log("tetherctl backends add: %s" % out)
        wait_for("b3 health up", lambda: ctl.health()[(b3, port)]["state"] == "up", 10, interval=0.1)
        log("tetherctl health:\n" + ctl.run("health").stdout.rstrip())
        nf_added = flows_by_backend(ctl.metrics(), [b3], port)[b3]  # after the mark: growth is phase "added"
        wait_for("b3 to receive new flows",
                 lambda: flows_by_backend(ctl.metrics(), [b3], port)[b3] > nf_added, 10, interval=0.3)

        # 2. Hold a connection on X, then drain X.
        hold = topo.popen("cl", [python(), NETPROBE, "hold", "--host", VIP, "--port", "80", "--bytes",
                                 str(HOLD_BYTES), "--pause-after", str(1000 * 1000), "--timeout", "60"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        x_name = read_hold_event(hold, "backend")["name"]
        read_hold_event(hold, "paused")
        x = backend_addr(int(x_name[1:]))
        others = [a for a in allb if a != x]
        log("held connection on %s; draining it" % x_name)
        loop.mark("draining")
        out = ctl.run("backends", "drain", "web", "%s:%d" % (x, port)).stdout.strip()
        loop.mark("drained")
        log("tetherctl backends drain: %s" % out)
        shown = ctl.json("backends", "show", "web", "%s:%d" % (x, port))
        check(shown.get("state") == "draining", "backends show after drain: %s" % shown)
        m_drain = ctl.metrics()
        check(metric(m_drain, "tether_backend_admin_state", service="web", backend="%s:%d" % (x, port),
                      state="draining") == 1, "metrics do not show %s draining" % x)

        views = ctl.json_lines("top", "--iterations", "2", "--interval-ms", "1000", timeout=20)
        check(len(views) == 2, "top --iterations 2 printed %d views" % len(views))
        for i, v in enumerate(views):
            rates = {r["address"]: r["new_flows_per_s"] for r in v["backends"] if r["service"] == "web"}
            log("top view %d (%.1fs): new flows/s %s" % (i + 1, v["interval_s"],
                                                       {name_of(a): round(r, 1) for a, r in rates.items()}))
            check(rates[x] == 0, "top shows %.1f new flows/s on draining %s" % (rates[x], x_name))
            for a in others:
                check(rates[a] > 0,
                      "top shows no new flows on %s while %s drains: %s" % (name_of(a), x_name, rates))
        m_top = ctl.metrics()
        nf_drain, nf_top = flows_by_backend(m_drain, allb, port), flows_by_backend(m_top, allb, port)
        log("new_flows_total at drain %s, 2 s later %s" % (nf_drain, nf_top))
        check(nf_top[x] == nf_drain[x],
              "draining %s's new_flows_total moved %d -> %d" % (x_name, nf_drain[x], nf_top[x]))
        check(all(nf_top[a] > nf_drain[a] for a in others), "the other backends stopped taking flows")

        pk_before = flows_by_backend(m_top, [x], port, "tether_backend_packets_total")[x]
        hold.stdin.write("go\n")
        hold.stdin.flush()
        read_hold_event(hold, "resumed")
        done = read_hold_event(hold, "done")
        hold.wait(timeout=30)
        check(done["read"] == HOLD_BYTES and done["sha256"] == blob_sha256(HOLD_BYTES),
              "download held on draining %s is damaged: %s" % (x_name, done))
        check(done["name_after"] == x_name, "held connection moved from %s to %s" % (x_name, done["name_after"]))
        m_hold = ctl.metrics()
        pk_after = flows_by_backend(m_hold, [x], port, "tether_backend_packets_total")[x]
        nf_hold = flows_by_backend(m_hold, [x], port)[x]
        log("held download finished on draining %s: packets_total %d -> %d, new_flows_total %d -> %d" %
            (x_name, pk_before, pk_after, nf_drain[x], nf_hold))
        check(pk_after > pk_before, "draining %s forwarded nothing for its established flow" % x_name)
        check(nf_hold == nf_drain[x], "draining %s took new flows" % x_name)

        # 3. Enable X again.
        loop.mark("enabling")
        out = ctl.run("backends", "enable", "web", "%s:%d" % (x, port)).stdout.strip()
        loop.mark("enabled")
        log("tetherctl backends enable: %s" % out)
        # Counted after the mark: any growth from here is a connection of phase "enabled".
        nf_enabled = flows_by_backend(ctl.metrics(), [x], port)[x]
        wait_for("%s to take new flows again" % x_name,
                 lambda: flows_by_backend(ctl.metrics(), [x], port)[x] > nf_enabled, 10, interval=0.3)
    finally:
        if hold is not None and hold.poll() is None:
            hold.kill()
            hold.wait()
        try:
            result = loop.stop()
        finally:
            loop.kill()

    log("client loop: %d requests in %.1fs (%.0f/s)" % (result["requests"], result["seconds"], result["rate"]))
    total = {}
    failed = 0
    for phase in result["phase_order"]:  # in the order they happened
        r = result["phases"][phase]
        log("  phase %-8s %s, %d failed %s" % (phase, r["counts"], r["failed"], r["errors"][:3]))
        failed += r["failed"]
        for name, n in r["counts"].items():
            total[name] = total.get(name, 0) + n
    check(failed == 0, "%d client requests failed" % failed)
    ph = result["phases"]
    check("b3" not in ph.get("two", {}).get("counts", {}), "b3 answered before it was added")
    check(ph.get("added", {}).get("counts", {}).get("b3", 0) > 0, "b3 got no connections after it was added")
    check(ph.get("drained", {}).get("counts", {}).get(x_name, 0) == 0,
          "%s answered %d connections started after it was drained" %
          (x_name, ph["drained"]["counts"].get(x_name, 0)))
    check(ph.get("enabled", {}).get("counts", {}).get(x_name, 0) > 0, "%s got nothing after enable" % x_name)

    # Metrics agree with the clients exactly: each connection is one flow, plus the held connection.
    m_end = ctl.metrics()
    end = flows_by_backend(m_end, allb, port)
    start = dict(base0, **{b3: 0})
    want = {a: total.get(name_of(a), 0) + (1 if a == x else 0) for a in allb}
    got = {a: end[a] - start[a] for a in allb}
    log("tether_backend_new_flows_total growth %s; clients saw %s (+1 held on %s)" %
        ({name_of(a): v for a, v in got.items()}, {name_of(a): v for a, v in want.items()}, x_name))
    check(got == want, "metrics new_flows_total growth %s != connections the clients saw %s" % (got, want))
    lb.check_alive()


if __name__ == "__main__":
    require_modules("prometheus_client")
    run_test("op", "operator workflow with tetherctl under continuous traffic", body, timeout_s=85)
