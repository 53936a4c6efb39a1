#!/usr/bin/env python3
"""Cost of each request kind of the soak mix (tests/chaos/soak.lua) on a given SQLite database.

usage: bench/query_cost.py DB [REPEAT]

Starts build/colibri (or COLIBRI_BIN) on DB, then for every request kind: the first page, and
the page after it (the Link rel="next"), each requested REPEAT (7) times in a row, one at a time;
prints a Markdown table of the medians in ms. Load a table first, e.g.
    build/flightgen --rows 3000000 | build/colibri load - --store sqlite:/tmp/big.db
Used for the before/after figures of issue 7 in docs/chaos-and-soak.md.
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from pylib.server import Server  # noqa: E402

KINDS = [
    "/data?limit=100",
    "/data?limit=1000&order=asc",
    "/data?limit=200&order=desc",
    "/data?carrier=AA&limit=50",
    "/data?origin=MEX&status=landed&order=asc&limit=100",
    "/data?origin=SEA&status=diverted&order=asc&limit=100",
    "/data?origin=PTY&status=cancelled&order=asc&limit=100",
    "/data?carrier__in=AA,IB&destination__prefix=M&limit=100",
    "/data?carrier__in=QR,SQ&destination__prefix=D&limit=100",
    "/data?carrier__in=NH,NH&destination__prefix=P&limit=100",
    "/data?delay_minutes__gte=120&fields=event_id,event_time,carrier,flight_number,delay_minutes&limit=100",
    "/data?since=2026-01-01T02:00:00Z&until=2026-01-01T02:30:00Z&limit=100",
    "/data?format=ndjson&limit=500",
    "/data?format=csv&limit=200&fields=event_id,event_time,carrier,origin,destination,status",
    "/data?actual_departure__isnull=true&limit=20",
    # not in the mix: the other filter kinds on indexed (x-cluster) columns
    "/data?destination__prefix=M&limit=100",
    "/data?destination__prefix=Q&limit=100",
    "/data?carrier__gte=QR&carrier__lte=SQ&order=asc&limit=100",
    "/data?carrier__ne=AA&limit=100",
    "/data?origin__in=MEX,SEA,MAD&status__in=diverted,cancelled&limit=100",
    "/data?carrier__in=AA,IB&order=asc&limit=1000",
]


def timed(srv, path, repeat):
    times, status, link = [], None, None
    for _ in range(repeat):
        t = time.monotonic()
        r = srv.get(path)
        times.append((time.monotonic() - t) * 1000)
        status, link = r.status, r.headers.get("Link")
    nxt = link[link.index("<") + 1:link.index(">")] if link else None
    return statistics.median(times), status, nxt


def main():
    db, repeat = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 7
    srv = Server(db, COLIBRI_QUERY_TIMEOUT_MS="60000")
    try:
        print("| request | status | first page ms | next page ms |\n|---|---|---|---|")
        for kind in KINDS:
            ms, status, nxt = timed(srv, kind, repeat)
            ms2 = timed(srv, nxt, repeat)[0] if nxt else float("nan")
            print(f"| `{kind}` | {status} | {ms:.1f} | {ms2:.1f} |", flush=True)
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
