#!/usr/bin/env python3
"""Test HTTP backend for Tether's integration topology (tools/topology runs one per backend).

Endpoints, all answered with Content-Length and an `X-Backend: <name>` header:
  GET  /               -> "<name>\n"  (which backend served the request)
  GET  /blob?bytes=N   -> N deterministic pseudo-random bytes (tools/apps/blob.py), streamed
  POST /upload         -> SHA-256 hex of the request body + "\n" (Content-Length or chunked)
  GET  /health         -> "ok\n" (200), or 500 "sick\n" while sick (SIGUSR1)
HTTP/1.1 with keep-alive, one thread per connection, so a slow client never blocks the others.
Listens on every --port given (fullnat uses 8080; dsr/ipip also need the service port, 80) of every
--bind address: `--bind 0.0.0.0 --bind ::` serves IPv4 and IPv6 clients (an IPv6 VIP in dsr/ipip)
on two sockets per port.

Failure modes for health-check tests (tests/integration/test_health.py), switched by signals so that
tools/topology needs no new options; each change is logged to stderr:
  SIGUSR1  sick: GET /health answers 500; every other path keeps working
  SIGUSR2  closed: the listening sockets are closed, so new connections are refused (RST) while
           established ones keep being served on their own threads
  SIGHUP   back to normal: /health answers 200 and the ports listen again
  SIGSTOP  (the kernel's) hangs everything: SYNs are still answered from the listen backlog, requests
           are not; SIGCONT resumes
"""
import argparse
import hashlib
import http.server
import os
import signal
import socket
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blob import blob_chunks  # noqa: E402

MAX_BLOB_BYTES = 8 << 30
CONTROL_SIGNALS = {signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGTERM}


class Mode:
    """What the control signals set. Written by the main thread only; handlers just read `sick`."""
    sick = False


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class Server6(Server):
    address_family = socket.AF_INET6

    def server_bind(self):
        # IPv6 only: IPv4 clients keep their own socket on the same port, so what they see (and the
        # dotted peer address /peer reports) does not depend on whether IPv6 is served too.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


def make_handler(name, verbose):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "tether-test-backend"

        def log_message(self, fmt, *args):
            if verbose:
                sys.stderr.write("%s %s:%d %s\n" % (name, self.client_address[0],
                                                    self.client_address[1], fmt % args))

        def _reply(self, code, body, ctype="text/plain"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Backend", name)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/":
                return self._reply(200, (name + "\n").encode())
            if url.path == "/peer":  # who connected: the balancer's full-NAT source address
                return self._reply(200, ("%s %s\n" % (name, self.client_address[0])).encode())
            if url.path == "/health":
                return self._reply(500, b"sick\n") if Mode.sick else self._reply(200, b"ok\n")
            if url.path == "/blob":
                query = urllib.parse.parse_qs(url.query)
                try:
                    total = int(query.get("bytes", ["0"])[0])
                except ValueError:
                    total = -1
                if not 0 <= total <= MAX_BLOB_BYTES:
                    return self._reply(400, b"bytes must be 0..8GiB\n")
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(total))
                self.send_header("X-Backend", name)
                self.end_headers()
                for chunk in blob_chunks(total):
                    self.wfile.write(chunk)
                return None
            return self._reply(404, b"not found\n")

        def do_POST(self):
            if urllib.parse.urlsplit(self.path).path != "/upload":
                return self._reply(404, b"not found\n")
            h = hashlib.sha256()
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    self._hash_exact(h, size)
                    self.rfile.readline()
            else:
                self._hash_exact(h, int(self.headers.get("Content-Length", "0")))
            return self._reply(200, (h.hexdigest() + "\n").encode())

        def _hash_exact(self, h, size):
            while size > 0:
                data = self.rfile.read(min(size, 1 << 20))
                if not data:
                    raise ConnectionError("body truncated")
                h.update(data)
                size -= len(data)

    return Handler


class Listeners:
    """One ThreadingHTTPServer per port, each served on its own thread, so that the main thread is
    free to wait for control signals and can close (and reopen) the listening sockets without
    touching established connections."""

    def __init__(self, binds, ports, handler):
        self.binds, self.ports, self.handler = binds, ports, handler
        self.servers = []

    def open(self):
        # SO_REUSEADDR (allow_reuse_address) lets a reopened listener bind while connections accepted
        # by the previous one still use the port.
        self.servers = [(Server6 if ":" in bind else Server)((bind, port), self.handler)
                        for bind in self.binds for port in self.ports]
        for srv in self.servers:
            threading.Thread(target=srv.serve_forever, daemon=True).start()

    def close(self):
        for srv in self.servers:
            srv.shutdown()      # stop accepting; daemon handler threads keep serving their clients
            srv.server_close()
        self.servers = []


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--bind", action="append", help="address to listen on, repeatable (default 0.0.0.0)")
    ap.add_argument("--port", type=int, action="append", required=True)
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args()

    # Control signals are taken synchronously by the main thread (sigwaitinfo), never by a handler
    # thread: blocked here, before any thread starts, so every thread inherits the mask.
    signal.pthread_sigmask(signal.SIG_BLOCK, CONTROL_SIGNALS)
    binds = args.bind or ["0.0.0.0"]
    listeners = Listeners(binds, args.port, make_handler(args.name, args.verbose))
    listeners.open()
    sys.stderr.write("%s: http on %s ports %s\n" % (args.name, " ".join(binds), args.port))
    sys.stderr.flush()
    while True:
        sig = signal.sigwaitinfo(CONTROL_SIGNALS).si_signo
        if sig == signal.SIGTERM:
            os._exit(0)
        if sig == signal.SIGUSR1:
            Mode.sick = True
            what = "sick (GET /health -> 500)"
        elif sig == signal.SIGUSR2:
            if listeners.servers:
                listeners.close()
            what = "closed (not listening; established connections continue)"
        else:  # SIGHUP
            Mode.sick = False
            if not listeners.servers:
                listeners.open()
            what = "normal"
        sys.stderr.write("%s: mode %s\n" % (args.name, what))
        sys.stderr.flush()


if __name__ == "__main__":
    main()
