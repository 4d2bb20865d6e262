#!/usr/bin/env python3
"""REST-API driver for Tether's integration tests and bench/controlplane/publish_latency.

Runs inside the namespace where tetherd's REST API listens (tools/topology's P-lb):

    ip netns exec P-lb python3 tests/integration/apiprobe.py SUBCOMMAND [options]

and prints one JSON object on stdout. Python standard library only.

  churn    applies N backend changes (add, reweight, drain, enable, remove) as fast as the API
           answers, cycling over the given services; every change must be answered 2xx
  latency  times PATCH weight on one backend (alternating two weights, so every call is a real
           change and a publish), optionally reading the daemon's last_publish_us after each

Each request opens its own TCP connection, as tetherctl does. On a kept-alive connection a response
that the server writes in two segments waits for the client's delayed ACK (Nagle), which adds ~40 ms
and says nothing about the control plane; `latency --keepalive` measures that case separately.
"""
import argparse
import http.client
import json
import statistics
import sys
import time


class Api:
    def __init__(self, host, port, keepalive=False, timeout=30):
        self.host, self.port, self.keepalive, self.timeout = host, port, keepalive, timeout
        self.conn = None

    def call(self, method, path, body=None):
        """Returns (status, parsed body or text, seconds from sending to the whole response)."""
        if self.conn is None or not self.keepalive:
            if self.conn is not None:
                self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        seconds = time.perf_counter() - t0
        if not self.keepalive:
            self.conn.close()
            self.conn = None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, parsed, seconds

    def wait_ready(self, timeout=10):
        """Until the API accepts connections (tetherd may still be starting)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.stats()
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stats(self):
        status, body, _ = self.call("GET", "/api/v1/stats")
        if status != 200:
            raise SystemExit("GET /api/v1/stats -> %d %s" % (status, body))
        return body


def summary_us(seconds):
    """median/p90/p99/max of a list of durations in seconds, in microseconds."""
    if not seconds:
        return {}
    us = sorted(s * 1e6 for s in seconds)

    def pct(p):
        return us[min(len(us) - 1, int(round(p / 100.0 * (len(us) - 1))))]
    return {"n": len(us), "min": round(us[0], 1), "median": round(statistics.median(us), 1),
            "p90": round(pct(90), 1), "p99": round(pct(99), 1), "max": round(us[-1], 1),
            "mean": round(statistics.fmean(us), 1)}


def control(stats):
    return {k: stats.get(k) for k in ("generation", "publishes", "last_publish_us")}


# --- churn -----------------------------------------------------------------------------------------
def churn_cycle(service, port, extra, live):
    """One cycle of changes on `service`; it ends where it started (extras absent, live enabled at
    weight 1). Every step changes the backend set, a weight or a state, so every step publishes."""
    base = "/api/v1/services/%s/backends" % service
    ops = []
    for i, addr in enumerate(extra):
        ops.append(("add", "POST", base, {"address": addr, "port": port, "weight": i + 1}))
    for i, addr in enumerate(extra):
        ops.append(("weight", "PATCH", "%s/%s:%d" % (base, addr, port), {"weight": 3 + i}))
    for addr in live:
        ops.append(("weight", "PATCH", "%s/%s:%d" % (base, addr, port), {"weight": 2}))
        ops.append(("drain", "PATCH", "%s/%s:%d" % (base, addr, port), {"state": "draining"}))
        ops.append(("enable", "PATCH", "%s/%s:%d" % (base, addr, port), {"state": "enabled", "weight": 1}))
    for addr in extra:
        ops.append(("remove", "DELETE", "%s/%s:%d" % (base, addr, port), None))
    return ops


def cmd_churn(args):
    api = Api(args.host, args.port)
    services = []
    for spec in args.service:
        name, _, port = spec.partition(":")
        services.append((name, int(port)))
    cycles = [churn_cycle(name, port, args.extra, args.live) for name, port in services]
    before = api.wait_ready()
    latencies = []
    kinds = {}
    failures = []
    done = 0
    start = time.monotonic()
    c = 0
    # Whole cycles only, so the configuration ends as it began.
    while done < args.count:
        for kind, method, path, body in cycles[c % len(cycles)]:
            status, resp, seconds = api.call(method, path, body)
            done += 1
            latencies.append(seconds)
            kinds[kind] = kinds.get(kind, 0) + 1
            if not 200 <= status < 300:
                failures.append("%s %s %s -> %d %s" % (method, path, json.dumps(body), status, resp))
            if args.min_interval_ms:
                time.sleep(args.min_interval_ms / 1000.0)
        c += 1
    seconds = time.monotonic() - start
    after = api.stats()
    print(json.dumps({"changes": done, "kinds": kinds, "failures": failures[:20], "failed": len(failures),
                      "seconds": round(seconds, 3), "latency_us": summary_us(latencies),
                      "before": control(before), "after": control(after)}, sort_keys=True))


# --- latency ---------------------------------------------------------------------------------------
def cmd_latency(args):
    api = Api(args.host, args.port, keepalive=args.keepalive)
    path = "/api/v1/services/%s/backends/%s" % (args.service, args.backend)
    api.wait_ready()
    status, body, _ = api.call("GET", path)
    if status != 200:
        raise SystemExit("GET %s -> %d %s" % (path, status, body))
    weights = (body["weight"] % 1000 + 1, body["weight"] % 1000 + 2)  # never the current one
    for i in range(args.warmup):
        api.call("PATCH", path, {"weight": weights[i % 2]})
    before = api.stats()
    patch, publish_us, get = [], [], []
    for i in range(args.count):
        status, body, seconds = api.call("PATCH", path, {"weight": weights[i % 2]})
        if status != 200:
            raise SystemExit("PATCH %s -> %d %s" % (path, status, body))
        patch.append(seconds)
        if args.publish_stats:
            publish_us.append(api.stats()["last_publish_us"])
        if args.baseline:
            status, body, seconds = api.call("GET", path)
            get.append(seconds)
    after = api.stats()
    out = {"patch_us": summary_us(patch), "get_us": summary_us(get), "before": control(before),
           "after": control(after), "keepalive": args.keepalive}
    if publish_us:
        out["publish_us"] = summary_us([u / 1e6 for u in publish_us])
    print(json.dumps(out, sort_keys=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9180)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("churn")
    p.add_argument("--count", type=int, default=1000, help="at least this many changes (whole cycles)")
    p.add_argument("--service", action="append", required=True, help="NAME:BACKEND_PORT, repeatable")
    p.add_argument("--extra", action="append", default=[], help="backend address added and removed")
    p.add_argument("--live", action="append", default=[], help="configured backend reweighted/drained")
    p.add_argument("--min-interval-ms", type=float, default=0)

    p = sub.add_parser("latency")
    p.add_argument("--service", required=True)
    p.add_argument("--backend", required=True, help="ADDRESS:PORT")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--keepalive", action="store_true", help="one connection for every request")
    p.add_argument("--publish-stats", action="store_true", help="read last_publish_us after each change")
    p.add_argument("--baseline", action="store_true", help="also time a GET of the backend after each")

    args = ap.parse_args()
    {"churn": cmd_churn, "latency": cmd_latency}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
