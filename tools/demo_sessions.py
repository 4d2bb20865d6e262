#!/usr/bin/env python3
"""The seeds' lab through Tether: one user logs in, checks their status ten times, logs out.

Three instances of tools/apps/session_app.py keep sessions in process memory. Every request is a new
curl process, so a new TCP connection with a new source port, and curl keeps the session cookie in a
jar. The script runs the scenario twice, with the service balancing on the 5-tuple and on the source
address (the seeds' "IP hash", done with Maglev on the client address), and prints the two runs side
by side. Cookie-based stickiness, which also survives NAT and the loss of an instance, is issue 5.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
import harness  # noqa: E402
from harness import VIP, Context, backend_addr, wait_for  # noqa: E402

SESSION_PORT = 8081
STATUS_CHECKS = 10
STEPS = ["login"] + ["status"] * STATUS_CHECKS + ["logout", "status"]


def run_scenario(tetherd, key):
    args = argparse.Namespace(tetherd=tetherd, mode="fullnat", dynamic_neighbors=False)
    ctx = Context(args, "lab")
    try:
        topo = ctx.topology(backends=3)
        cfg = ctx.config([(backend_addr(i), 1) for i in (1, 2, 3)], web_port=SESSION_PORT)
        cfg["services"][0]["key"] = key
        ctx.start_tetherd(cfg)
        jar = "/tmp/tether-lab-%s.cookies" % ctx.prefix

        def get(step):
            p = topo.curl("http://%s/api/users/%s" % (VIP, step), timeout=5, extra=("-b", jar, "-c", jar))
            return p.stdout.strip() if p.returncode == 0 else "error (curl %d)" % p.returncode
        wait_for("the session app behind tetherd", lambda: get("status").startswith("You Are"), 20, interval=0.3)
        return [get(step) for step in STEPS]
    finally:
        if ctx.tetherd is not None:
            ctx.tetherd.stop()
        if ctx.topo is not None and ctx.topo.is_up:
            ctx.topo.down()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tetherd", required=True)
    args = ap.parse_args()
    harness.log = lambda msg: None
    runs = {key: run_scenario(args.tetherd, key) for key in ("five_tuple", "source_address")}
    print("\n%-8s  %-38s  %-38s" % ("request", "key: five_tuple", "key: source_address"))
    for i, step in enumerate(STEPS):
        print("%-8s  %-38s  %-38s" % (step, runs["five_tuple"][i], runs["source_address"][i]))
    logged_in = lambda run: sum("'Logged In'" in line for line in run[1:1 + STATUS_CHECKS])  # noqa: E731
    print("\nstatus checks that found the session: five_tuple %d/%d, source_address %d/%d" %
          (logged_in(runs["five_tuple"]), STATUS_CHECKS, logged_in(runs["source_address"]), STATUS_CHECKS))
    sys.exit(0 if logged_in(runs["source_address"]) == STATUS_CHECKS else 1)


if __name__ == "__main__":
    main()
