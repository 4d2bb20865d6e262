#!/usr/bin/env python3
"""CPU time per 100k sticky HTTP requests: tetherd (cookie learning) vs HAProxy (Debian's), same run.

Issue 5's target: Tether uses at most 1/5 of HAProxy's CPU per sticky request.

Set-up (tools/topology, three backends, everything in network namespaces on this machine):
  backends  an HAProxy per backend namespace on :8082 answering from memory (`http-request return`):
            /api/users/login sets `SESSIONID=bN-<random>`; any other path answers "You Are 'Logged In'
            (on bN)" when the request's SESSIONID starts with bN-, "Logged Out" otherwise. Backends are
            not measured; they only have to be fast enough not to be the bottleneck.
  balancers one at a time, on VIP 10.99.0.100:80 in the balancer namespace P-lb:
    haproxy cookie insert   `cookie SRV insert indirect nocache`; the client carries SRV=bN
    haproxy stick-table     `stick store-response res.cook(SESSIONID)` + `stick match req.cook(SESSIONID)`
    tetherd                 service web with `http: {sticky: [learn_cookie, source_address]}` on
                            af_packet (one worker lcore); it learns SESSIONID from the login's Set-Cookie
  load      wrk in the client namespace, one thread, --connections connections, carrying the session
            cookie(s) obtained by one login through the balancer; once with keep-alive and once with
            `Connection: close` (a new TCP connection per request). A 1 s calibration run picks the
            duration that gives about --requests requests (at most --max-seconds); CPU is normalised
            to 100k requests.
Before every run a stickiness check (curl, 10 requests, new connection each) must say Logged In on the
login's backend, so every measured request is a sticky one.

CPU counted:
  HAProxy   /proc/<pid>/stat utime+stime of the (single-threaded, nbthread 1) process, before/after.
  tetherd   two rows from one set of runs, each plus the CPU of every non-worker thread of tetherd
            (control thread, REST threads) from /proc/<pid>/task/*/stat; neither counts idle polling:
            "learn_cookie": tether_worker_process_seconds_total, the cycles inside processBurst
              (Tether's own work, what it would cost behind a NIC PMD);
            "busy loops": tether_worker_busy_seconds_total, whole worker loops that moved packets,
              including af_packet's rx/tx system calls, whose veth transmit also runs the receiving
              namespace's kernel TCP stack in the worker's context.

Writes the table to --out (default bench/results/sticky_cpu.txt) and prints it. Needs root, haproxy,
wrk, curl; --skip-tether measures HAProxy only.

  sudo bench/e2e/sticky_cpu.py --tetherd build/controlplane/tetherd
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import harness  # noqa: E402
from harness import LB_ADDR, VIP, Context, TestFailure, check, log, wait_for  # noqa: E402
import test_sticky  # noqa: E402

BACKEND_PORT = 8082
CLK_TCK = os.sysconf("SC_CLK_TCK")
WORKER_COMM_PREFIXES = ("lcore-worker", "rte-worker", "dpdk-worker")

# One thread and the same limits for the backends' HAProxy and the balancer under comparison.
HAPROXY_GLOBAL = """global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout client 30s
  timeout server 30s
  timeout connect 2s
"""

BACKEND_CFG = HAPROXY_GLOBAL + """frontend app
  bind 0.0.0.0:{port}
  http-request return status 200 content-type text/plain lf-string "Logged In on {name}\\n" hdr Set-Cookie "SESSIONID={name}-%[rand,hex]%[date,hex]; Path=/" if {{ path /api/users/login }}
  http-request return status 200 content-type text/plain string "You Are 'Logged In' (on {name})\\n" if {{ req.cook(SESSIONID) -m beg {name}- }}
  http-request return status 200 content-type text/plain string "You Are 'Logged Out' (on {name})\\n"
"""

BALANCER_HEAD = HAPROXY_GLOBAL + """frontend fe
  bind {vip}:80
  default_backend be
backend be
  balance roundrobin
"""

BALANCERS = {
    "haproxy cookie insert": "  cookie SRV insert indirect nocache\n" +
    "".join("  server b{i} 10.99.0.{a}:{port} cookie b{i}\n".format(i=i, a=10 + i, port=BACKEND_PORT)
            for i in (1, 2, 3)),
    "haproxy stick-table": "  stick-table type string len 64 size 1m expire 30m\n"
    "  stick store-response res.cook(SESSIONID)\n  stick match req.cook(SESSIONID)\n" +
    "".join("  server b{i} 10.99.0.{a}:{port}\n".format(i=i, a=10 + i, port=BACKEND_PORT) for i in (1, 2, 3)),
}

LOADS = [("keep-alive", []), ("Connection: close", ["Connection: close"])]


def proc_cpu_seconds(pid, tid=None):
    path = "/proc/%d/task/%d/stat" % (pid, tid) if tid else "/proc/%d/stat" % pid
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


def thread_cpu(pid):
    """{(tid, comm): cpu seconds} of every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            comm = Path("/proc/%d/task/%s/comm" % (pid, tid)).read_text().strip()
            out[(int(tid), comm)] = proc_cpu_seconds(pid, int(tid))
        except (OSError, ValueError, IndexError):
            continue
    return out


def tune_namespaces(topo):
    """Tens of thousands of short connections in seconds: reuse TIME_WAIT ports, widen the range."""
    for node in ["cl", "lb", "b1", "b2", "b3"]:
        topo.run(node, ["sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1",
                        "net.ipv4.ip_local_port_range=1024 65000"], check_rc=False)


class Proc:
    """A process started in a namespace with `ip netns exec` (which execs, so the pid is the program's)."""

    def __init__(self, topo, node, argv, log_path):
        self.logf = open(log_path, "wb")
        self.proc = topo.popen(node, argv, stdin=subprocess.DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT,
                               start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.logf.close()


def start_backends(topo, workdir):
    procs = []
    for i in (1, 2, 3):
        cfg = workdir / ("backend-b%d.cfg" % i)
        cfg.write_text(BACKEND_CFG.format(port=BACKEND_PORT, name="b%d" % i))
        procs.append(Proc(topo, "b%d" % i, ["haproxy", "-db", "-f", cfg], workdir / ("backend-b%d.log" % i)))
    for i in (1, 2, 3):
        wait_for("haproxy backend b%d on :%d" % (i, BACKEND_PORT),
                 lambda i=i: topo.run("b%d" % i, ["ss", "-Hltn", "sport = :%d" % BACKEND_PORT]).stdout.strip(), 10)
    return procs


def curl(topo, path, jar, headers=(), timeout=5):
    argv = ["curl", "-sS", "--max-time", str(timeout), "-b", jar, "-c", jar]
    for h in headers:
        argv += ["-H", h]
    p = topo.run("cl", argv + ["http://%s%s" % (VIP, path)], timeout=timeout + 5, check_rc=False)
    return p.returncode, p.stdout.strip()


def jar_cookies(jar):
    out = {}
    try:
        for line in Path(jar).read_text().splitlines():
            f = line.split("\t")
            if len(f) == 7:
                out[f[5]] = f[6]
    except FileNotFoundError:
        pass
    return out


def login_and_check(topo, workdir, label):
    """One login through the balancer, then 10 status checks on new connections: all must be Logged
    In on the login's backend. Returns the Cookie header wrk sends."""
    jar = str(workdir / ("jar-%s.txt" % re.sub(r"\W+", "_", label)))
    Path(jar).unlink(missing_ok=True)
    rc, text = curl(topo, "/api/users/login", jar)
    m = re.match(r"Logged In on (b\d+)", text)
    check(rc == 0 and m, "%s: login failed: rc %d %r" % (label, rc, text))
    backend = m.group(1)
    for i in range(10):
        rc, text = curl(topo, "/api/users/status", jar)
        check(rc == 0 and text == "You Are 'Logged In' (on %s)" % backend,
              "%s: status %d not sticky to %s: rc %d %r" % (label, i, backend, rc, text))
    cookies = jar_cookies(jar)
    check("SESSIONID" in cookies, "%s: no SESSIONID in the jar: %s" % (label, cookies))
    return "Cookie: " + "; ".join("%s=%s" % kv for kv in sorted(cookies.items())), backend


def run_wrk(topo, cookie_header, extra_headers, seconds, connections):
    argv = ["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--timeout", "5s", "-H", cookie_header]
    for h in extra_headers:
        argv += ["-H", h]
    p = topo.run("cl", argv + ["http://%s/api/users/status" % VIP], timeout=seconds + 30)
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)\b", p.stdout)
    check(m, "wrk: unparsable output %r" % p.stdout)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", p.stdout)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", p.stdout)
    unit_s = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(3)]
    return {"requests": int(m.group(1)), "seconds": float(m.group(2)) * unit_s,
            "errors": sum(map(int, errors.groups())) if errors else 0,
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


def measured_wrk(topo, args, cookie, headers, cpu_now):
    """A 1 s calibration run (not measured) picks the duration that gives about --requests
    requests; then --repeat measured runs, with cpu_now() read before and after each.
    Returns [(wrk result, cpu_now() difference)]."""
    probe = run_wrk(topo, cookie, headers, 1, args.connections)
    rate = max(probe["requests"] / max(probe["seconds"], 0.1), 1.0)
    seconds = int(min(max(round(args.requests / rate), 2), args.max_seconds))
    runs = []
    for _ in range(args.repeat):
        before = cpu_now()
        w = run_wrk(topo, cookie, headers, seconds, args.connections)
        runs.append((w, cpu_now() - before))
    return runs


def median_run(runs, cpu_of):
    """The run with the median CPU per request (shared cores make single runs noisy), and the
    spread of CPU s/100k over all runs as text."""
    per100k = sorted((cpu_of(c) / w["requests"] * 1e5 if w["requests"] else float("inf"), i)
                     for i, (w, c) in enumerate(runs))
    spread = "runs %d, cpu s/100k %.3f..%.3f" % (len(runs), per100k[0][0], per100k[-1][0])
    return runs[per100k[len(per100k) // 2][1]], spread


def measure_haproxy(ctx, topo, args, rows):
    lb_dev = topo.lb_dev
    topo.run("lb", ["ip", "addr", "add", LB_ADDR + "/24", "dev", lb_dev])
    topo.run("lb", ["ip", "addr", "add", VIP + "/32", "dev", lb_dev])
    try:
        for name, backend_section in BALANCERS.items():
            cfg = ctx.workdir / ("balancer-%s.cfg" % name.split()[-1])
            cfg.write_text(BALANCER_HEAD.format(vip=VIP) + backend_section)
            check(topo.run("lb", ["haproxy", "-c", "-q", "-f", cfg], check_rc=False).returncode == 0,
                  "haproxy -c rejects %s" % cfg)
            bal = Proc(topo, "lb", ["haproxy", "-db", "-f", cfg], ctx.workdir / ("balancer-%s.log" % name.split()[-1]))
            try:
                wait_for("%s on %s:80" % (name, VIP),
                         lambda: topo.run("lb", ["ss", "-Hltn", "sport = :80"]).stdout.strip(), 10)
                for load, headers in LOADS:
                    cookie, backend = login_and_check(topo, ctx.workdir, name + load)
                    runs = measured_wrk(topo, args, cookie, headers, lambda: proc_cpu_seconds(bal.pid))
                    (w, cpu), spread = median_run(runs, lambda c: c)
                    rows.append(row(name, load, w, cpu, "process utime+stime; " + spread, backend))
                    log("%s, %s: %s" % (name, load, rows[-1]["summary"]))
            finally:
                bal.stop()
    finally:
        topo.run("lb", ["ip", "addr", "flush", "dev", lb_dev], check_rc=False)


class CpuSample:
    def __init__(self, busy, process, other):
        self.busy, self.process, self.other = busy, process, other

    def __sub__(self, earlier):
        def delta(now, before):
            return None if now is None or before is None else now - before
        return CpuSample(delta(self.busy, earlier.busy), delta(self.process, earlier.process),
                         self.other - earlier.other)


def tether_cpu(topo, pid):
    """(worker busy seconds or None, worker processing seconds or None, non-worker thread seconds)."""
    m = test_sticky.Metrics(topo)
    busy = m.sum("tether_worker_busy_seconds_total") if m.has("tether_worker_busy_seconds_total") else None
    process = (m.sum("tether_worker_process_seconds_total")
               if m.has("tether_worker_process_seconds_total") else None)
    other = sum(v for (_tid, comm), v in thread_cpu(pid).items() if not comm.startswith(WORKER_COMM_PREFIXES))
    return busy, process, other


def measure_tether(ctx, topo, args, rows):
    cfg = test_sticky.sticky_config(ctx, port=BACKEND_PORT, capacity=1 << 20)
    cfg["dataplane"]["flow_entries_per_lcore"] = 131072
    cfg["timeouts"]["tcp_closing_s"] = 2
    lb = ctx.start_tetherd(cfg)
    harness.wait_for("tetherd to answer on the VIP",
                     lambda: curl(topo, "/api/users/status", str(ctx.workdir / "warm.jar"), timeout=3)[0] == 0,
                     20, interval=0.3)
    # Two figures for the worker, both without its idle polling:
    #   processing  cycles inside processBurst: Tether's own work per packet, what it costs on a NIC;
    #   busy loops  whole loops that moved packets, including the PMD's rx/tx calls. On af_packet a tx
    #               call is a sendto() whose veth transmit runs the receiving namespace's TCP stack
    #               (client's or backend's) in the worker's context, so this row charges Tether for
    #               part of the endpoints' kernel work.
    kinds = (("tetherd learn_cookie", "process", "worker processing"),
             ("tetherd busy loops", "busy", "worker busy loops"))
    for load, headers in LOADS:
        cookie, backend = login_and_check(topo, ctx.workdir, kinds[0][0] + load)
        def cpu_now():
            return CpuSample(*tether_cpu(topo, lb.proc.pid))
        runs = measured_wrk(topo, args, cookie, headers, cpu_now)
        for name, attr, label in kinds:
            if any(getattr(c, attr) is None for _, c in runs):
                (w, c), spread = median_run(runs, lambda c: c.other)
                cpu, how = None, "%s metric missing; other threads %.3fs" % (label, c.other)
            elif any(getattr(c, attr) <= 0 and w["requests"] >= 1000 for w, c in runs):
                # Thousands of requests cannot cost zero cycles: the counter is not being kept.
                (w, c), spread = median_run(runs, lambda c: c.other)
                cpu, how = None, ("%s did not move over %d requests (not maintained by the worker); "
                                  "other threads %.3fs" % (label, w["requests"], c.other))
            else:
                (w, c), spread = median_run(runs, lambda c, a=attr: getattr(c, a) + c.other)
                cpu, how = getattr(c, attr) + c.other, "%s %.3fs + other threads %.3fs; %s" % (
                    label, getattr(c, attr), c.other, spread)
            rows.append(row(name, load, w, cpu, how, backend))
            log("%s, %s: %s" % (name, load, rows[-1]["summary"]))
        lb.check_alive()


def row(system, load, w, cpu, how, backend):
    per100k = cpu / w["requests"] * 1e5 if cpu is not None and w["requests"] else None
    r = {"system": system, "load": load, "requests": w["requests"], "seconds": round(w["seconds"], 2),
         "rps": round(w["requests"] / w["seconds"]) if w["seconds"] else 0, "errors": w["errors"],
         "non2xx": w["non2xx"], "cpu_s": None if cpu is None else round(cpu, 3),
         "cpu_s_per_100k": None if per100k is None else round(per100k, 3), "how": how, "backend": backend}
    r["summary"] = "%d requests in %.1fs (%d/s), errors %d, non-2xx %d, cpu %s s per 100k (%s)" % (
        r["requests"], r["seconds"], r["rps"], r["errors"], r["non2xx"],
        "n/a" if per100k is None else "%.3f" % per100k, how)
    return r


def report(rows, args):
    lines = ["# CPU per 100k sticky HTTP requests: tetherd vs HAProxy (bench/e2e/sticky_cpu.py)",
             "# %s, kernel %s, %d cores, %s" % (datetime.datetime.now().isoformat(timespec="seconds"),
                                                 platform.release(), os.cpu_count(), haproxy_version()),
             "# wrk -t1 -c%d, about %d requests per run; backends: HAProxy http-request return on :%d" % (
                 args.connections, args.requests, BACKEND_PORT),
             "",
             "%-24s %-18s %9s %8s %8s %7s %8s %9s %12s" % ("system", "load", "requests", "seconds", "req/s",
                                                          "errors", "non-2xx", "cpu s", "cpu s/100k")]
    for r in rows:
        lines.append("%-24s %-18s %9d %8.2f %8d %7d %8d %9s %12s" % (
            r["system"], r["load"], r["requests"], r["seconds"], r["rps"], r["errors"], r["non2xx"],
            "n/a" if r["cpu_s"] is None else "%.3f" % r["cpu_s"],
            "n/a" if r["cpu_s_per_100k"] is None else "%.3f" % r["cpu_s_per_100k"]))
    lines.append("")
    for load, _ in LOADS:
        for t in [r for r in rows if r["system"].startswith("tetherd") and r["load"] == load]:
            for r in rows:
                if r["system"].startswith("haproxy") and r["load"] == load:
                    if t["cpu_s_per_100k"] is not None and r["cpu_s_per_100k"]:
                        ratio = t["cpu_s_per_100k"] / r["cpu_s_per_100k"]
                        lines.append("ratio %s/%s, %s: %.3f (target <= 0.200: %s)" % (
                            t["system"], r["system"], load, ratio, "met" if ratio <= 0.2 else "missed"))
                    else:
                        lines.append("ratio %s/%s, %s: n/a (no tetherd figure)" % (t["system"], r["system"], load))
    lines.append("")
    lines += ["how: %s %s: %s" % (r["system"], r["load"], r["how"]) for r in rows]
    return "\n".join(lines) + "\n"


def haproxy_version():
    p = subprocess.run(["haproxy", "-v"], capture_output=True, text=True)
    return p.stdout.splitlines()[0] if p.stdout else "haproxy ?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tetherd", help="build/controlplane/tetherd (required unless --skip-tether)")
    ap.add_argument("--skip-tether", action="store_true", help="measure HAProxy only")
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3, help="measured runs per row; the median is reported")
    ap.add_argument("--max-seconds", type=int, default=30, help="upper bound on each wrk run")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "sticky_cpu.txt"))
    ap.add_argument("--timeout", type=float, default=900, help="hard limit on the whole run")
    args = ap.parse_args()
    harness.require_modules("yaml", "prometheus_client")  # Debian's python3 for /metrics parsing
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    for tool in ("haproxy", "wrk", "curl"):
        if not shutil.which(tool):
            sys.exit("%s not installed (tools/lib/setup.sh installs it from Debian)" % tool)
    if not args.skip_tether and not (args.tetherd and os.access(args.tetherd, os.X_OK)):
        sys.exit("--tetherd PATH (an executable) is required unless --skip-tether")

    ctx = Context(argparse.Namespace(tetherd=args.tetherd, mode="fullnat", dynamic_neighbors=False,
                                     keep_workdir=False, tetherctl=None), "scpu")

    def deadline(signum, _frame):
        raise harness.Deadline("hard deadline" if signum == signal.SIGALRM else "signal %d" % signum)
    for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, deadline)
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    rows, backends, rc = [], [], 1
    try:
        topo = ctx.topology(backends=3)
        tune_namespaces(topo)
        backends = start_backends(topo, ctx.workdir)
        measure_haproxy(ctx, topo, args, rows)
        if not args.skip_tether:
            try:
                measure_tether(ctx, topo, args, rows)
            except TestFailure as e:
                log("tetherd half failed: %s" % e)
                print(ctx.tetherd.log_tail(30) if ctx.tetherd else "", flush=True)
        text = report(rows, args)
        print("\n" + text, end="")
        Path(args.out).write_text(text)
        (Path(args.out).with_suffix(".json")).write_text(json.dumps(rows, indent=1) + "\n")
        log("wrote %s" % args.out)
        rc = 0 if rows else 1
    except BaseException as e:  # noqa: B036 - report, then always clean up
        log("FAIL: %s: %s" % (type(e).__name__, e))
        if rows:
            print(report(rows, args))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        for b in backends:
            try:
                b.stop()
            except (OSError, subprocess.SubprocessError):
                pass
        for e in ctx.teardown():
            log("teardown problem: %s" % e)
            rc = 1
    sys.exit(rc)


if __name__ == "__main__":
    main()
