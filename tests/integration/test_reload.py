#!/usr/bin/env python3
"""Integration (d): an established connection survives reloads that change the backend set.

A keep-alive HTTP session (netprobe.py hold) asks GET / to learn which backend X serves it, starts a
30 MB /blob download and stops reading after 2 MB, so the connection sits established with data in
flight. Meanwhile the config is rewritten and tetherd gets SIGHUP twice:
  1. remove a backend Y != X and add b4: new connections reach b4 and never Y;
  2. drain X (weight 0): new connections avoid X. X is now absent from the lookup table, so only the
     flow table can keep the held connection on X.
Then the download resumes and must complete with the right SHA-256, and one more GET / on the same
connection must still be answered by X.
"""
import subprocess
import sys

from harness import (APPS, NETPROBE, TestFailure, VIP, backend_addr, check, log, new_flows, python,
                     read_hold_event, run_test, wait_for, warm_up)

sys.path.insert(0, str(APPS))
from blob import blob_sha256  # noqa: E402

HOLD_BYTES = 30 * 1000 * 1000
PAUSE_AFTER = 2 * 1000 * 1000


def burst(topo, n=40):
    r = topo.probe(["http-burst", "--url", "http://%s/" % VIP, "--n", str(n), "--parallel", "8"])
    check(not r["errors"], "requests failed after reload: %s" % r["errors"][:3])
    return r["counts"]


def wait_backends(lb, want):
    """Until the stats file lists exactly `want` (addresses) for service web."""
    def ok():
        return set(new_flows(lb.read_stats(), "web")) == set(want)
    wait_for("stats to show web backends %s" % sorted(want), ok, 10)


def body(ctx):
    topo = ctx.topology(backends=4)
    b = {i: backend_addr(i) for i in range(1, 5)}
    live = {b[1]: 1, b[2]: 1, b[3]: 1}
    lb = ctx.start_tetherd(ctx.config(list(live.items())))
    warm_up(topo)

    hold = topo.popen("cl", [python(), NETPROBE, "hold", "--host", VIP, "--port", "80", "--bytes",
                             str(HOLD_BYTES), "--pause-after", str(PAUSE_AFTER), "--timeout", "60"],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        x_name = read_hold_event(hold, "backend")["name"]
        x = backend_addr(int(x_name[1:]))
        read_hold_event(hold, "paused")
        log("held connection served by %s (%s), paused after %d of %d bytes" %
            (x_name, x, PAUSE_AFTER, HOLD_BYTES))

        # Reload 1: remove Y (not X), add b4.
        y = next(a for a in (b[1], b[2], b[3]) if a != x)
        del live[y]
        live[b[4]] = 1
        lb.reload(ctx.config(list(live.items())))
        wait_backends(lb, live)
        counts = burst(topo)
        log("after reload 1 (removed %s, added %s): %s" % (y, b[4], counts))
        check("b%d" % (int(y.rsplit(".", 1)[1]) - 10) not in counts, "removed backend %s still gets new flows" % y)
        check(counts.get("b4", 0) > 0, "added backend b4 gets no new flows: %s" % counts)
        if hold.poll() is not None:
            raise TestFailure("held connection's client exited early: %s" % hold.stderr.read()[-2000:])

        # Reload 2: drain X. Its flows may continue; it must get no new ones.
        live[x] = 0
        lb.reload(ctx.config(list(live.items())))
        wait_for("reload 2 to take effect (no new flows to %s)" % x_name,
                 lambda: x_name not in burst(topo, 8), 10, interval=0.5)
        counts = burst(topo)
        log("after reload 2 (drained %s): %s" % (x_name, counts))
        check(x_name not in counts, "drained backend %s still gets new flows" % x_name)

        hold.stdin.write("go\n")
        hold.stdin.flush()
        read_hold_event(hold, "resumed")
        done = read_hold_event(hold, "done")
        hold.wait(timeout=30)
    finally:
        if hold.poll() is None:
            hold.kill()
            hold.wait()
    want = blob_sha256(HOLD_BYTES)
    log("held connection finished: %d bytes, sha256 %s, then GET / answered by %s" %
        (done["read"], done["sha256"][:16], done["name_after"]))
    check(done["read"] == HOLD_BYTES, "held download truncated: %d of %d" % (done["read"], HOLD_BYTES))
    check(done["sha256"] == want, "held download corrupted: %s != %s" % (done["sha256"], want))
    check(done["name_after"] == x_name, "held connection moved from %s to %s" % (x_name, done["name_after"]))
    lb.check_alive()


if __name__ == "__main__":
    run_test("rl", "established connection survives backend changes (SIGHUP)", body)
