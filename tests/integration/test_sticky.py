#!/usr/bin/env python3
"""Issue 5: sticky sessions through tetherd's delayed binding, with real Linux TCP stacks.

The seeds' lab: tools/apps/session_app.py on three backends (:8081) keeps sessions in process memory
and sets `SESSIONID`. Service `web` (VIP:80, full-NAT) has an `http:` block with
`sticky: [learn_cookie, source_address]`: tetherd learns SESSIONID -> backend from the app's
Set-Cookie and sends every later request carrying it to that backend. Users are curl processes with
their own cookie jar and their own source address (secondary addresses of the client's eth0), so
their logins (which carry no cookie yet and fall back to source-address affinity) spread over the
backends. Every request is a new curl process, so a new TCP connection.

Cases (each printed as `CASE <name>: PASS|FAIL`; all run, the test fails if any failed):
  lab            login, then 20 x status all "Logged In" on the same instance; logout, login again;
                 a second user is independent
  spread_logins  more users log in until sessions sit on at least two backends
  failover       the instance holding user 1's session is killed: user 1's next request is served
                 by a live instance (Logged Out there), every other user stays logged in, a rebind is
                 counted; the instance is restarted (empty) afterwards
  sessions_api   REST lookup/list (paged)/delete and `tetherctl sessions`; after a delete the next
                 request is balanced by the fallback (source address), counted by method
  strict         unavailable_target: strict and the user's backend disabled: the request is reset
                 and tether_proxy_strict_refusals_total rises; back to soft: the session is still there
  wrk            wrk keep-alive and with `Connection: close`, 3 s each: no socket errors, no non-2xx
  transfer       20 MB download and 20 MB upload through the splice, SHA-256 on both ends, served by
                 the user's session backend
  ipv6           a dual-stack user (the client's fd00:99::10): logs in on VIP6 (the SYN proxy answers
                 over IPv6, the backend sees IPv4 through NAT64), stays Logged In on that backend over
                 IPv6, keeps it on the IPv4 VIP with the same cookie (web6 shares web's sessions), the
                 session is found by REST under both services, 5 MB down and up through the IPv6
                 splice arrive intact, and logout clears the cookie

The helpers here (sticky_config, Users, Metrics, ...) are shared with test_sticky_matrix.py,
tools/demo_sessions.py and bench/e2e/sticky_cpu.py.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import harness
from harness import (APPS, VIP, VIP6, Deadline, TestFailure, backend_addr, check, log, parse_metrics, python,
                     run_test, wait_for)

sys.path.insert(0, str(APPS))
from blob import blob_sha256, file_sha256, write_blob  # noqa: E402

SESSION_PORT = 8081
COOKIE = "SESSIONID"
API = "http://127.0.0.1:9180"
STICKY_PROBE = APPS / "sticky_probe.py"
SESSION_APP = APPS / "session_app.py"
DUAL_STACK_SITE = "shop.test"  # a name with both VIPs, as a dual-stack site's A and AAAA records
USER_ADDR_BASE = 30  # user k's source address is 10.99.0.(30 + k), a secondary address in P-cl
BACKEND_RE = re.compile(r"\bon (b\d+)\b")


# --- configuration ---------------------------------------------------------------------------------
def http_block(sticky=("learn_cookie", "source_address"), unavailable="soft", **overrides):
    block = {"sticky": list(sticky), "session_cookie": COOKIE, "unavailable_target": unavailable,
             "max_head_bytes": 16384, "head_timeout_ms": 5000, "connect_timeout_ms": 300,
             "connect_attempts": 3, "max_backends_tried": 3}
    block.update(overrides)
    return block


def sticky_config(ctx, backends=(1, 2, 3), states=None, sticky=("learn_cookie", "source_address"),
                  unavailable="soft", capacity=65536, port=SESSION_PORT, ipv6=False, **http_overrides):
    """harness.make_config with service web on the session app's port and an `http:` block.

    states: {backend index: enabled|draining|disabled}. ipv6: the same service on VIP6 as well (web6),
    sharing web's sessions, so a user keeps one backend whichever VIP their browser picks."""
    states = states or {}
    cfg = ctx.config([(backend_addr(i), 1, states.get(i)) for i in backends], web_port=port)
    cfg["services"][0]["http"] = http_block(sticky, unavailable, **http_overrides)
    cfg["sessions"] = {"capacity": capacity}
    if ipv6:
        harness.add_ipv6_vip(cfg)
        web6 = next(s for s in cfg["services"] if s["name"] == "web6")
        web6["http"] = dict(web6["http"], share_sessions_with="web")
    return cfg


# --- users: curl with a cookie jar and a source address of their own --------------------------------
def add_user_addresses(topo, n):
    for k in range(1, n + 1):
        topo.run("cl", ["ip", "addr", "add", "10.99.0.%d/24" % (USER_ADDR_BASE + k), "dev", "eth0"])


class Reply:
    def __init__(self, rc, text, err=""):
        self.rc, self.text, self.err = rc, text, err
        m = BACKEND_RE.search(text)
        self.backend = m.group(1) if m and rc == 0 else None

    @property
    def ok(self):
        return self.rc == 0

    @property
    def logged_in(self):
        return self.rc == 0 and ("'Logged In'" in self.text or self.text.startswith("Logged In"))

    def __repr__(self):
        return repr(self.text) if self.rc == 0 else "curl rc %d (%s)" % (self.rc, self.err.strip()[:80])


class User:
    """One user: a cookie jar, and a source address (None: the client's own 10.99.0.10, or fd00:99::10
    with vip=VIP6). With `site`, requests go to that host name resolved to `vip` (curl --resolve), as a
    browser reaches a dual-stack site: cookies belong to the name, so two User objects with one name
    and one site but different VIPs are one user whose browser picks IPv4 or IPv6."""

    def __init__(self, topo, workdir, name, source=None, vip=VIP, site=None):
        self.topo, self.name, self.source, self.vip, self.site = topo, name, source, vip, site
        self.jar = Path(workdir) / ("%s.cookies" % name)
        self.home = None     # backend that answered this user's first cookie-less request
        self.session = None  # backend that holds this user's session (as far as the test knows)

    def get(self, step, timeout=5, extra=()):
        args = ["-b", str(self.jar), "-c", str(self.jar), *extra]
        if self.source:
            args += ["--interface", self.source]
        path = step if step.startswith("/") else "/api/users/" + step
        address = "[%s]" % self.vip if ":" in self.vip else self.vip
        host = address
        if self.site:
            args += ["--resolve", "%s:80:%s" % (self.site, address)]
            host = self.site
        p = self.topo.run("cl", ["curl", "-sS", "-g", "--fail", "--max-time", str(timeout), *args,
                                 "http://%s%s" % (host, path)], timeout=timeout + 5, check_rc=False)
        return Reply(p.returncode, p.stdout.strip(), p.stderr)

    def login(self):
        had_cookie = self.cookie() is not None
        r = self.get("login")
        check(r.ok and r.text.startswith("Logged In on") and r.backend,
              "%s: login failed: %r" % (self.name, r))
        if self.home is None and not had_cookie:
            self.home = r.backend
        self.session = r.backend
        return r

    def cookie(self):
        """The SESSIONID value in the jar, or None."""
        try:
            lines = self.jar.read_text().splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            f = line.split("\t")
            if len(f) == 7 and f[5] == COOKIE and f[6]:
                return f[6]
        return None


def make_users(topo, workdir, n):
    add_user_addresses(topo, n)
    return [User(topo, workdir, "user%d" % k, "10.99.0.%d" % (USER_ADDR_BASE + k)) for k in range(1, n + 1)]


# --- metrics and REST, from inside P-lb --------------------------------------------------------------
def lb_http(topo, method, path, timeout=10):
    """(status, body text) of one REST call to tetherd, made with curl inside P-lb."""
    p = topo.run("lb", ["curl", "-sS", "-X", method, "--max-time", str(timeout), "-w", "\n%{http_code}",
                        API + path], timeout=timeout + 5, check_rc=False)
    if p.returncode != 0:
        raise TestFailure("REST %s %s: curl rc %d %s" % (method, path, p.returncode, p.stderr.strip()))
    body, _, code = p.stdout.rpartition("\n")
    return int(code), body


def lb_json(topo, method, path):
    code, body = lb_http(topo, method, path)
    try:
        return code, json.loads(body) if body.strip() else None
    except ValueError:
        return code, body


class Metrics:
    """tetherd's /metrics, parsed (harness.parse_metrics), with sums over label subsets."""

    def __init__(self, topo):
        code, text = lb_http(topo, "GET", "/metrics")
        check(code == 200, "GET /metrics -> %d" % code)
        self.samples = parse_metrics(text)

    def sum(self, name, **labels):
        want = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and want <= set(ls))

    def by_label(self, name, label):
        out = {}
        for (n, ls), v in self.samples.items():
            if n == name:
                key = dict(ls).get(label)
                out[key] = out.get(key, 0) + v
        return out

    def matching(self, word):
        """{sample name with labels: value} of every sample whose name or label values contain word."""
        out = {}
        for (n, ls), v in self.samples.items():
            if word in n or any(word in str(x) for x in dict(ls).values()):
                out["%s%s" % (n, dict(sorted(ls)) if ls else "")] = v
        return out

    def has(self, name):
        return any(n == name for (n, _ls) in self.samples)


def metric_delta(before, after, name, **labels):
    return after.sum(name, **labels) - before.sum(name, **labels)


# --- backends ------------------------------------------------------------------------------------------
def backend_index(name):
    return int(name[1:])


def kill_session_app(topo, name):
    """SIGKILLs the session app of backend `name` (bN): its port then refuses connections (RST)."""
    pid = int((topo.state_dir / ("%s-session.pid" % name)).read_text())
    os.kill(pid, signal.SIGKILL)
    wait_for("%s's session app to stop listening" % name,
             lambda: not topo.run(name, ["ss", "-Hltn", "sport = :%d" % SESSION_PORT]).stdout.strip(), 5)
    log("killed %s's session app (pid %d)" % (name, pid))


def start_session_app(topo, name):
    """Starts a fresh session app (no sessions) on backend `name`, recorded like tools/topology does,
    so `tools/topology down` stops it with the namespace."""
    log_path = topo.state_dir / ("%s-session.log" % name)
    with open(log_path, "ab") as logf:
        proc = topo.popen(name, ["setsid", python(), SESSION_APP, "--name", name, "--port", SESSION_PORT],
                          stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
    (topo.state_dir / ("%s-session.pid" % name)).write_text(str(proc.pid))
    wait_for("%s's session app to listen" % name,
             lambda: topo.run(name, ["ss", "-Hltn", "sport = :%d" % SESSION_PORT]).stdout.strip(), 10)
    log("restarted %s's session app" % name)


def probe(topo, args, timeout=60):
    """tools/apps/sticky_probe.py in P-cl; returns its JSON answer."""
    p = topo.run("cl", [python(), STICKY_PROBE, *args], timeout=timeout)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise TestFailure("sticky_probe %s: unparsable output %r (stderr %r)" % (args[0], p.stdout, p.stderr))


def wrk(topo, path, seconds=3, connections=8, headers=(), timeout_s=2):
    """wrk in P-cl against VIP; returns {requests, socket_errors, non2xx, rps} (fails on bad output)."""
    argv = ["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--timeout", "%ds" % timeout_s]
    for h in headers:
        argv += ["-H", h]
    p = topo.run("cl", argv + ["http://%s%s" % (VIP, path)], timeout=seconds + 30)
    text = p.stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", text)
    check(m, "wrk: unparsable output %r" % text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    return {"requests": int(m.group(1)),
            "socket_errors": dict(zip(("connect", "read", "write", "timeout"),
                                      map(int, errors.groups()))) if errors else {},
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "rps": float(rps.group(1)) if rps else 0.0, "text": text}


def require_tool(name):
    import shutil
    check(shutil.which(name), "%s is not installed (tools/lib/setup.sh installs it: apt-get install %s)" %
          (name, name))


class Cases:
    """Runs named cases one after another; a failing case is reported and the next one runs."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.results = []

    def run(self, name, fn, *args):
        t0 = time.monotonic()
        log("CASE %s: start" % name)
        try:
            fn(*args)
            ok, why = True, ""
        except Deadline:
            self.results.append((name, False, "deadline"))
            raise
        except TestFailure as e:
            ok, why = False, str(e)
        except Exception as e:  # noqa: BLE001 - a bug in one case must not hide the others
            ok, why = False, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())
        self.results.append((name, ok, why))
        log("CASE %s: %s (%.1fs)%s" % (name, "PASS" if ok else "FAIL", time.monotonic() - t0,
                                        "" if ok else " - " + why))
        return ok

    def finish(self):
        passed = sum(ok for _, ok, _ in self.results)
        log("cases: %d passed, %d failed" % (passed, len(self.results) - passed))
        for name, ok, why in self.results:
            log("  %-28s %s%s" % (name, "PASS" if ok else "FAIL", "" if ok else ": " + why.splitlines()[0][:200]))
        check(passed == len(self.results), "%d case(s) failed: %s" % (
            len(self.results) - passed, ", ".join(n for n, ok, _ in self.results if not ok)))


def start_lab(ctx, n_users=6, **cfg_kw):
    """Topology, user addresses, tetherd with the sticky config; waits until the app answers."""
    require_tool("curl")
    topo = ctx.topology(backends=3)
    users = make_users(topo, ctx.workdir, n_users)
    if cfg_kw.get("ipv6"):
        topo.enable_client_ipv6()
    lb = ctx.start_tetherd(sticky_config(ctx, **cfg_kw))
    probe_user = User(topo, ctx.workdir, "warmup")
    wait_for("the session app behind tetherd's VIP", lambda: probe_user.get("status", timeout=3).ok, 20,
             interval=0.3)
    return topo, lb, users


def users_on_distinct_backends(users, want=2):
    """Logs users in until their sessions are on at least `want` backends; returns those logged in."""
    for u in users:
        u.login()
        if len({x.session for x in users if x.session}) >= want and sum(x.session is not None for x in users) >= 3:
            break
    logged = [u for u in users if u.session]
    check(len({u.session for u in logged}) >= want,
          "source-address fallback put every login on one backend: %s" % {u.name: u.session for u in logged})
    return logged


# --- the cases ---------------------------------------------------------------------------------------
def case_lab(topo, users):
    u1, u2 = users[0], users[1]
    r = u1.login()
    log("  %s: %r" % (u1.name, r))
    replies = [u1.get("status") for _ in range(20)]
    bad = [(i, x) for i, x in enumerate(replies) if not (x.logged_in and x.backend == u1.session)]
    check(not bad, "%s logged in on %s, but status said %s" % (u1.name, u1.session, bad[:3]))
    log("  20 x status over new connections: Logged In on %s every time" % u1.session)
    r = u1.get("logout")
    check(r.ok and r.text.startswith("Logged Out on %s" % u1.session), "logout: %r" % r)
    check(u1.cookie() is None, "the app's logout did not clear the cookie in curl's jar")
    r = u1.get("status")
    check(r.ok and not r.logged_in, "after logout: %r" % r)
    r = u1.login()
    for i in range(5):
        x = u1.get("status")
        check(x.logged_in and x.backend == u1.session, "after the second login (on %s), status %d: %r" %
              (u1.session, i, x))
    log("  logout, then login again on %s: Logged In on 5 status checks" % u1.session)
    u2.login()
    for i in range(10):
        x = u2.get("status")
        check(x.logged_in and x.backend == u2.session, "%s (on %s), status %d: %r" % (u2.name, u2.session, i, x))
        y = u1.get("status")
        check(y.logged_in and y.backend == u1.session, "%s disturbed by %s: %r" % (u1.name, u2.name, y))
    log("  %s on %s and %s on %s independent over 10 interleaved checks each" %
        (u1.name, u1.session, u2.name, u2.session))


def find_tetherctl(ctx):
    exe = ctx.args.tetherctl
    return exe if exe and os.access(exe, os.X_OK) else None


def case_sessions_api(ctx, topo, users):
    """lookup / list / delete through REST and tetherctl; the next request after a delete falls back."""
    logged = [u for u in users if u.cookie()]
    check(logged, "no logged-in user to look up")
    u = logged[0]
    value = u.cookie()
    code, doc = lb_json(topo, "GET", "/api/v1/services/web/sessions/lookup?cookie=%s" % value)
    check(code == 200, "lookup %s... -> HTTP %d %s" % (value[:8], code, doc))
    want_addr = backend_addr(backend_index(u.session))
    check(want_addr in json.dumps(doc), "lookup of %s's cookie names %s, expected %s (on %s)" %
          (u.name, doc, want_addr, u.session))
    log("  REST lookup: %s" % json.dumps(doc)[:200])
    code, doc = lb_json(topo, "GET", "/api/v1/services/web/sessions/lookup?cookie=no-such-session")
    check(code == 404, "lookup of an unknown cookie -> HTTP %d %s (want 404)" % (code, doc))

    # Paged list: every entry seen once, at least one per logged-in user.
    entries, cursor, pages = [], None, 0
    while True:
        q = "/api/v1/services/web/sessions?limit=2" + ("&cursor=%s" % cursor if cursor else "")
        code, doc = lb_json(topo, "GET", q)
        check(code == 200 and isinstance(doc, dict), "list %s -> HTTP %d %s" % (q, code, doc))
        page = doc.get("sessions", [])
        check(len(page) <= 2, "limit=2 returned %d entries" % len(page))
        entries += page
        pages += 1
        cursor = doc.get("next_cursor")
        if not doc.get("more") or pages > 1000:
            break
    keys = [e.get("key") for e in entries]
    check(len(set(keys)) == len(keys), "the paged list repeats sessions: %s" % keys)
    check(len(entries) >= len(logged), "paged list has %d entries for %d logged-in users" %
          (len(entries), len(logged)))
    log("  REST list: %d entries in %d pages of <= 2" % (len(entries), pages))

    tetherctl = find_tetherctl(ctx)
    if tetherctl:
        ctl = harness.TetherCtl(tetherctl, topo)
        p = ctl.run("sessions", "lookup", "web", value, check_rc=False)
        check(p.returncode == 0 and want_addr in p.stdout, "tetherctl sessions lookup web <cookie>: rc %d %r %r" %
              (p.returncode, p.stdout[-300:], p.stderr[-300:]))
        p = ctl.run("sessions", "list", "web", check_rc=False)
        check(p.returncode == 0 and want_addr in p.stdout, "tetherctl sessions list web: rc %d %r" %
              (p.returncode, (p.stdout + p.stderr)[-300:]))
        log("  tetherctl sessions lookup/list agree")
        # tetherctl delete on another user's session; REST must then not find it.
        other = next((x for x in logged if x is not u and x.cookie()), None)
        if other is not None:
            p = ctl.run("sessions", "delete", "web", other.cookie(), check_rc=False)
            check(p.returncode == 0, "tetherctl sessions delete: rc %d %r" % (p.returncode, (p.stdout + p.stderr)[-300:]))
            code, doc = lb_json(topo, "GET", "/api/v1/services/web/sessions/lookup?cookie=%s" % other.cookie())
            check(code == 404, "after tetherctl sessions delete, lookup -> HTTP %d %s" % (code, doc))
            r = other.get("status")
            check(r.ok, "%s's request after tetherctl delete failed: %r" % (other.name, r))
            other.login()  # a fresh session, learnt again
            log("  tetherctl sessions delete: gone from the table; %s logged in again on %s" % (other.name, other.session))
    else:
        log("  (tetherctl not found at %s: its checks are skipped)" % ctx.args.tetherctl)

    # Delete: pick a user whose session is not where their address hashes to, so the fallback
    # visibly moves them; otherwise the counter by method still shows which rule chose.
    movers = [x for x in logged if x.home and x.home != x.session]
    u = movers[0] if movers else u
    value = u.cookie()
    before = Metrics(topo)
    code, doc = lb_json(topo, "DELETE", "/api/v1/services/web/sessions?cookie=%s" % value)
    check(200 <= code < 300, "DELETE session -> HTTP %d %s" % (code, doc))
    code, doc = lb_json(topo, "GET", "/api/v1/services/web/sessions/lookup?cookie=%s" % value)
    check(code == 404, "lookup after delete -> HTTP %d %s (want 404)" % (code, doc))
    r = u.get("status")
    after = Metrics(topo)
    check(r.ok, "%s's request after the delete failed: %r" % (u.name, r))
    learned = metric_delta(before, after, "tether_sticky_chosen_total", method="learn_cookie")
    fallback = metric_delta(before, after, "tether_sticky_chosen_total", method="source_address")
    check(fallback == 1 and learned == 0, "after the delete, chosen by learn_cookie +%d, source_address +%d "
          "(want 0 and 1): %s" % (learned, fallback, after.by_label("tether_sticky_chosen_total", "method")))
    if u.home and u.home != u.session:
        check(r.backend == u.home and not r.logged_in,
              "after the delete %s should land on its address's backend %s, Logged Out: %r" % (u.name, u.home, r))
        log("  delete: %s's next request went by source address to %s (%r)" % (u.name, u.home, r))
    else:
        log("  delete: %s's next request was chosen by source_address (%r)" % (u.name, r))
    u.login()  # a fresh session for later cases


def case_strict(ctx, topo, lb, users):
    u = [x for x in users if x.cookie()][-1]
    target = backend_index(u.session)
    before = Metrics(topo)
    log("  reload: unavailable_target strict, %s (holding %s's session) disabled" % (u.session, u.name))
    lb.reload(sticky_config(ctx, states={target: "disabled"}, unavailable="strict", ipv6=True))
    wait_for("the reload to be applied (generation grows)",
             lambda: Metrics(topo).sum("tether_table_generation") > before.sum("tether_table_generation"), 10)
    r = u.get("status")
    check(r.rc in (7, 52, 56), "strict mode: request for a disabled target should be reset, got %r" % r)
    after = Metrics(topo)
    delta = metric_delta(before, after, "tether_proxy_strict_refusals_total")
    check(delta >= 1, "tether_proxy_strict_refusals_total did not rise (+%d)" % delta)
    log("  %s's request was reset (curl rc %d); tether_proxy_strict_refusals_total +%d" % (u.name, r.rc, delta))
    lb.reload(sticky_config(ctx, ipv6=True))
    wait_for("back to soft with every backend enabled", lambda: u.get("status").ok, 10, interval=0.2)
    r = u.get("status")
    check(r.logged_in and r.backend == u.session, "after going back to soft, %s: %r" % (u.name, r))


def case_failover(topo, users):
    logged = [u for u in users if u.cookie()]
    victim = logged[0]
    others = [u for u in logged if u.session != victim.session]
    check(others, "every logged-in user is on %s; cannot show the others untouched" % victim.session)
    dead = victim.session
    before = Metrics(topo)
    kill_session_app(topo, dead)
    try:
        r = victim.get("status", timeout=10)
        check(r.ok, "%s's request after %s died was not served: %r" % (victim.name, dead, r))
        check(r.backend != dead and not r.logged_in,
              "%s after %s died: want Logged Out on a live instance, got %r" % (victim.name, dead, r))
        log("  %s (session on dead %s): %r" % (victim.name, dead, r))
        for u in others:
            x = u.get("status")
            check(x.logged_in and x.backend == u.session, "%s (on %s) disturbed by %s's death: %r" %
                  (u.name, u.session, dead, x))
        log("  %d other users still Logged In on %s" % (len(others), sorted({u.session for u in others})))
        after = Metrics(topo)
        rebinds = metric_delta(before, after, "tether_sticky_rebinds_total")
        check(rebinds >= 1, "tether_sticky_rebinds_total did not rise: %s" %
              after.by_label("tether_sticky_rebinds_total", "cause"))
        log("  rebinds by cause: %s" % after.by_label("tether_sticky_rebinds_total", "cause"))
        victim.login()
        check(victim.session != dead, "%s logged in again on the dead %s" % (victim.name, dead))
        for _ in range(5):
            x = victim.get("status")
            check(x.logged_in and x.backend == victim.session, "%s's new session on %s: %r" %
                  (victim.name, victim.session, x))
        log("  %s logged in again on %s and stays there" % (victim.name, victim.session))
    finally:
        start_session_app(topo, dead)


def case_wrk(topo, users):
    require_tool("wrk")
    u = [x for x in users if x.cookie()][0]
    cookie = "Cookie: %s=%s" % (COOKIE, u.cookie())
    for label, headers in (("keep-alive", [cookie]), ("Connection: close", [cookie, "Connection: close"])):
        r = wrk(topo, "/api/users/status", seconds=3, connections=8, headers=headers)
        log("  wrk %s: %d requests, %.0f req/s, socket errors %s, non-2xx %d" %
            (label, r["requests"], r["rps"], r["socket_errors"] or "none", r["non2xx"]))
        check(r["requests"] >= 50, "wrk %s: only %d requests in 3 s" % (label, r["requests"]))
        check(not any(r["socket_errors"].values()), "wrk %s: socket errors %s" % (label, r["socket_errors"]))
        check(r["non2xx"] == 0, "wrk %s: %d non-2xx responses" % (label, r["non2xx"]))
    x = u.get("status")
    check(x.logged_in and x.backend == u.session, "after wrk, %s: %r" % (u.name, x))


def case_transfer(ctx, topo, users, megabytes=20):
    transfer_through_splice(ctx, [x for x in users if x.cookie()][0], megabytes)


def transfer_through_splice(ctx, u, megabytes):
    """A download and an upload of `megabytes` by user u, through its session backend, SHA-256 checked."""
    down_bytes = megabytes * 1000 * 1000 + 7  # odd size: the last segment is partial
    path, hdrs = ctx.workdir / "download.bin", ctx.workdir / "download.hdr"
    r = u.get("/blob?bytes=%d" % down_bytes, timeout=60, extra=("-o", str(path), "-D", str(hdrs)))
    check(r.rc == 0, "download failed: %r" % r)
    got, want = file_sha256(path), blob_sha256(down_bytes)
    served = re.search(r"X-Backend: (\S+)", hdrs.read_text())
    check(path.stat().st_size == down_bytes, "download truncated: %d of %d bytes" % (path.stat().st_size, down_bytes))
    check(got == want, "download corrupted: sha256 %s != %s" % (got, want))
    check(served and served.group(1) == u.session, "download served by %s, session on %s" %
          (served and served.group(1), u.session))
    log("  download %d bytes from %s: sha256 ok" % (down_bytes, u.session))
    path.unlink()
    up_bytes = megabytes * 1000 * 1000 + 3
    up = ctx.workdir / "upload.bin"
    want = write_blob(up, up_bytes, seed=4242)
    r = u.get("/upload", timeout=60, extra=("--data-binary", "@%s" % up, "-H", "Content-Type: application/octet-stream"))
    check(r.rc == 0, "upload failed: %r" % r)
    check(r.text == want, "upload corrupted: backend saw sha256 %s, sent %s" % (r.text[:64], want))
    log("  upload %d bytes: the backend's sha256 matches" % up_bytes)
    up.unlink()


def case_ipv6(ctx, topo):
    before = Metrics(topo)
    u6 = User(topo, ctx.workdir, "dual", vip=VIP6, site=DUAL_STACK_SITE)
    r = u6.login()
    log("  %s over IPv6: %r" % (u6.name, r))
    replies = [u6.get("status") for _ in range(10)]
    bad = [(i, x) for i, x in enumerate(replies) if not (x.logged_in and x.backend == u6.session)]
    check(not bad, "logged in over IPv6 on %s, but status said %s" % (u6.session, bad[:3]))
    log("  10 x status over IPv6: Logged In on %s every time" % u6.session)
    u4 = User(topo, ctx.workdir, "dual", site=DUAL_STACK_SITE)  # the same browser, on the IPv4 VIP
    for i in range(5):
        x = u4.get("status")
        check(x.logged_in and x.backend == u6.session, "over IPv4 with the IPv6 login's cookie, status %d: %r "
              "(session on %s)" % (i, x, u6.session))
    log("  5 x status over IPv4 with the same cookie: Logged In on %s (web6 shares web's sessions)" % u6.session)
    value = u6.cookie()
    want_addr = backend_addr(backend_index(u6.session))
    for service in ("web6", "web"):  # one session, found under either service
        code, doc = lb_json(topo, "GET", "/api/v1/services/%s/sessions/lookup?cookie=%s" % (service, value))
        check(code == 200 and want_addr in json.dumps(doc),
              "REST lookup under %s -> HTTP %d %s, expected %s" % (service, code, doc, want_addr))
    log("  REST lookup of the IPv6 login's cookie under web6 and under web: %s" % want_addr)
    transfer_through_splice(ctx, u6, 5)
    r = u6.get("logout")
    check(r.ok and r.text.startswith("Logged Out on %s" % u6.session), "logout over IPv6: %r" % r)
    check(u6.cookie() is None, "the app's logout did not clear the cookie in curl's jar")
    after = Metrics(topo)
    by_cookie = metric_delta(before, after, "tether_sticky_chosen_total", method="learn_cookie")
    spliced = metric_delta(before, after, "tether_proxy_connections_spliced_total")
    check(by_cookie >= 17, "tether_sticky_chosen_total{method=learn_cookie} +%d, want >= 17" % by_cookie)
    log("  the proxy spliced %d connections, %d bound by the learnt cookie" % (spliced, by_cookie))


def body(ctx):
    topo, lb, users = start_lab(ctx, n_users=8, ipv6=True)
    cases = Cases(ctx)
    cases.run("lab", case_lab, topo, users)
    cases.run("spread_logins", users_on_distinct_backends, users[2:], 2)
    cases.run("failover", case_failover, topo, users)
    cases.run("sessions_api", case_sessions_api, ctx, topo, users)
    cases.run("strict", case_strict, ctx, topo, lb, users)
    cases.run("wrk", case_wrk, topo, users)
    cases.run("transfer", case_transfer, ctx, topo, users, ctx.args.transfer_mb)
    cases.run("ipv6", case_ipv6, ctx, topo)
    lb.check_alive()
    cases.finish()


def add_args(ap):
    ap.add_argument("--transfer-mb", type=int, default=20)


if __name__ == "__main__":
    harness.require_modules("yaml", "prometheus_client")
    run_test("st", "sticky sessions: the seeds' lab, failover, strict, sessions API, wrk, transfers", body,
             timeout_s=240, add_args=add_args)
