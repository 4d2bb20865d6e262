#!/usr/bin/env python3
"""The seeds' lab through Tether: 5-tuple balancing vs cookie stickiness, then failover.

Three instances of tools/apps/session_app.py keep sessions in process memory and set `SESSIONID`.
Every request is a new curl process, so a new TCP connection with a new source port, and curl keeps
the session cookie in a jar. The scenario (login, status x10, logout, status, login, status) runs
twice and is printed side by side:

  five_tuple  the service balances each connection on its 5-tuple: the user is shown "Logged Out"
              whenever a request lands on an instance that did not create the session;
  cookie      the service has an `http:` block with `sticky: [learn_cookie, source_address]`:
              tetherd learns SESSIONID -> instance from the app's Set-Cookie and sends every later
              request carrying that cookie to the same instance: "Logged In" on every request.

Then, in cookie mode, failover: two users (each with their own source address) log in, the
instance holding user 1's session is killed, and user 1's next request is served by a live instance
(a fresh session, so "Logged Out" there) while user 2 stays logged in. Last, a dual-stack user: the
service is also offered on an IPv6 VIP that shares its sessions, the user's browser reaches the site
by name (shop.test, both VIPs) and logs in over IPv6, and its requests alternating between IPv4 and
IPv6 all find the one session. `--key source_address` runs the older comparison (5-tuple vs
source-address affinity) instead of cookie mode.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
import harness  # noqa: E402
from harness import Context, backend_addr, wait_for  # noqa: E402
import test_sticky  # noqa: E402
from test_sticky import (DUAL_STACK_SITE, SESSION_PORT, User, kill_session_app, make_users,  # noqa: E402
                         sticky_config)

STATUS_CHECKS = 10
STEPS = ["login"] + ["status"] * STATUS_CHECKS + ["logout", "status", "login", "status"]
WIDTH = 34


def run_scenario(tetherd, mode, failover):
    """mode: five_tuple | source_address | cookie. Returns (replies to STEPS, failover lines, ok)."""
    args = argparse.Namespace(tetherd=tetherd, mode="fullnat", dynamic_neighbors=False, keep_workdir=False)
    ctx = Context(args, "lab")
    try:
        topo = ctx.topology(backends=3)
        if mode == "cookie":
            topo.enable_client_ipv6()
            cfg = sticky_config(ctx, ipv6=True)
        else:
            cfg = ctx.config([(backend_addr(i), 1) for i in (1, 2, 3)], web_port=SESSION_PORT)
            cfg["services"][0]["key"] = mode
        ctx.start_tetherd(cfg)
        user = User(topo, ctx.workdir, "user")
        wait_for("the session app behind tetherd", lambda: user.get("status", timeout=3).text.startswith("You Are"),
                 20, interval=0.3)
        replies = [user.get(step) for step in STEPS]
        lines, ok = [], True
        if failover:
            lines, ok = run_failover(topo, ctx.workdir)
            dual_lines, dual_ok = run_dual_stack(topo, ctx.workdir)
            lines, ok = lines + dual_lines, ok and dual_ok
        return replies, lines, ok
    finally:
        ctx.teardown()


def run_failover(topo, workdir):
    users = make_users(topo, workdir, 8)
    lines = []
    for u in users:  # log users in until two of them are on different instances
        u.login()
        if len({x.session for x in users if x.session}) >= 2:
            break
    logged = [u for u in users if u.session]
    u1 = logged[0]
    others = [u for u in logged if u.session != u1.session]
    if not others:
        return ["every login landed on %s; cannot show failover" % u1.session], False
    u2 = others[0]
    lines.append("%s (from %s) logged in on %s; %s (from %s) logged in on %s" %
                 (u1.name, u1.source, u1.session, u2.name, u2.source, u2.session))
    dead = u1.session
    kill_session_app(topo, dead)
    lines.append("kill the session app on %s (holding %s's session)" % (dead, u1.name))
    r1, r2 = u1.get("status", timeout=10), u2.get("status")
    lines.append("  %s status -> %r" % (u1.name, r1))
    lines.append("  %s status -> %r" % (u2.name, r2))
    ok = r1.ok and r1.backend != dead and r2.logged_in and r2.backend == u2.session
    u1.login()
    r3 = u1.get("status")
    lines.append("  %s logs in again -> on %s; status -> %r" % (u1.name, u1.session, r3))
    ok = ok and r3.logged_in and r3.backend == u1.session != dead
    lines.append("failover %s" % ("as expected: the user was served by a live instance, the other user untouched"
                                  if ok else "NOT as expected"))
    return lines, ok


def run_dual_stack(topo, workdir):
    """One browser, one session, both address families (web6 shares web's sessions)."""
    over_v6 = User(topo, workdir, "dual", vip=harness.VIP6, site=DUAL_STACK_SITE)
    over_v4 = User(topo, workdir, "dual", site=DUAL_STACK_SITE)
    r = over_v6.login()
    lines = ["a dual-stack user logs in on %s over IPv6 ([%s]) -> %r" % (DUAL_STACK_SITE, harness.VIP6, r)]
    ok, seen = True, []
    for i in range(6):
        user, family = (over_v4, "IPv4") if i % 2 == 0 else (over_v6, "IPv6")
        x = user.get("status")
        seen.append("%s %s" % (family, x.backend if x.logged_in else repr(x)))
        ok = ok and x.logged_in and x.backend == over_v6.session
    lines.append("  status, alternating IPv4 and IPv6: " + ", ".join(seen))
    lines.append("dual-stack %s" % ("as expected: one session on %s over both VIPs" % over_v6.session
                                    if ok else "NOT as expected"))
    return lines, ok


def cell(reply):
    text = repr(reply).strip("'\"")
    return text if len(text) <= WIDTH else text[:WIDTH - 3] + "..."


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tetherd", required=True)
    ap.add_argument("--key", default="cookie", choices=["cookie", "source_address"],
                    help="what the sticky run uses (default: cookie)")
    args = ap.parse_args()
    harness.log = test_sticky.log = lambda msg: None
    sticky = args.key
    base, _, _ = run_scenario(args.tetherd, "five_tuple", failover=False)
    runs, fail_lines, fail_ok = run_scenario(args.tetherd, sticky, failover=(sticky == "cookie"))
    print("\n%-8s  %-*s  %-*s" % ("request", WIDTH, "five_tuple", WIDTH, sticky))
    for i, step in enumerate(STEPS):
        print("%-8s  %-*s  %-*s" % (step, WIDTH, cell(base[i]), WIDTH, cell(runs[i])))
    found = lambda run: sum(r.logged_in for r in run[1:1 + STATUS_CHECKS])  # noqa: E731
    print("\nstatus checks that found the session: five_tuple %d/%d, %s %d/%d" %
          (found(base), STATUS_CHECKS, sticky, found(runs), STATUS_CHECKS))
    if fail_lines:
        print("\nfailover and dual stack (%s):" % sticky)
        for line in fail_lines:
            print("  " + line)
    sys.exit(0 if found(runs) == STATUS_CHECKS and fail_ok else 1)


if __name__ == "__main__":
    main()
