#!/usr/bin/env python3
"""Test HTTP backend for Tether's integration topology (tools/topology runs one per backend).

Endpoints, all answered with Content-Length and an `X-Backend: <name>` header:
  GET  /               -> "<name>\n"  (which backend served the request)
  GET  /blob?bytes=N   -> N deterministic pseudo-random bytes (tools/apps/blob.py), streamed
  POST /upload         -> SHA-256 hex of the request body + "\n" (Content-Length or chunked)
  GET  /health         -> "ok\n"
HTTP/1.1 with keep-alive, one thread per connection, so a slow client never blocks the others.
Listens on every --port given (fullnat uses 8080; dsr/ipip also need the service port, 80).
"""
import argparse
import hashlib
import http.server
import os
import signal
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blob import blob_chunks  # noqa: E402

MAX_BLOB_BYTES = 8 << 30


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


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
            if url.path == "/health":
                return self._reply(200, b"ok\n")
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--port", type=int, action="append", required=True)
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    handler = make_handler(args.name, args.verbose)
    servers = [Server((args.bind, port), handler) for port in args.port]
    for srv in servers[1:]:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stderr.write("%s: http on %s ports %s\n" % (args.name, args.bind, args.port))
    sys.stderr.flush()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
