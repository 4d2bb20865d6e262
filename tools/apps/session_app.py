#!/usr/bin/env python3
"""The seeds' lab app: a web application that keeps sessions in process memory.

  GET /api/users/login   -> creates a session, sets `Set-Cookie: SESSIONID=<random>`, "Logged In on <name>"
  GET /api/users/status  -> "You Are 'Logged In' (on <name>)" if the request's SESSIONID is a session
                            of THIS process, otherwise "You Are 'Logged Out' (on <name>)"
  GET /api/users/logout  -> forgets the session
  GET /blob?bytes=N      -> N deterministic bytes (tools/apps/blob.py), for transfers through a sticky service
  POST /upload           -> SHA-256 hex of the body (Content-Length), same purpose

Run one per backend (tools/topology does, on port 8081). Behind a balancer that sends a user's
requests to different instances, the user is logged out as soon as a request lands on an instance
that did not create the session: the problem Tether's sticky sessions solve.
"""
import argparse
import hashlib
import http.cookies
import http.server
import os
import secrets
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blob import blob_chunks  # noqa: E402

COOKIE = "SESSIONID"
MAX_BLOB_BYTES = 1 << 30


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Load tests open hundreds of connections a second; the default backlog of 5 would drop SYNs.
    request_queue_size = 256


def make_handler(name, sessions, lock):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Head and body leave in one write (flushed after each request), so a kept-alive client
        # never waits on Nagle + delayed ACK (40 ms) between the two.
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):
            pass

        def session_id(self):
            jar = http.cookies.SimpleCookie()
            for header in self.headers.get_all("Cookie") or []:
                try:
                    jar.load(header)
                except http.cookies.CookieError:
                    continue
            return jar[COOKIE].value if COOKIE in jar else None

        def say_close(self):
            # A client that asked for `Connection: close` (wrk -H) must be told the connection ends,
            # or it tries to reuse it and counts the server's FIN as a read error.
            if self.close_connection:
                self.send_header("Connection", "close")

        def reply(self, text, set_cookie=None, status=200):
            body = (text + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Backend", name)
            self.say_close()
            if set_cookie is not None:
                self.send_header("Set-Cookie", set_cookie)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 (http.server's naming)
            sid = self.session_id()
            if self.path == "/api/users/login":
                sid = secrets.token_hex(16)
                with lock:
                    sessions.add(sid)
                self.reply("Logged In on %s" % name, "%s=%s; Path=/; HttpOnly" % (COOKIE, sid))
            elif self.path == "/api/users/status":
                with lock:
                    known = sid in sessions
                self.reply("You Are '%s' (on %s)" % ("Logged In" if known else "Logged Out", name))
            elif self.path == "/api/users/logout":
                with lock:
                    sessions.discard(sid)
                self.reply("Logged Out on %s" % name, "%s=; Path=/; Max-Age=0" % COOKIE)
            elif self.path.startswith("/blob?"):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                try:
                    total = int(query.get("bytes", ["-1"])[0])
                except ValueError:
                    total = -1
                if not 0 <= total <= MAX_BLOB_BYTES:
                    return self.reply("bytes must be 0..1GiB", status=400)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(total))
                self.send_header("X-Backend", name)
                self.say_close()
                self.end_headers()
                for chunk in blob_chunks(total):
                    self.wfile.write(chunk)
            else:
                self.reply("not found", status=404)

        def do_POST(self):  # noqa: N802
            if self.path != "/upload":
                return self.reply("not found", status=404)
            h = hashlib.sha256()
            left = int(self.headers.get("Content-Length", "0"))
            while left > 0:
                data = self.rfile.read(min(left, 1 << 20))
                if not data:
                    return None  # client went away; nothing to answer
                h.update(data)
                left -= len(data)
            return self.reply(h.hexdigest())

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, default=8081)
    args = ap.parse_args()
    sessions, lock = set(), threading.Lock()
    server = Server(("0.0.0.0", args.port), make_handler(args.name, sessions, lock))
    server.serve_forever()


if __name__ == "__main__":
    main()
