#!/usr/bin/env python3
"""The seeds' lab app: a web application that keeps sessions in process memory.

  GET /api/users/login   -> creates a session, sets `Set-Cookie: SESSIONID=<random>`, "Logged In on <name>"
  GET /api/users/status  -> "You Are 'Logged In' (on <name>)" if the request's SESSIONID is a session
                            of THIS process, otherwise "You Are 'Logged Out' (on <name>)"
  GET /api/users/logout  -> forgets the session

Run one per backend (tools/topology does, on port 8081). Behind a balancer that sends a user's
requests to different instances, the user is logged out as soon as a request lands on an instance
that did not create the session: the problem Tether's sticky sessions solve.
"""
import argparse
import http.cookies
import http.server
import secrets
import threading

COOKIE = "SESSIONID"


def make_handler(name, sessions, lock):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

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

        def reply(self, text, set_cookie=None, status=200):
            body = (text + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Backend", name)
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
            else:
                self.reply("not found", status=404)

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, default=8081)
    args = ap.parse_args()
    sessions, lock = set(), threading.Lock()
    server = http.server.ThreadingHTTPServer(("0.0.0.0", args.port), make_handler(args.name, sessions, lock))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
