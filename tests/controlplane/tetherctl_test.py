#!/usr/bin/env python3
"""End-to-end test of tools/tetherctl against the real RestApi (tests/controlplane/rest_test_server).

Runs every tetherctl command against rest_test_server (RestApi over an in-memory FakeControlOps with
its built-in config: service web = 10.99.0.100:80/tcp fullnat with backends 10.99.0.11:8080 (weight 1)
and 10.99.0.12:8080 (weight 3); service dns = 10.99.0.100:53/udp dsr with 10.99.0.13:53) and checks
the output and exit status: 0 on success, 1 with the server's message on a refused request, 2 when the
server cannot be reached.

    tetherctl_test.py --tetherctl build/tools/tetherctl/tetherctl \
                      --server build/tests/controlplane/rest_test_server
"""
import argparse
import json
import os
import re
import subprocess
import sys
import unittest

ARGS = None


class RestServer:
    """rest_test_server on an ephemeral port, stopped with SIGTERM."""

    def __init__(self, token=None, extra=()):
        command = [ARGS.server, "--port", "0"] + (["--token", token] if token else []) + list(extra)
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.fullmatch(r"listening on (\d+)\n", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"rest_test_server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{match.group(1)}"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdout.close()


def tetherctl(server_url, *args, token=None, env_token=None):
    command = [ARGS.tetherctl, "--server", server_url] + (["--token", token] if token else []) + list(args)
    env = {k: v for k, v in os.environ.items() if k not in ("TETHER_SERVER", "TETHER_TOKEN")}
    if env_token:
        env["TETHER_TOKEN"] = env_token
    return subprocess.run(command, capture_output=True, text=True, timeout=30, env=env)


class TetherctlTest(unittest.TestCase):
    """Each test gets a fresh server, so edits never leak between tests."""

    def setUp(self):
        self.server = RestServer()

    def tearDown(self):
        self.server.stop()

    def ok(self, *args):
        result = tetherctl(self.server.url, *args)
        self.assertEqual(result.returncode, 0, f"tetherctl {' '.join(args)}: {result.stderr}")
        return result.stdout

    def fails(self, message, *args, code=1):
        result = tetherctl(self.server.url, *args)
        self.assertEqual(result.returncode, code, f"tetherctl {' '.join(args)}: {result.stdout}")
        self.assertIn(message, result.stderr)
        return result.stderr

    @staticmethod
    def rows(text):
        """Table rows as lists of cells (cells are separated by two or more spaces)."""
        return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]

    # --- services --------------------------------------------------------------------------------

    def test_services_list_is_an_aligned_table(self):
        rows = self.rows(self.ok("services", "list"))
        self.assertEqual(rows[0], ["NAME", "LISTENER", "FORWARDING", "ALGORITHM", "KEY", "BACKENDS",
                                   "HEALTH CHECK"])
        self.assertEqual(rows[1], ["web", "10.99.0.100:80/tcp", "fullnat", "maglev", "five_tuple", "2", "none"])
        self.assertEqual(rows[2], ["dns", "10.99.0.100:53/udp", "dsr", "maglev", "five_tuple", "1", "none"])

    def test_json_prints_the_servers_document(self):
        doc = json.loads(self.ok("services", "list", "--json"))
        self.assertEqual([s["name"] for s in doc["services"]], ["web", "dns"])
        doc = json.loads(self.ok("--json", "services", "show", "web"))
        self.assertEqual(doc["backends"][1]["weight"], 3)

    def test_services_show(self):
        out = self.ok("services", "show", "web")
        self.assertIn("listener      10.99.0.100:80/tcp", out)
        self.assertIn("algorithm     maglev", out)
        self.assertRegex(out, r"10\.99\.0\.12:8080\s+3\s+enabled")

    def test_services_add_set_delete(self):
        out = self.ok("services", "add", "api", "--vip", "10.99.0.101", "--port", "443", "--algorithm", "ring",
                      "--backend", "10.99.0.21:8443", "--backend", "10.99.0.22:8443",
                      "--health-check", "http", "--hc-path", "/healthz")
        self.assertIn("listener      10.99.0.101:443/tcp", out)
        self.assertIn("http GET /healthz expect 200", out)
        self.assertRegex(out, r"10\.99\.0\.22:8443\s+1\s+enabled")
        out = self.ok("services", "set", "api", "--algorithm", "modulo", "--seed", "5", "--hc-interval-ms", "500",
                      "--hc-timeout-ms", "100")
        self.assertIn("algorithm     modulo", out)
        self.assertIn("seed          5", out)
        self.assertIn("every 500 ms, timeout 100 ms", out)
        self.assertEqual(self.ok("services", "delete", "api"), "deleted service api\n")
        self.fails('service "api" not found', "services", "show", "api")

    def test_ipv6_listener_is_bracketed(self):
        out = self.ok("services", "add", "web6", "--vip", "fd00:99::100", "--port", "8443",
                      "--backend", "10.99.0.21:8443")
        self.assertIn("listener      [fd00:99::100]:8443/tcp", out)
        rows = [line.split() for line in self.ok("services", "list").splitlines()]
        self.assertIn(["web6", "[fd00:99::100]:8443/tcp", "fullnat", "maglev", "five_tuple", "1", "none"], rows)
        self.assertEqual(self.ok("services", "delete", "web6"), "deleted service web6\n")

    def test_services_errors_carry_the_servers_message(self):
        self.fails("maglev_size: 65536 is not prime", "services", "set", "web", "--maglev-size", "65536")
        self.fails('service "web" already exists', "services", "add", "web", "--vip", "10.99.0.101",
                   "--port", "81")
        self.fails('forwarding: "dsrr" is not one of fullnat, dsr, ipip', "services", "set", "web",
                   "--forwarding", "dsrr")
        self.fails("has no fields to change", "services", "set", "web")

    # --- backends --------------------------------------------------------------------------------

    def test_backends_list_joins_health(self):
        rows = self.rows(self.ok("backends", "list", "web"))
        self.assertEqual(rows[0], ["BACKEND", "WEIGHT", "STATE", "HEALTH", "LAST ERROR"])
        self.assertEqual(rows[1], ["10.99.0.11:8080", "1", "enabled", "up"])
        self.assertEqual(rows[2], ["10.99.0.12:8080", "3", "enabled", "down", "connect: connection refused"])

    def test_backends_lifecycle(self):
        self.assertEqual(self.ok("backends", "add", "web", "10.99.0.14:8080", "--weight", "5"),
                         "added backend 10.99.0.14:8080 to web (weight 5, enabled)\n")
        self.fails('service "web" already has backend 10.99.0.14:8080', "backends", "add", "web", "10.99.0.14:8080")
        self.assertEqual(self.ok("backends", "weight", "web", "10.99.0.14:8080", "7"),
                         "web 10.99.0.14:8080: weight 7\n")
        for command, state in (("drain", "draining"), ("disable", "disabled"), ("enable", "enabled")):
            self.assertEqual(self.ok("backends", command, "web", "10.99.0.14:8080"),
                             f"web 10.99.0.14:8080: {state}\n")
        self.assertEqual(self.ok("backends", "show", "web", "10.99.0.14:8080"),
                         "10.99.0.14:8080  weight 7  enabled\n")
        self.assertEqual(self.ok("backends", "remove", "web", "10.99.0.14:8080"),
                         "removed backend 10.99.0.14:8080 from web\n")
        self.fails('service "web" has no backend 10.99.0.14:8080', "backends", "remove", "web", "10.99.0.14:8080")

    def test_dsr_backend_port_defaults_to_the_service_port(self):
        self.assertEqual(self.ok("backends", "add", "dns", "10.99.0.14"),
                         "added backend 10.99.0.14:53 to dns (weight 1, enabled)\n")

    def test_backend_errors(self):
        self.fails("weight: 2000000 is out of range 0..1000000", "backends", "weight", "web", "10.99.0.11:8080",
                   "2000000")
        self.fails('service "nope" not found', "backends", "list", "nope")
        self.fails("port: required for forwarding fullnat", "backends", "add", "web", "10.99.0.14")
        self.fails('"10.99.0.14:http" is not ADDRESS:PORT', "backends", "add", "web", "10.99.0.14:http")

    # --- timeouts, config, health, stats, metrics, reload ----------------------------------------

    def test_timeouts(self):
        rows = self.rows(self.ok("timeouts", "show"))
        self.assertIn(["udp_s", "30"], rows)
        rows = self.rows(self.ok("timeouts", "set", "--udp", "60", "--tcp-syn", "5"))
        self.assertIn(["udp_s", "60"], rows)
        self.assertIn(["tcp_syn_s", "5"], rows)
        self.fails("tcp_established_s: 0 is out of range 1..86400", "timeouts", "set", "--tcp-established", "0")

    def test_icmp_errors(self):
        rows = self.rows(self.ok("icmp-errors", "set", "--per-second", "100"))
        self.assertEqual(rows[0], ["ICMP ERRORS", "VALUE"])
        self.assertIn(["per_second", "100"], rows)
        burst = next(r[1] for r in rows if r[0] == "burst")
        self.assertIn(["burst", burst], self.rows(self.ok("icmp-errors", "show")), "an unset field keeps its value")
        rows = self.rows(self.ok("icmp-errors", "set", "--per-second", "0", "--burst", "7"))
        self.assertIn(["per_second", "0"], rows)
        self.assertIn(["burst", "7"], rows)
        self.assertEqual(json.loads(self.ok("--json", "icmp-errors", "show")), {"per_second": 0, "burst": 7})
        self.fails("burst: 0 is out of range 1..100000", "icmp-errors", "set", "--burst", "0")
        self.fails("has no fields to change", "icmp-errors", "set")
        self.assertIn(["burst", "7"], self.rows(self.ok("icmp-errors", "show")), "a refused change keeps the budget")

    def test_config_is_json(self):
        doc = json.loads(self.ok("config"))
        self.assertEqual(doc["ports"][0]["address"], "10.99.0.2/24")

    def test_health(self):
        out = self.ok("health")
        rows = self.rows(out)
        self.assertEqual(rows[0], ["SERVICE", "BACKEND", "STATE", "TRANSITIONS", "LAST ERROR"])
        self.assertIn(["web", "10.99.0.12:8080", "down", "2", "connect: connection refused"], rows)
        self.assertIn("2 up, 1 down, 0 unknown", out)

    def test_stats(self):
        out = self.ok("stats")
        self.assertIn("flows active 30", out)
        self.assertIn("drops: malformed 6, no_backend 9", out)
        rows = self.rows(out)
        self.assertIn(["2", "2000", "200000", "1800", "180000", "20", "10"], rows)
        self.assertIn(["web", "10.99.0.12:8080", "3", "20", "200", "20000"], rows)

    def test_metrics_and_reload(self):
        self.assertIn("tether_rx_packets_total 42", self.ok("metrics"))
        self.ok("backends", "remove", "web", "10.99.0.11:8080")
        self.assertEqual(self.ok("reload"), "reloaded: 2 services, 3 backends\n")
        self.assertIn("10.99.0.11:8080", self.ok("backends", "list", "web"))

    # --- top -------------------------------------------------------------------------------------

    def test_top_shows_rates_from_two_samples(self):
        # rest_test_server's counters grow by a fixed step per sample, one uptime second apart.
        out = self.ok("top", "--iterations", "2", "--interval-ms", "20")
        self.assertEqual(out.count("tether top"), 2)
        self.assertNotIn("\x1b[2J", out)  # not a terminal: no clear-screen
        rows = self.rows(out)
        self.assertIn(["web", "10.99.0.11:8080", "up", "1", "10", "100", "10.0k"], rows)
        self.assertIn(["web", "10.99.0.12:8080", "down", "3", "20", "200", "20.0k"], rows)
        self.assertIn(["1", "1000", "900", "5", "10"], rows)
        self.assertIn(["2", "2000", "1800", "10", "20"], rows)
        self.assertIn("rx 3000 pkt/s  tx 2700 pkt/s  drops 15/s", out)

    def test_top_json_prints_one_object_per_refresh(self):
        lines = self.ok("top", "--iterations", "3", "--interval-ms", "10", "--json").splitlines()
        self.assertEqual(len(lines), 3)
        view = json.loads(lines[-1])
        self.assertEqual(view["interval_s"], 1.0)
        self.assertEqual(view["backends"][1]["new_flows_per_s"], 20.0)
        self.assertEqual(view["lcores"][0]["drops_per_s"], 5.0)

    # --- command line and connection errors ------------------------------------------------------

    def test_usage_errors_exit_1(self):
        self.fails("WEIGHT is required", "backends", "weight", "web", "10.99.0.11:8080")
        self.fails("", "frobnicate")

    def test_help_exits_0(self):
        self.assertIn("backends", self.ok("--help"))


class ConnectionTest(unittest.TestCase):
    def test_unreachable_server_exits_2(self):
        # Port 1 on loopback: nothing listens there in a test environment.
        result = tetherctl("http://127.0.0.1:1", "services", "list")
        self.assertEqual(result.returncode, 2)
        self.assertIn("cannot reach http://127.0.0.1:1", result.stderr)

    def test_bad_server_url_exits_2(self):
        result = tetherctl("ftp://127.0.0.1:9180", "services", "list")
        self.assertEqual(result.returncode, 2)
        self.assertIn("invalid --server", result.stderr)


class TokenTest(unittest.TestCase):
    def setUp(self):
        self.server = RestServer(token="s3cret")

    def tearDown(self):
        self.server.stop()

    def test_missing_or_wrong_token_exits_1_with_a_hint(self):
        result = tetherctl(self.server.url, "health")
        self.assertEqual(result.returncode, 1)
        self.assertIn("missing bearer token", result.stderr)
        self.assertIn("--token or TETHER_TOKEN", result.stderr)
        result = tetherctl(self.server.url, "health", token="wrong")
        self.assertEqual(result.returncode, 1)
        self.assertIn("invalid bearer token", result.stderr)

    def test_token_from_option_or_environment(self):
        self.assertEqual(tetherctl(self.server.url, "health", token="s3cret").returncode, 0)
        self.assertEqual(tetherctl(self.server.url, "health", env_token="s3cret").returncode, 0)


class TetherctlSessionsTest(unittest.TestCase):
    """sessions list|lookup|delete against rest_test_server --with-sessions (see its header)."""

    ok = TetherctlTest.ok
    fails = TetherctlTest.fails
    rows = staticmethod(TetherctlTest.rows)
    tearDown = TetherctlTest.tearDown

    def setUp(self):
        self.server = RestServer(extra=["--with-sessions"])

    def keys(self):
        doc = json.loads(self.ok("sessions", "list", "shop", "--json"))
        return {s["key"]: s for s in doc["sessions"]}

    def test_list_is_a_table_with_ages(self):
        rows = self.rows(self.ok("sessions", "list", "shop"))
        self.assertEqual(rows[0], ["KEY", "BACKEND", "AGE", "IDLE"])
        body = sorted(rows[1:], key=lambda r: r[1])
        self.assertEqual([r[1:] for r in body], [["(gone)", "5s", "5s"], ["10.99.0.11:8081", "90s", "30s"],
                                                 ["10.99.0.12:8081", "2h1m", "0s"]])
        for row in body:
            self.assertRegex(row[0], r"^[0-9a-f]{16}$")

    def test_list_pages_with_the_cursor_it_prints(self):
        out = self.ok("sessions", "list", "shop", "--limit", "2")
        self.assertEqual(len(self.rows(out)), 4)  # header, two sessions, the "more" hint
        match = re.search(r"more: tetherctl sessions list shop --limit 2 --cursor ([0-9a-f]{16})", out)
        self.assertIsNotNone(match, out)
        rest = self.rows(self.ok("sessions", "list", "shop", "--limit", "2", "--cursor", match.group(1)))
        self.assertEqual(len(rest), 2)  # header and the last session, no hint
        seen = {r[0] for r in self.rows(out)[1:3]} | {rest[1][0]}
        self.assertEqual(seen, set(self.keys()))

    def test_lookup_by_cookie_and_by_key(self):
        out = self.ok("sessions", "lookup", "shop", "alice")
        self.assertRegex(out, r"backend\s+10\.99\.0\.11:8081")
        self.assertRegex(out, r"age\s+90s")
        key = re.search(r"key\s+([0-9a-f]{16})", out).group(1)
        self.assertEqual(self.keys()[key]["backend"], "10.99.0.11:8081")
        doc = json.loads(self.ok("sessions", "lookup", "shop", key, "--key", "--json"))
        self.assertEqual(doc["backend"], "10.99.0.11:8081")
        self.fails('service "shop" has no such session', "sessions", "lookup", "shop", "mallory")

    def test_delete_then_lookup_fails(self):
        self.assertEqual(self.ok("sessions", "delete", "shop", "bob"), "deleted session bob of shop\n")
        self.fails('service "shop" has no such session', "sessions", "lookup", "shop", "bob")
        self.fails('service "shop" has no such session', "sessions", "delete", "shop", "bob")
        self.assertEqual(len(self.keys()), 2)

    def test_errors_carry_the_servers_message(self):
        self.fails('service "web" has no sticky sessions (no http block)', "sessions", "list", "web")
        self.fails('service "nope" not found', "sessions", "lookup", "nope", "alice")
        self.fails('key: "zz" is not a session key', "sessions", "delete", "shop", "zz", "--key")
        self.fails("--limit", "sessions", "list", "shop", "--limit", "0")


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tetherctl", required=True)
    parser.add_argument("--server", required=True, help="rest_test_server binary")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
