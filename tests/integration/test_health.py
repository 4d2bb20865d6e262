#!/usr/bin/env python3
"""Integration (issue 4): HTTP health checks through the kernel exception path move traffic.

tetherd runs with `--exception-tap tether0`, so its io_uring health checks leave P-lb's kernel
through the dataplane like any other frame. Service web checks GET /health every 200 ms (timeout
150 ms, rise 2, fall 2) on three real backends. A keep-alive download (netprobe.py hold) is paused on
backend X, and X is then broken three ways in turn with tools/apps/backend_http.py's control signals:

  closed  SIGUSR2: listening sockets closed; SYN answered by RST   -> "connect: Connection refused"
  hung    SIGSTOP: SYN answered from the listen backlog, no reply   -> "timeout after 150 ms (response)"
  sick    SIGUSR1: GET /health answers 500                          -> "HTTP status 500, expected 200"

For each: X goes down (one transition, after at least fall-1 intervals), the others stay up with no
transition, new connections from the client avoid X (client counts and the live stats agree), X stays
down without flapping; then X recovers (SIGHUP/SIGCONT), comes back up after `rise` passes and gets new
connections again. The held connection stays on X throughout and finishes intact. Last, a backend
whose SYN is never answered (10.99.0.99: nobody answers ARP for it) is added with tetherctl and goes
down with a connect timeout without a single client flow sent to it.
"""
import os
import signal
import subprocess
import sys
import time

from harness import (APPS, NETPROBE, TestFailure, VIP, backend_addr, check, log, new_flows, python,
                     read_hold_event, run_test, wait_for, warm_up, web_backend_port)

sys.path.insert(0, str(APPS))
from blob import blob_sha256  # noqa: E402

HC = {"type": "http", "interval_ms": 200, "timeout_ms": 150, "rise": 2, "fall": 2,
      "http_path": "/health", "http_expect_status": 200}
BURST = 45                 # P(a healthy backend of 3 gets none of 45) = (2/3)^45 ~ 1e-8
DOWN_WITHIN_S = 5.0        # generous: fall * interval + timeout is 0.55 s; the CI machine is shared
# (name, signal that breaks X, signal that heals it, expected last_error)
MODES = [
    ("closed", signal.SIGUSR2, signal.SIGHUP, "connect: Connection refused"),
    ("hung", signal.SIGSTOP, signal.SIGCONT, "timeout after 150 ms (response)"),
    ("sick", signal.SIGUSR1, signal.SIGHUP, "HTTP status 500, expected 200"),
]
UNREACHABLE = "10.99.0.99"
HOLD_BYTES = 20 * 1000 * 1000


def burst(topo, n=BURST):
    r = topo.probe(["http-burst", "--url", "http://%s/" % VIP, "--n", str(n), "--parallel", "8",
                    "--max-time", "5"], timeout=90)
    check(not r["errors"], "%d of %d requests failed: %s" % (len(r["errors"]), n, r["errors"][:3]))
    return r["counts"]


def wait_state(ctl, key, state, after_transitions, timeout):
    """Polls `tetherctl --json health` until backend `key` is in `state`; returns (seconds, entry)."""
    t0 = time.monotonic()
    seen = {}

    def reached():
        h = ctl.health()[key]
        seen["last"] = h
        return h if h["state"] == state else None
    try:
        h = wait_for("%s:%d to be %s" % (key[0], key[1], state), reached, timeout, interval=0.03)
    except TestFailure:
        raise TestFailure("%s:%d not %s after %.1fs; last health %s" % (key[0], key[1], state, timeout,
                                                                       seen.get("last")))
    elapsed = time.monotonic() - t0
    check(h["transitions"] == after_transitions,
          "%s:%d: %d transitions, expected %d (a flap?): %s" % (key[0], key[1], h["transitions"],
                                                               after_transitions, h))
    return elapsed, h


def check_others(ctl, keys, want_transitions):
    health = ctl.health()
    for k in keys:
        h = health[k]
        check(h["state"] == "up" and h["transitions"] == want_transitions[k],
              "healthy backend %s:%d changed: %s (expected up with %d transitions)" %
              (k[0], k[1], h, want_transitions[k]))


def body(ctx):
    topo = ctx.topology(backends=3)
    port = web_backend_port(ctx.args.mode)
    addrs = [backend_addr(i) for i in (1, 2, 3)]
    keys = [(a, port) for a in addrs]
    lb = ctx.start_tetherd(ctx.config([(a, 1) for a in addrs], health_check=HC),
                           extra_args=["--exception-tap", "tether0"])
    ctl = ctx.tetherctl()

    def all_up():
        h = ctl.health()
        return all(h.get(k, {}).get("state") == "up" for k in keys) and h
    health = wait_for("all three backends up", all_up, 10, interval=0.05)
    for k in keys:
        check(health[k]["transitions"] == 1 and health[k]["last_error"] == "",
              "fresh backend %s:%d should have one transition (unknown -> up): %s" % (k[0], k[1], health[k]))
    log("health checks: %s" % ", ".join("%s up" % a for a in addrs))
    warm_up(topo)

    hold = topo.popen("cl", [python(), NETPROBE, "hold", "--host", VIP, "--port", "80", "--bytes",
                             str(HOLD_BYTES), "--pause-after", str(1000 * 1000), "--timeout", "60"],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        x_name = read_hold_event(hold, "backend")["name"]
        read_hold_event(hold, "paused")
        x = backend_addr(int(x_name[1:]))
        xk = (x, port)
        others = [k for k in keys if k != xk]
        pid = int((topo.state_dir / ("%s-http.pid" % x_name)).read_text())
        log("held connection on %s (%s); its HTTP server is pid %d" % (x_name, x, pid))
        transitions = {k: health[k]["transitions"] for k in keys}

        for mode, break_sig, heal_sig, want_error in MODES:
            log("--- %s: %s to %s" % (mode, signal.Signals(break_sig).name, x_name))
            os.kill(pid, break_sig)
            try:
                transitions[xk] += 1
                secs, h = wait_state(ctl, xk, "down", transitions[xk], DOWN_WITHIN_S)
                log("%s down after %.2fs: %r" % (x_name, secs, h["last_error"]))
                check(h["last_error"] == want_error, "%s: last_error %r, expected %r" %
                      (mode, h["last_error"], want_error))
                # fall = 2: the second failure comes one interval after the first at the earliest.
                check(secs >= 0.5 * HC["interval_ms"] / 1000.0 * (HC["fall"] - 1),
                      "%s went down after %.3fs, before %d failed checks could have happened" %
                      (x_name, secs, HC["fall"]))
                check_others(ctl, others, transitions)

                before = ctl.json("stats")
                counts = burst(topo)
                after = ctl.json("stats")
                delta = {a: new_flows(after, "web")[a] - new_flows(before, "web")[a] for a in addrs}
                log("%d new connections while %s is down: clients %s, tetherd new_flows %s" %
                    (BURST, x_name, counts, delta))
                check(x_name not in counts,
                      "%s is down but got %d new connections" % (x_name, counts.get(x_name, 0)))
                check(delta[x] == 0, "stats count %d new flows to the down backend %s" % (delta[x], x))
                check(sum(delta.values()) == BURST and all(delta[a] == counts.get("b%d" % (i + 1), 0)
                                                           for i, a in enumerate(addrs)),
                      "stats new_flows %s do not match the clients' %s" % (delta, counts))
                h = ctl.health()[xk]
                check(h["state"] == "down" and h["transitions"] == transitions[xk],
                      "%s did not stay down: %s" % (x_name, h))
                if hold.poll() is not None:
                    raise TestFailure("held connection's client exited: %s" % hold.stderr.read()[-2000:])
            finally:
                os.kill(pid, heal_sig)
            transitions[xk] += 1
            secs, h = wait_state(ctl, xk, "up", transitions[xk], DOWN_WITHIN_S)
            log("%s healed (%s): up after %.2fs" % (x_name, signal.Signals(heal_sig).name, secs))
            # A check already in flight when the server resumes can pass at once, and checks are
            # spread with jitter, so only require a clear fraction of (rise - 1) intervals.
            check(secs >= 0.4 * HC["interval_ms"] / 1000.0 * (HC["rise"] - 1),
                  "%s came up after %.3fs, before %d passing checks" % (x_name, secs, HC["rise"]))
            check(h["last_error"] == "", "up backend still shows an error: %s" % h)
            check_others(ctl, others, transitions)
            counts = burst(topo)
            log("%d new connections after recovery: %s" % (BURST, counts))
            check(counts.get(x_name, 0) > 0, "%s is up again but got no new connections: %s" % (x_name, counts))

        hold.stdin.write("go\n")
        hold.stdin.flush()
        read_hold_event(hold, "resumed")
        done = read_hold_event(hold, "done")
        hold.wait(timeout=30)
    finally:
        if hold.poll() is None:
            hold.kill()
            hold.wait()
    check(done["read"] == HOLD_BYTES and done["sha256"] == blob_sha256(HOLD_BYTES),
          "held download through three outages of %s is damaged: %s" % (x_name, done))
    check(done["name_after"] == x_name, "held connection moved from %s to %s" % (x_name, done["name_after"]))
    log("held connection on %s survived all three outages: %d bytes, sha256 ok" % (x_name, done["read"]))

    # A backend that never answers a SYN (no host has its address, so not even ARP is answered).
    log("--- unreachable: tetherctl backends add web %s:%d" % (UNREACHABLE, port))
    before = ctl.json("stats")
    ctl.run("backends", "add", "web", "%s:%d" % (UNREACHABLE, port))
    secs, h = wait_state(ctl, (UNREACHABLE, port), "down", 1, DOWN_WITHIN_S)
    log("%s down after %.2fs: %r" % (UNREACHABLE, secs, h["last_error"]))
    check(h["last_error"] == "timeout after 150 ms (connect)", "unexpected error for %s: %r" %
          (UNREACHABLE, h["last_error"]))
    counts = burst(topo)
    after = ctl.json("stats")
    log("%d new connections with %s down: %s" % (BURST, UNREACHABLE, counts))
    check(new_flows(after, "web").get(UNREACHABLE, 0) == 0, "flows were sent to the unreachable backend")
    check(new_flows(after, "web")[x] - new_flows(before, "web")[x] == counts.get(x_name, 0),
          "stats disagree with the clients after adding %s" % UNREACHABLE)
    ctl.run("backends", "remove", "web", "%s:%d" % (UNREACHABLE, port))
    check(all(h["state"] == "up" for h in ctl.health().values()),
          "after removing %s not everything is up: %s" % (UNREACHABLE, ctl.health()))
    lb.check_alive()


if __name__ == "__main__":
    run_test("hc", "HTTP health checks through the exception path move traffic", body, timeout_s=85)
