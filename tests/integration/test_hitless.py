#!/usr/bin/env python3
"""Integration (issue 4): 1000 backend changes through the REST API lose no request.

Five backends run; services web (TCP :80) and echo (UDP :9000) start with b1..b3, and b4, b5 have
static neighbor entries so they can be added later. While three kinds of traffic run from P-cl:

  udp-loop     numbered UDP requests (~2000/s, at most 128 unanswered) over 8 flows at a time, each
               flow replaced after 400 requests, so new flows are created all through the changes;
               every request must be answered, and every flow by one backend only (connection
               tracking keeps it there whatever the tables say)
  http-loop    a new TCP connection every ~25 ms (GET /); every one must succeed
  http-stream  one keep-alive connection repeating GET /blob (64 KiB, SHA-256 checked); it must never
               break or change backend

apiprobe.py churn, in P-lb, applies >= 1000 changes through the REST API, alternating between the two
services: add b4 and b5, reweight them, reweight, drain and re-enable b1 and b2, remove b4 and b5.
Each is a real change, so each publishes a new snapshot. The test checks that every change was
answered 2xx, that the daemon's `publishes` grew by at least the number of changes, that nothing was
lost, and reports the change latency and the daemon's last_publish_us.
"""
import json
import time

from harness import (APIPROBE, UDP_PORT, VIP, BackgroundProbe, backend_addr, check, drops_delta, log,
                     python, run_test, warm_up, web_backend_port)

CHANGES = 1000
# At most this many UDP requests unanswered at a time. It is below what a backend's default socket
# buffer holds (212992 bytes, ~170+ small datagrams), so a backend process descheduled on a busy
# machine delays replies but cannot drop them: a loss means the network or tetherd dropped it.
UDP_WINDOW = 128


def add_args(ap):
    ap.add_argument("--changes", type=int, default=CHANGES, help="REST changes to apply (whole cycles)")
    ap.add_argument("--udp-rate", type=float, default=2000, help="UDP requests per second")


def body(ctx):
    args = ctx.args
    topo = ctx.topology(backends=5)
    live = [backend_addr(i) for i in (1, 2, 3)]
    extra = [backend_addr(i) for i in (4, 5)]
    lb = ctx.start_tetherd(ctx.config([(a, 1) for a in live], neighbor_hosts=extra))
    warm_up(topo)
    before = lb.fresh_stats()

    probes = []
    try:
        probes.append(BackgroundProbe(topo, ["udp-loop", "--vip", VIP, "--port", str(UDP_PORT), "--rate",
                                             str(args.udp_rate), "--flows", "8", "--per-flow", "400",
                                             "--window", str(UDP_WINDOW), "--duration", "70"]))
        probes.append(BackgroundProbe(topo, ["http-loop", "--host", VIP, "--rate", "40", "--parallel", "2",
                                             "--duration", "70"]))
        probes.append(BackgroundProbe(topo, ["http-stream", "--host", VIP, "--bytes", "65536", "--rate", "20",
                                             "--duration", "70"]))
        time.sleep(1.0)
        for p in probes:
            p.mark("churn")
        log("traffic running; applying %d changes through the REST API" % args.changes)
        t0 = time.monotonic()
        argv = [python(), APIPROBE, "churn", "--count", str(args.changes),
                "--service", "web:%d" % web_backend_port(args.mode), "--service", "echo:%d" % UDP_PORT]
        for a in extra:
            argv += ["--extra", a]
        for a in live[:2]:
            argv += ["--live", a]
        p = topo.run("lb", argv, timeout=60)
        churn = json.loads(p.stdout.strip().splitlines()[-1])
        log("%d changes in %.1fs (%s); REST latency median %.0f us, p99 %.0f us, max %.0f us" %
            (churn["changes"], time.monotonic() - t0, churn["kinds"], churn["latency_us"]["median"],
             churn["latency_us"]["p99"], churn["latency_us"]["max"]))
        for p in probes:
            p.mark("after")
        time.sleep(1.0)
        udp, http_loop, stream = (p.stop() for p in probes)
    finally:
        for p in probes:
            p.kill()

    after = lb.fresh_stats()
    publishes = churn["after"]["publishes"] - churn["before"]["publishes"]
    log("daemon: publishes %d -> %d (+%d), generation %d, last_publish_us %d" %
        (churn["before"]["publishes"], churn["after"]["publishes"], publishes, churn["after"]["generation"],
         churn["after"]["last_publish_us"]))
    log("udp-loop: %d requests at %.0f/s over %d flows, %d answered, %d lost, max rtt %.1f ms; during churn %s" %
        (udp["sent"], udp["rate"], udp["flows"], udp["answered"], udp["lost"], udp["max_rtt_ms"],
         udp["phases"].get("churn")))
    log("http-loop: %d connections at %.0f/s; during churn %s" %
        (http_loop["requests"], http_loop["rate"], http_loop["phases"].get("churn", {}).get("counts")))
    log("http-stream: %d requests, %d bytes on one connection, backends %s" %
        (stream["requests"], stream["bytes"], stream["backends"]))
    dd = drops_delta(before, after)
    log("tetherd drops during the run: %s" % (dd or "none"))

    check(churn["changes"] >= args.changes, "only %d changes applied" % churn["changes"])
    check(churn["failed"] == 0, "%d REST changes failed: %s" % (churn["failed"], churn["failures"][:5]))
    check(publishes >= churn["changes"], "%d changes but only %d publishes" % (churn["changes"], publishes))
    check(udp["lost"] == 0, "%d of %d UDP requests unanswered (first seqs %s, flows %s)" %
          (udp["lost"], udp["sent"], udp["lost_first"], udp["lost_flows"]))
    check(udp["unexpected_count"] == 0, "unexpected UDP replies: %s" % udp["unexpected"])
    check(not udp["flows_multi_backend"], "UDP flows answered by more than one backend: %s" %
          udp["flows_multi_backend"])
    check(udp["phases"].get("churn", {}).get("sent", 0) > 0, "no UDP traffic during the changes")
    failed = sum(r["failed"] for r in http_loop["phases"].values())
    check(failed == 0, "%d HTTP connections failed: %s" % (
        failed, [e for r in http_loop["phases"].values() for e in r["errors"]][:5]))
    check(http_loop["phases"].get("churn", {}).get("counts"), "no HTTP connections during the changes")
    check(stream["failed"] == 0, "keep-alive stream broke: %s" % stream["errors"][:5])
    check(len(stream["backends"]) == 1, "keep-alive stream changed backend: %s" % stream["backends"])
    check(stream["requests"] > 0, "keep-alive stream made no requests")
    check(not any(dd.get(k) for k in ("no_backend", "no_neighbor", "no_flow", "malformed")),
          "packets dropped during the changes: %s" % dd)
    # The changes were not no-ops for the dataplane: new flows reached the backends being added.
    seen = set(udp["phases"].get("churn", {}).get("counts", {})) | set(
        http_loop["phases"].get("churn", {}).get("counts", {}))
    check(seen & {"b4", "b5"}, "no new flow reached b4 or b5 while they were being added: %s" % sorted(seen))
    lb.check_alive()


if __name__ == "__main__":
    run_test("hl", "1000 REST changes under traffic lose nothing", body, timeout_s=85, add_args=add_args)
