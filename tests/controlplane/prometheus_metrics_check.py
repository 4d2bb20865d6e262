#!/usr/bin/env python3
"""Checks Tether's Prometheus exposition with the reference parser (prometheus_client).

Usage: prometheus_metrics_check.py METRICS_FILE EXPECTED_JSON

EXPECTED_JSON is a list of [sample name, {label: value}, number], computed by
tests/controlplane/prometheus_metrics_test.cc from its synthetic inputs. The check passes when the
parser accepts the whole file, every family has HELP text and a counter or gauge type, and the parsed
samples are exactly the expected ones (none missing, none extra, values equal).
Exit status 0 on success, 1 with one line per problem otherwise.
"""
import json
import math
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("prometheus_metrics_check: python3 cannot import prometheus_client; "
          "install the Debian package python3-prometheus-client", file=sys.stderr)
    sys.exit(1)


def key(name, labels):
    return (name, tuple(sorted(labels.items())))


def main():
    metrics_path, expected_path = sys.argv[1], sys.argv[2]
    with open(metrics_path, encoding="utf-8") as f:
        text = f.read()
    with open(expected_path, encoding="utf-8") as f:
        expected = {key(n, l): float(v) for n, l, v in json.load(f)}

    problems = []
    parsed = {}
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and friends on bad input
        print(f"prometheus_metrics_check: parser rejected the exposition: {e!r}", file=sys.stderr)
        return 1
    for family in families:
        if family.type not in ("counter", "gauge"):
            problems.append(f"{family.name}: type {family.type!r}, expected counter or gauge")
        if not family.documentation:
            problems.append(f"{family.name}: no HELP text")
        if not family.name.startswith("tether_"):
            problems.append(f"{family.name}: no tether_ prefix")
        for s in family.samples:
            k = key(s.name, s.labels)
            if k in parsed:
                problems.append(f"duplicate sample {k}")
            parsed[k] = s.value

    for k, v in expected.items():
        if k not in parsed:
            problems.append(f"missing sample {k}")
        elif not math.isclose(parsed[k], v, rel_tol=1e-12, abs_tol=0.0):
            problems.append(f"{k}: parsed {parsed[k]!r}, expected {v!r}")
    for k in parsed.keys() - expected.keys():
        problems.append(f"unexpected sample {k} = {parsed[k]!r}")

    for p in problems:
        print(f"prometheus_metrics_check: {p}", file=sys.stderr)
    if not problems:
        print(f"prometheus_metrics_check: {len(families)} families, {len(parsed)} samples, all as expected")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
