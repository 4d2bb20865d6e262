#!/usr/bin/env python3
"""Integration: the demo scripts tools/demo runs, in a short form, so the demo cannot break unnoticed.

They build their own harness arguments instead of parsing a test's command line. A harness change
(the --workers option) once broke both while every test stayed green. This runs
tools/demo_dataplane.py in full-NAT (IPv4, then IPv6 clients) with 30 connections, and the session lab
(tools/demo_sessions.py) whole. Each must exit 0.
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tetherd", required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces)")
        sys.exit(77)
    tetherd = str(Path(args.tetherd).resolve())  # meson passes it relative to the build directory
    runs = [
        ["tools/demo_dataplane.py", "--tetherd", tetherd, "--modes", "fullnat", "--connections", "30"],
        ["tools/demo_sessions.py", "--tetherd", tetherd],
    ]
    failed = []
    for argv in runs:
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, str(ROOT / argv[0]), *argv[1:]], cwd=ROOT, capture_output=True,
                           text=True, timeout=240)
        print("%s: rc %d in %.0f s" % (argv[0], p.returncode, time.monotonic() - t0))
        if p.returncode != 0:
            failed.append(argv[0])
            print(p.stdout[-3000:])
            print(p.stderr[-3000:])
    if failed:
        print("FAIL: %s" % ", ".join(failed))
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
