"""Shared driver for Tether's integration tests: topology, tetherd process, config, stats, teardown.

Each test script builds its own tools/topology network under a unique prefix, starts tetherd inside
the `P-lb` namespace on the af_packet port `P-lb0`, runs real clients in `P-cl` (curl and
netprobe.py), and always tears everything down: `run_test` wraps the test body in try/finally,
turns SIGTERM/SIGINT (meson's timeout) and its own hard deadline (SIGALRM) into exceptions, and on
failure prints the tetherd log tail, the last stats and the backend logs before cleaning up.

Addresses follow tools/topology --help: client 10.99.0.10, backend i at 10.99.0.(10+i), Tether's
port 10.99.0.2/24, VIP 10.99.0.100; for IPv6 (test_ipv6.py) the same last bytes in fd00:99::/64.
Exit status: 0 pass, 1 fail, 77 skip (meson's convention).
"""
import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TOPOLOGY = REPO / "tools" / "topology"
NETPROBE = HERE / "netprobe.py"
APIPROBE = HERE / "apiprobe.py"
DEFAULT_TETHERCTL = REPO / "build" / "tools" / "tetherctl" / "tetherctl"
APPS = REPO / "tools" / "apps"

VIP = "10.99.0.100"
LB_ADDR = "10.99.0.2"
CLIENT_ADDR = "10.99.0.10"
# IPv6 clients (NAT64 full-NAT to the same IPv4 backends, or dsr/ipip to backends that also have IPv6:
# Topology(ipv6=True)): add_ipv6_vip(), Topology.enable_client_ipv6().
CLIENT_ADDR6 = "fd00:99::10"
LB_ADDR6 = "fd00:99::2"
VIP6 = "fd00:99::100"
HTTP_PORT_FULLNAT = 8080    # backends' HTTP port behind a fullnat service
UDP_PORT = 9000
DROP_KEYS = ["malformed", "unknown_vip", "no_backend", "no_neighbor", "flow_table_full",
             "no_local_port", "tx_full", "unsupported", "handoff_full"]

_t0 = time.monotonic()


def log(msg):
    print("[%6.1fs] %s" % (time.monotonic() - _t0, msg), flush=True)


class TestFailure(Exception):
    pass


class Deadline(BaseException):
    """Raised by SIGALRM/SIGTERM/SIGINT; BaseException so test code's `except Exception` can't eat it."""


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def web_backend_port(mode):
    """The backends' HTTP port behind service web: 8080 in fullnat; dsr/ipip need the service port."""
    return HTTP_PORT_FULLNAT if mode == "fullnat" else 80


def backend_addr(i):
    return "10.99.0.%d" % (10 + i)


def backend_addr6(i):
    """Backend i's own IPv6 address on eth0 (tools/topology --ipv6; dsr/ipip only)."""
    return "fd00:99::%d" % (10 + i)


def backend_name(addr):
    return "b%d" % (int(addr.rsplit(".", 1)[1]) - 10)


def mac_for(addr):
    return "02:00:" + ":".join("%02x" % int(x) for x in addr.split("."))


def python():
    # Debian's interpreter when present (the CI image); the one running us otherwise.
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def read_hold_event(proc, want):
    """The next JSON event line of a `netprobe.py hold` client, which must be `want`."""
    line = proc.stdout.readline()
    if not line:
        raise TestFailure("hold client ended before '%s' (stderr: %s)" % (want, proc.stderr.read()[-2000:]))
    ev = json.loads(line)
    check(ev.get("event") == want, "hold client: expected event %s, got %s" % (want, ev))
    return ev


def wait_for(what, fn, timeout, interval=0.1):
    """Polls fn() until it returns something truthy; returns it, or fails naming `what`."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except (OSError, ValueError, KeyError, subprocess.SubprocessError) as e:
            last_exc = e
        time.sleep(interval)
    raise TestFailure("timed out after %.0fs waiting for %s%s" %
                      (timeout, what, " (last error: %s)" % last_exc if last_exc else ""))


def binomial_tolerance(n, p, z=4.0, slack=0.01):
    """Largest |count - n*p| accepted for one backend's share of n independent flows.

    Flows are hashed on the 5-tuple, so each lands on a backend with probability ~p and the count
    is Binomial(n, p): z standard deviations (z = 4 -> two-sided false-failure rate ~6e-5 per
    backend) plus `slack`*n for the lookup table's own deviation from the exact weights (Maglev's
    per-backend slot share is within a fraction of a percent of the weight)."""
    return z * math.sqrt(n * p * (1 - p)) + slack * n + 1


class Topology:
    def __init__(self, prefix, mode="fullnat", backends=3, ipv6=False):
        """ipv6: the backends get IPv6 too (tools/topology --ipv6; dsr and ipip only)."""
        self.prefix, self.mode, self.backends, self.ipv6 = prefix, mode, backends, ipv6
        self.is_up = False

    def ns(self, node):
        return "%s-%s" % (self.prefix, node)

    @property
    def lb_dev(self):
        return self.prefix + "-lb0"

    @property
    def state_dir(self):
        root = os.environ.get("TETHER_TOPOLOGY_STATE",
                              os.path.join(os.environ.get("TMPDIR", "/tmp"), "tether-topology"))
        return Path(root) / self.prefix

    def _topology(self, *args, timeout=90):
        return subprocess.run([str(TOPOLOGY), *args, "--prefix", self.prefix], capture_output=True,
                              text=True, timeout=timeout, env=dict(os.environ, TETHER_PYTHON=python()))

    def up(self):
        self._topology("down", timeout=60)  # a leftover from a crashed run with the same prefix
        log("topology up: prefix %s, mode %s, %d backends%s" % (self.prefix, self.mode, self.backends,
                                                               " with IPv6" if self.ipv6 else ""))
        self.is_up = True  # even a failed `up` may leave something for down() to remove
        p = self._topology("up", "--mode", self.mode, "--backends", str(self.backends),
                           *(["--ipv6"] if self.ipv6 else []))
        if p.returncode != 0:
            raise TestFailure("tools/topology up failed:\n%s%s" % (p.stdout, p.stderr))

    def down(self):
        p = self._topology("down", timeout=60)
        self.is_up = False
        if p.returncode != 0:
            raise TestFailure("tools/topology down failed:\n%s%s" % (p.stdout, p.stderr))
        log("topology down: prefix %s" % self.prefix)

    def leftovers(self):
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
        return [n for n in names if n.startswith(self.prefix + "-")]

    def run(self, node, argv, timeout=30, check_rc=True, input=None):
        p = subprocess.run(["ip", "netns", "exec", self.ns(node), *map(str, argv)], capture_output=True,
                           text=True, timeout=timeout, input=input)
        if check_rc and p.returncode != 0:
            raise TestFailure("in %s: %s -> rc %d\nstdout: %s\nstderr: %s" % (
                self.ns(node), " ".join(map(str, argv)), p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
        return p

    def popen(self, node, argv, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.ns(node), *map(str, argv)], **kw)

    def probe(self, args, node="cl", timeout=60):
        """Runs netprobe.py in a namespace and returns its JSON answer."""
        p = self.run(node, [python(), NETPROBE, *args], timeout=timeout)
        try:
            return json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise TestFailure("netprobe %s: unparsable output %r (stderr %r)" % (args[0], p.stdout, p.stderr))

    def curl(self, url, timeout=10, extra=()):
        p = self.run("cl", ["curl", "-sS", "--fail", "--max-time", str(timeout), *extra, url],
                     timeout=timeout + 5, check_rc=False)
        return p

    def enable_client_ipv6(self):
        """tools/topology disables IPv6 in every namespace; the client alone gets it back, with a static
        CLIENT_ADDR6/64 on the link of LB_ADDR6 and VIP6 (resolved by neighbour discovery)."""
        self.run("cl", ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0",
                        "net.ipv6.conf.default.disable_ipv6=0", "net.ipv6.conf.eth0.disable_ipv6=0"])
        self.run("cl", ["ip", "-6", "addr", "add", CLIENT_ADDR6 + "/64", "dev", "eth0", "nodad"])

    def lb_mac(self):
        p = self.run("lb", ["cat", "/sys/class/net/%s/address" % self.lb_dev])
        return p.stdout.strip()

    def log_tails(self, lines=15):
        out = []
        for f in sorted(self.state_dir.glob("*.log")):
            try:
                tail = f.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            if tail:
                out.append("--- %s\n%s" % (f.name, "\n".join(tail)))
        return "\n".join(out)


def make_config(mode, backends, udp_backends=None, static_neighbors=True, stats_backends=True,
                web_port=None, algorithm="maglev", timeouts=None, health_check=None,
                neighbor_hosts=(), local_addresses=None, extra_services=()):
    """tetherd YAML config (configs/README.md) as a dict.

    backends: list of (address, weight) or (address, weight, state) for the TCP service `web` on
    VIP:80; state is enabled | draining | disabled (omitted: the config's default, enabled).
    udp_backends: the same for the UDP service `echo` on VIP:9000 (None = same as `backends`).
    health_check: the `health_check:` mapping of service `web` (None = none configured).
    neighbor_hosts: more addresses given static `neighbors:` entries, e.g. backends that the test
    adds later through the REST API.
    local_addresses: the port's full-NAT source addresses ("first-last"; None = the port address).
    extra_services: more `services:` entries, appended as given."""
    if web_port is None:
        web_port = HTTP_PORT_FULLNAT if mode == "fullnat" else 80
    if udp_backends is None:
        udp_backends = backends
    cfg = {
        "dataplane": {"burst_size": 32, "mbufs": 8191, "flow_entries_per_lcore": 16384,
                      "local_port_min": 10000, "local_port_max": 59999},
        "ports": [{"name": "lan", "address": LB_ADDR + "/24", "vlan": 0}],
        "timeouts": timeouts or {"tcp_syn_s": 10, "tcp_established_s": 300, "tcp_closing_s": 10,
                                 "udp_s": 30},
        "services": [
            {"name": "web", "vip": VIP, "port": 80, "protocol": "tcp", "forwarding": mode,
             "key": "five_tuple", "algorithm": algorithm, "maglev_size": 65537, "seed": 0,
             "backends": [_backend_entry(b, web_port) for b in backends]},
            {"name": "echo", "vip": VIP, "port": UDP_PORT, "protocol": "udp", "forwarding": mode,
             "key": "five_tuple", "algorithm": algorithm, "maglev_size": 65537, "seed": 0,
             "backends": [_backend_entry(b, UDP_PORT) for b in udp_backends]},
        ],
    }
    if health_check is not None:
        cfg["services"][0]["health_check"] = dict(health_check)
    if local_addresses is not None:
        cfg["ports"][0]["local_addresses"] = local_addresses
    cfg["services"] += [dict(s) for s in extra_services]
    if static_neighbors:
        hosts = [CLIENT_ADDR] + sorted({b[0] for b in backends} | {b[0] for b in udp_backends} |
                                       set(neighbor_hosts),
                                       key=lambda a: tuple(map(int, a.split("."))))
        cfg["neighbors"] = [{"address": a, "mac": mac_for(a)} for a in hosts]
    return cfg


def add_ipv6_vip(cfg):
    """IPv6 clients on VIP6: the port's address6 and IPv6 copies of `web` and `echo` (web6, echo6), with
    the same IPv4 backends in the same forwarding mode: full-NAT (NAT64, configs/README.md, "IPv6
    VIPs"), or dsr/ipip to backends that hold the VIP6 themselves (Topology(ipv6=True))."""
    cfg["ports"][0]["address6"] = LB_ADDR6 + "/64"
    cfg["services"] += [dict(cfg["services"][0], name="web6", vip=VIP6),
                        dict(cfg["services"][1], name="echo6", vip=VIP6)]
    return cfg


def _backend_entry(b, port):
    entry = {"address": b[0], "port": port, "weight": b[1]}
    if len(b) > 2 and b[2] is not None:
        entry["state"] = b[2]
    return entry


class Tetherd:
    """tetherd running in P-lb on P-lb0 (lcore 0 control, lcore 1 worker).

    extra_args go after the config and stats options, e.g. ["--exception-tap", "tether0"] for health
    checks (they leave through a tap in P-lb that carries Tether's address and MAC). The REST API
    listens on its default 127.0.0.1:9180 inside P-lb; reach it with TetherCtl or apiprobe.py there."""

    def __init__(self, exe, topo, workdir, stats_interval_ms=250, memory_mb=512, extra_args=(), workers=1,
                 pmd="af_packet", af_packet_frame_bytes=None):
        self.exe, self.topo, self.workdir = str(exe), topo, Path(workdir)
        self.config_path = self.workdir / "tether.yaml"
        self.stats_path = self.workdir / "stats.json"
        self.log_path = self.workdir / "tetherd.log"
        self.stats_interval_ms = stats_interval_ms
        self.memory_mb = memory_mb
        self.proc = None
        self.last_stats = None
        self.file_prefix = "tether-it-" + topo.prefix
        self.extra_args = [str(a) for a in extra_args]
        self.workers = workers
        self.pmd = pmd
        # af_packet's ring frame (framesz, a multiple of the page size here so that blocksz can equal
        # it): the longest frame the kernel hands over whole, once it has joined a datagram's
        # fragments. None = the driver's default (2048).
        self.af_packet_frame_bytes = af_packet_frame_bytes if pmd == "af_packet" else None

    def vdev(self):
        dev = self.topo.lb_dev
        if self.pmd == "pcap":
            # libpcap on the veth: frames exactly as they are on the wire, fragments included, where
            # af_packet's fanout has the kernel join them first (DPDK sets PACKET_FANOUT_FLAG_DEFRAG).
            # Incoming frames only, so tetherd never reads its own; the veth's MAC, so the kernel side
            # sees one address for it.
            return "net_pcap0,rx_iface_in=%s,tx_iface=%s,phy_mac=1" % (dev, dev)
        vdev = "net_af_packet0,iface=%s,qpairs=%d" % (dev, self.workers)
        if self.af_packet_frame_bytes:
            vdev += ",blocksz=%d,framesz=%d" % (self.af_packet_frame_bytes, self.af_packet_frame_bytes)
        return vdev

    def write_config(self, cfg):
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(cfg, sort_keys=False))
        os.replace(tmp, self.config_path)  # tetherd must never read a half-written file

    def argv(self):
        # Lcore 0 (control) on CPU 0; the workers all on CPU 1, so several workers fit a 2-CPU machine.
        # One af_packet queue pair per worker: the kernel's fanout spreads frames over them by hash.
        lcores = ",".join(["0@0"] + ["%d@1" % w for w in range(1, self.workers + 1)])
        eal = ["--no-huge", "-m", str(self.memory_mb), "--no-shconf", "--no-pci", "--lcores", lcores,
               "--file-prefix", self.file_prefix,
               "--vdev", self.vdev()]
        app = ["--config", str(self.config_path), "--stats-file", str(self.stats_path),
               "--stats-interval-ms", str(self.stats_interval_ms), *self.extra_args]
        return ["ip", "netns", "exec", self.topo.ns("lb"), self.exe, *eal, "--", *app]

    def start(self, cfg, ready_timeout=30):
        if self.af_packet_frame_bytes:
            # The driver copies a ring frame into one mbuf and wants framesz + 96 bytes of data room.
            cfg = dict(cfg, dataplane=dict(cfg["dataplane"], mbuf_data_room=self.af_packet_frame_bytes + 128))
        self.write_config(cfg)
        try:
            self.stats_path.unlink()  # a previous run's file in the same workdir is not "ready"
        except FileNotFoundError:
            pass
        argv = self.argv()
        log("starting tetherd: " + " ".join(argv))
        self.logf = open(self.log_path, "wb")
        # Own session: a signal for us (Ctrl-C) doesn't reach it, and we can kill its whole group.
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                raise TestFailure("tetherd exited with status %s during startup:\n%s" %
                                  (self.proc.returncode, self.log_tail()))
            s = self.read_stats()
            return s if s.get("lcores") and "totals" in s else None
        s = wait_for("tetherd's first stats file %s" % self.stats_path, ready, ready_timeout)
        log("tetherd ready (pid %d, %d worker lcore(s))" % (self.proc.pid, len(s["lcores"])))

    def start_refused(self, cfg, expect, timeout=30):
        """Runs tetherd on `cfg` exactly as given (no mbuf_data_room to match af_packet_frame_bytes)
        and requires a refusal: a non-zero exit before it is ready, no stats file ever written (a bad
        configuration never half-starts the daemon), and `expect` in what it printed. Returns the log."""
        self.write_config(cfg)
        try:
            self.stats_path.unlink()
        except FileNotFoundError:
            pass
        argv = self.argv()
        log("starting tetherd, expecting a refusal: " + " ".join(argv))
        with open(self.log_path, "wb") as logf:
            proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                raise TestFailure("tetherd did not refuse within %d s:\n%s" % (timeout, self.log_tail()))
        shutil.rmtree(os.path.join("/var/run/dpdk", self.file_prefix), ignore_errors=True)
        output = self.log_path.read_text(errors="replace")
        check(rc != 0, "tetherd exited with status 0 on a configuration it must refuse:\n" + output)
        check(not self.stats_path.exists(), "tetherd wrote stats before refusing: it half-started")
        check(expect in output, "tetherd's refusal does not say %r:\n%s" % (expect, output))
        return output

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        check(self.alive(), "tetherd died (status %s)" % (self.proc.returncode if self.proc else None))

    def read_stats(self):
        with open(self.stats_path) as f:
            s = json.load(f)
        self.last_stats = s
        return s

    def fresh_stats(self, timeout=10):
        """Stats written after this call started: waits for two rewrites of the file (the first
        may have been in progress already), so every counter reflects what happened before."""
        self.check_alive()
        seen = []

        def rewritten():
            st = os.stat(self.stats_path)
            key = (st.st_mtime_ns, st.st_ino)
            if not seen or seen[-1] != key:
                seen.append(key)
            return len(seen) >= 3
        wait_for("stats file rewrite", rewritten, timeout, interval=0.02)
        return self.read_stats()

    def reload(self, cfg):
        self.write_config(cfg)
        self.check_alive()
        log("reload: SIGHUP to tetherd")
        os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log("tetherd ignored SIGTERM for 10 s; SIGKILL")
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        log("tetherd stopped, status %s" % self.proc.returncode)
        self.logf.close()
        # EAL leaves its (empty, with --no-shconf) runtime directory behind; it is ours by name.
        shutil.rmtree(os.path.join("/var/run/dpdk", self.file_prefix), ignore_errors=True)

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as e:
            return "(no log: %s)" % e


class TetherCtl:
    """tetherctl run inside P-lb, where tetherd's REST API listens (127.0.0.1:9180)."""

    def __init__(self, exe, topo, server=None):
        self.exe, self.topo, self.server = str(exe), topo, server

    def run(self, *args, timeout=30, check_rc=True):
        argv = [self.exe] + (["--server", self.server] if self.server else []) + [str(a) for a in args]
        return self.topo.run("lb", argv, timeout=timeout, check_rc=check_rc)

    def json(self, *args, timeout=30):
        p = self.run("--json", *args, timeout=timeout)
        try:
            return json.loads(p.stdout)
        except ValueError:
            raise TestFailure("tetherctl --json %s: unparsable output %r" % (" ".join(map(str, args)),
                                                                            p.stdout[-500:]))

    def json_lines(self, *args, timeout=30):
        """For commands that print one JSON object per line (`top`)."""
        p = self.run("--json", *args, timeout=timeout)
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def health(self):
        """{(address, port): backend health entry} of service web (`tetherctl --json health`)."""
        return {(h["address"], h["port"]): h for h in self.json("health")["backends"]
                if h["service"] == "web"}

    def metrics(self):
        """`tetherctl metrics` parsed: {(name, frozenset(labels.items())): value}."""
        return parse_metrics(self.run("metrics").stdout)


def parse_metrics(text):
    """Prometheus text exposition -> {(sample name, frozenset(labels.items())): value}, parsed with
    prometheus_client's own parser (Debian: python3-prometheus-client) so the format is checked too."""
    from prometheus_client.parser import text_string_to_metric_families
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def metric(samples, name, **labels):
    """One sample's value from parse_metrics() output; fails if it is missing."""
    key = (name, frozenset(labels.items()))
    check(key in samples, "metric %s%s missing" % (name, labels))
    return samples[key]


def require_modules(*modules):
    """Re-executes the script with Debian's /usr/bin/python3 when this interpreter lacks a module
    that Debian packages (e.g. a pyenv python3 first on PATH without python3-prometheus-client)."""
    import importlib.util
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath(
            "/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    print("FAIL: python modules missing: %s (apt-get install python3-prometheus-client)" % missing,
          flush=True)
    sys.exit(1)


class BackgroundProbe:
    """A long-running netprobe.py subcommand (http-loop, http-stream, udp-loop) in a namespace.

    It prints {"event": "started"} when its traffic runs, takes commands on stdin (`mark NAME`
    starts a new phase, acknowledged with {"event": "marked"}; `stop` ends it) and prints its JSON
    result last."""

    def __init__(self, topo, args, node="cl"):
        self.args = args
        self.proc = topo.popen(node, [python(), NETPROBE, *args], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line or json.loads(line).get("event") != "started":
            self.kill()
            raise TestFailure("netprobe %s did not start: %r %s" %
                              (args[0], line, self.proc.stderr.read()[-2000:]))

    def send(self, command):
        if self.proc.poll() is not None:
            raise TestFailure("netprobe %s exited early (status %s): %s" % (
                self.args[0], self.proc.returncode, self.proc.stderr.read()[-2000:]))
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def mark(self, phase):
        """Returns once the probe has switched: no later packet belongs to the previous phase."""
        self.send("mark " + phase)
        line = self.proc.stdout.readline()
        try:
            ev = json.loads(line)
        except ValueError:
            ev = None
        if not ev or ev.get("event") != "marked" or ev.get("phase") != phase:
            raise TestFailure("netprobe %s: no acknowledgement for mark %s: %r" % (self.args[0], phase, line))

    def stop(self, timeout=30):
        self.send("stop")
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure("netprobe %s did not stop within %ss" % (self.args[0], timeout))
        lines = out.strip().splitlines()
        try:
            return json.loads(lines[-1])
        except (ValueError, IndexError):
            raise TestFailure("netprobe %s: unparsable result %r (stderr %r)" %
                              (self.args[0], out[-500:], err[-2000:]))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def warm_up(topo, what="first GET http://VIP/ through tetherd"):
    """Retries the first request: ARP on either side of a fresh tetherd may cost a SYN or two."""
    def ok():
        p = topo.curl("http://%s/" % VIP, timeout=3)
        return p.returncode == 0 and p.stdout.startswith("b")
    wait_for(what, ok, 20, interval=0.2)


# --- stats helpers ---------------------------------------------------------------------------------
def drops(stats):
    return {k: stats["totals"]["drops"].get(k, 0) for k in DROP_KEYS}


def drops_delta(before, after):
    b, a = drops(before), drops(after)
    return {k: a[k] - b[k] for k in DROP_KEYS if a[k] != b[k]}


def new_flows(stats, service):
    """{backend address: new_flows} for one service."""
    for svc in stats.get("services", []):
        if svc["name"] == service:
            return {b["address"]: b["new_flows"] for b in svc["backends"]}
    return {}


def new_flows_delta(before, after, service):
    b, a = new_flows(before, service), new_flows(after, service)
    return {addr: a[addr] - b.get(addr, 0) for addr in a}


# --- test runner -----------------------------------------------------------------------------------
class Context:
    def __init__(self, args, short):
        self.args = args
        self.prefix = "%s%d" % (short, os.getpid() % 100000)
        self.workdir = Path(tempfile.mkdtemp(prefix="tether-it-%s-" % self.prefix))
        self.topo = None
        self.tetherd = None

    def topology(self, mode=None, backends=3, ipv6=False):
        self.topo = Topology(self.prefix, mode or self.args.mode, backends, ipv6=ipv6)
        self.topo.up()
        return self.topo

    def start_tetherd(self, cfg, extra_args=(), af_packet_frame_bytes=None):
        check(self.args.tetherd, "this test needs --tetherd PATH")
        # The demos and sticky_cpu build their own args without --workers: one worker, as before it existed.
        self.tetherd = Tetherd(self.args.tetherd, self.topo, self.workdir, extra_args=extra_args,
                               workers=getattr(self.args, "workers", 1), pmd=getattr(self.args, "pmd", "af_packet"),
                               af_packet_frame_bytes=af_packet_frame_bytes)
        self.tetherd.start(cfg)
        return self.tetherd

    def expect_tetherd_refuses(self, cfg, expect, af_packet_frame_bytes=None):
        """tetherd on `cfg` must exit with an error saying `expect` (Tetherd.start_refused); the
        tetherd a test then starts is a fresh one."""
        check(self.args.tetherd, "this test needs --tetherd PATH")
        workdir = self.workdir / "refused"
        workdir.mkdir(exist_ok=True)
        refused = Tetherd(self.args.tetherd, self.topo, workdir, workers=getattr(self.args, "workers", 1),
                          pmd=getattr(self.args, "pmd", "af_packet"), af_packet_frame_bytes=af_packet_frame_bytes)
        return refused.start_refused(cfg, expect)

    def tetherctl(self):
        exe = self.args.tetherctl
        check(exe and os.access(exe, os.X_OK), "tetherctl not found at %s (pass --tetherctl PATH)" % exe)
        return TetherCtl(exe, self.topo)

    def config(self, backends, **kw):
        kw.setdefault("static_neighbors", not self.args.dynamic_neighbors)
        return make_config(self.topo.mode, backends, **kw)

    def diagnostics(self):
        if self.tetherd is not None:
            print("----- tetherd log (tail) -----\n" + self.tetherd.log_tail(60), flush=True)
            stats = None
            try:
                stats = self.tetherd.read_stats()
            except (OSError, ValueError):
                stats = self.tetherd.last_stats
            print("----- last stats -----\n" + json.dumps(stats, indent=1), flush=True)
            if self.tetherd.config_path.exists():
                print("----- config -----\n" + self.tetherd.config_path.read_text(), flush=True)
        if self.topo is not None:
            print("----- topology logs (tail) -----\n" + self.topo.log_tails(), flush=True)

    def teardown(self):
        errors = []
        for step in (lambda: self.tetherd and self.tetherd.stop(),
                     lambda: self.topo and self.topo.is_up and self.topo.down()):
            try:
                step()
            except BaseException as e:  # keep going: the next step must still run
                errors.append("%s: %s" % (type(e).__name__, e))
        if self.topo is not None and self.topo.leftovers():
            errors.append("namespaces left behind: %s" % self.topo.leftovers())
        if not self.args.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            log("work directory kept: %s" % self.workdir)
        return errors


def _raise_deadline(signum, _frame):
    raise Deadline("hard deadline hit" if signum == signal.SIGALRM else "got signal %d" % signum)


def run_test(short, description, body, needs_tetherd=True, default_mode="fullnat", timeout_s=120,
             add_args=None):
    """Parses the common command line, runs body(ctx) under a hard deadline, always tears down."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--tetherd", help="path to tetherd (build/controlplane/tetherd)")
    ap.add_argument("--mode", default=default_mode, choices=["fullnat", "dsr", "ipip"])
    ap.add_argument("--timeout", type=float, default=timeout_s, help="hard limit in seconds")
    ap.add_argument("--dynamic-neighbors", action="store_true",
                    help="no static `neighbors:` in the config: tetherd must resolve them by ARP")
    ap.add_argument("--keep-workdir", action="store_true", help="keep config/stats/log files")
    ap.add_argument("--workers", type=int, default=1, choices=range(1, 5),
                    help="worker lcores (sharing one CPU), each with its own af_packet queue pair")
    ap.add_argument("--tetherctl", default=str(DEFAULT_TETHERCTL),
                    help="path to tetherctl, for tests that use it (default %(default)s)")
    ap.add_argument("--pmd", default="af_packet", choices=["af_packet", "pcap"],
                    help="DPDK driver on tetherd's veth (pcap: one worker, fragments as on the wire)")
    if add_args:
        add_args(ap)
    args = ap.parse_args()

    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces)", flush=True)
        sys.exit(77)
    if needs_tetherd and not args.tetherd:
        ap.error("--tetherd PATH is required")
    if needs_tetherd and not os.access(args.tetherd, os.X_OK):
        print("FAIL: %s is not an executable" % args.tetherd, flush=True)
        sys.exit(1)

    ctx = Context(args, short)
    log("%s (prefix %s%s)" % (description, ctx.prefix, ", mode " + args.mode if needs_tetherd else ""))
    for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _raise_deadline)
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    rc = 1
    try:
        body(ctx)
        rc = 0
    except BaseException as e:  # noqa: B036 - report anything, then tear down
        log("FAIL: %s: %s" % (type(e).__name__, e))
        if not isinstance(e, (TestFailure, Deadline)):
            traceback.print_exc()
        try:
            ctx.diagnostics()
        except BaseException as d:
            log("(diagnostics failed: %s)" % d)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # don't let a second signal interrupt the cleanup
        errors = ctx.teardown()
        for e in errors:
            log("teardown problem: %s" % e)
        if errors:
            rc = 1
    log("PASS" if rc == 0 else "FAIL")
    sys.exit(rc)
