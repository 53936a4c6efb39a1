#!/usr/bin/env python3
"""How the cost of each GET /data request kind grows with the table (make bench).

For each size in BENCH_SCALE_ROWS, a SQLite file made once by `flightgen --rows N --seed 42 |
colibri load -` (streamed: memory stays bounded; the load's peak RSS is reported) and cached in
BENCH_CACHE; then `colibri serve` on it and, per request kind, BENCH_SCALE_REPEAT requests one
after the other on one keep-alive connection (after one unmeasured): median wall time and server
CPU per request (utime+stime delta of the server / requests). Results: bench/results/scaling.md.

Environment (defaults in brackets):
  BENCH_SCALE_ROWS [100000,1000000,10000000]  BENCH_CACHE [/var/tmp/colibri-bench]
  BENCH_SCALE_REPEAT [30]  BENCH_SCALE_OUT [bench/results/scaling.md]
  COLIBRI_BIN [build/colibri]  FLIGHTGEN [build/flightgen]  COLIBRI_QUERY_TIMEOUT_MS [5000]
"""
import datetime
import http.client
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402

SCHEMA = B.REPO / "schema" / "flights.json"
SHORT_MS = "250"
SHORT_LABEL = f"same, `COLIBRI_QUERY_TIMEOUT_MS={SHORT_MS}`"


def cached_db(cache, rows, colibri, flightgen):
    """The cached file for rows (made if missing) and how it was made."""
    db = cache / f"flights-{rows}-seed42.db"
    meta = cache / f"flights-{rows}-seed42.json"
    if db.exists() and meta.exists():
        return db, json.loads(meta.read_text())
    tmp = db.with_suffix(".db.tmp")
    for p in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        p.unlink(missing_ok=True)
    B.log(f"making {db} ({rows:,} rows; once, then cached)")
    t0 = time.monotonic()
    gen = subprocess.Popen([str(flightgen), "--rows", str(rows), "--seed", "42"], stdout=subprocess.PIPE)
    load = subprocess.Popen([str(colibri), "load", "-"], stdin=gen.stdout, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE,
                            env=dict(os.environ, COLIBRI_STORE=f"sqlite:{tmp}", COLIBRI_SCHEMA=str(SCHEMA),
                                     COLIBRI_LOG_LEVEL="warn"))
    gen.stdout.close()
    _, status, ru = os.wait4(load.pid, 0)
    load.returncode = os.waitstatus_to_exitcode(status)
    if gen.wait() != 0 or load.returncode != 0:
        B.die(f"making {db} failed: {load.stderr.read().decode()[-2000:]}")
    tmp.rename(db)
    info = {"rows": rows, "load_s": round(time.monotonic() - t0, 1), "load_peak_rss_mib": round(ru.ru_maxrss / 1024, 1),
            "bytes": db.stat().st_size}
    meta.write_text(json.dumps(info))
    return db, info


def kinds(db):
    """(label, path) per request kind, with values taken from the data."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    lo, hi = con.execute("SELECT min(event_time), max(event_time) FROM flights").fetchone()
    con.close()
    mid = (lo + hi) // 2 // 3_600_000_000 * 3_600_000_000
    iso = lambda us: datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    q = lambda s: "/data?" + s
    return [
        ("first page (`limit=100`)", q("limit=100")),
        ("page 1,000, reached by cursor", None),         # filled in by walking
        ("one-hour `since`/`until` window", q(f"limit=100&since={iso(mid)}&until={iso(mid + 3_600_000_000)}")),
        ("equality, indexed (`carrier=WN`)", q("limit=100&carrier=WN")),
        ("`in`, indexed (`origin__in=YYZ,PTY,MDE`)", q("limit=100&origin__in=YYZ,PTY,MDE")),
        ("prefix, indexed (`origin__prefix=Y`)", q("limit=100&origin__prefix=Y")),
        ("unindexed, frequent (`delay_minutes__gt=30`)", q("limit=100&delay_minutes__gt=30")),
        ("unindexed, matches nothing (`tail_number=NONE`)", q("limit=100&tail_number=NONE")),
    ]


def get(conn, path):
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return r.status, body, time.perf_counter() - t0


def measure(srv, conn, path, repeat):
    status, body, _ = get(conn, path)     # unmeasured: plans and caches warm
    n = len(json.loads(body).get("data", [])) if status == 200 else 0
    if status == 503:
        assert json.loads(body)["error"]["code"] == "query_timeout", body[:200]
    walls = []
    c0, t0 = srv.cpu_seconds(), time.monotonic()
    # at least `repeat` requests and at least 2 s: CPU time comes in 10 ms ticks
    while len(walls) < repeat or (time.monotonic() - t0 < 2.0 and len(walls) < 100 * repeat):
        s, _, w = get(conn, path)
        walls.append(w)
        status = s
    cpu = (srv.cpu_seconds() - c0) / len(walls)
    return {"status": status, "rows": n, "wall_ms": statistics.median(walls) * 1000, "cpu_us": cpu * 1e6}


def page_by_cursor(conn, n):
    path = "/data?limit=100"
    for _ in range(n - 1):
        s, body, _ = get(conn, path)
        nxt = json.loads(body)["next_cursor"] if s == 200 else None
        if not nxt:
            return None
        path = "/data?limit=100&cursor=" + urllib.parse.quote(nxt)
    return path


def main():
    os.chdir(B.REPO)
    sizes = [int(x) for x in os.environ.get("BENCH_SCALE_ROWS", "100000,1000000,10000000").split(",")]
    cache = Path(os.environ.get("BENCH_CACHE", "/var/tmp/colibri-bench"))
    cache.mkdir(parents=True, exist_ok=True)
    repeat = int(os.environ.get("BENCH_SCALE_REPEAT", "30"))
    colibri = Path(os.environ.get("COLIBRI_BIN", "build/colibri")).resolve()
    flightgen = Path(os.environ.get("FLIGHTGEN", "build/flightgen")).resolve()
    out = Path(os.environ.get("BENCH_SCALE_OUT", "bench/results/scaling.md"))
    timeout_ms = os.environ.get("COLIBRI_QUERY_TIMEOUT_MS", "5000")
    load0 = os.getloadavg()
    res, infos, labels = {}, {}, None
    for rows in sizes:
        db, info = cached_db(cache, rows, colibri, flightgen)
        infos[rows] = info
        port = B.free_port()
        srv = B.Server(f"scale-{rows}", [colibri, "serve"], env={
            "COLIBRI_STORE": f"sqlite:{db}", "COLIBRI_LISTEN": f"127.0.0.1:{port}", "COLIBRI_SCHEMA": str(SCHEMA),
            "COLIBRI_LOG_LEVEL": "warn", "COLIBRI_QUERY_TIMEOUT_MS": timeout_ms, "PORT": ""}).start()
        srv.wait_ready(f"http://127.0.0.1:{port}/healthz")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        ks = kinds(db)
        labels = [k for k, _ in ks] + [SHORT_LABEL]
        for label, path in ks:
            if path is None:
                path = page_by_cursor(conn, 1000)
                if path is None:
                    continue
            slow = "unindexed, matches nothing" in label
            r = measure(srv, conn, path, 3 if slow else repeat)
            res[(rows, label)] = r
            B.log(f"{rows:>10,} {label:50s} {r['status']} {r['rows']:4d} rows  {r['wall_ms']:9.2f} ms"
                  f"  {r['cpu_us']:10.0f} µs CPU")
        conn.close()
        srv.stop()
        # the scan that finds nothing again, under a short query time limit: a 503 at the limit
        port = B.free_port()
        srv = B.Server(f"scale-{rows}-short", [colibri, "serve"], env={
            "COLIBRI_STORE": f"sqlite:{db}", "COLIBRI_LISTEN": f"127.0.0.1:{port}", "COLIBRI_SCHEMA": str(SCHEMA),
            "COLIBRI_LOG_LEVEL": "warn", "COLIBRI_QUERY_TIMEOUT_MS": SHORT_MS, "PORT": ""}).start()
        srv.wait_ready(f"http://127.0.0.1:{port}/healthz")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        r = measure(srv, conn, ks[-1][1], 3)
        res[(rows, SHORT_LABEL)] = r
        B.log(f"{rows:>10,} {SHORT_LABEL:50s} {r['status']} {r['wall_ms']:9.2f} ms  {r['cpu_us']:10.0f} µs CPU")
        conn.close()
        srv.stop()
    L = ["# GET /data cost as the table grows\n"]
    mi = B.machine_info()
    L.append(f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')};"
             f" machine: {mi['nproc']} cores ({mi['model']}), Linux {mi['kernel']};"
             f" load average before {load0[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    L.append(f"- colibri: {B.tool_version([str(colibri), '--version'])}; SQLite"
             f" {B.tool_version(['pkg-config', '--modversion', 'sqlite3'])};"
             f" `COLIBRI_QUERY_TIMEOUT_MS={timeout_ms}`")
    L.append(f"- command: `BENCH_SCALE_ROWS={','.join(map(str, sizes))} bench/scaling.py` (make bench);"
             f" requests of a kind one after the other on one keep-alive connection, after one unmeasured,"
             f" at least {repeat} and for at least 2 s (at least 3 for the scan that matches nothing)")
    L.append("- databases (cached in BENCH_CACHE, made once): " + "; ".join(
        f"{r:,} rows: {i['bytes'] / 2**20:,.0f} MiB, loaded in {i['load_s']} s, load peak RSS {i['load_peak_rss_mib']} MiB"
        for r, i in infos.items()))
    L.append("")
    L.append("Median wall ms per request / server CPU µs per request (status, rows when not 100):\n")
    L.append("| request | " + " | ".join(f"{r:,} rows" for r in sizes) + " |")
    L.append("|---|" + "---:|" * len(sizes))
    for label in labels or []:
        cells = []
        for rows in sizes:
            r = res.get((rows, label))
            if not r:
                cells.append("-")
                continue
            extra = "" if r["status"] == 200 and r["rows"] == 100 else f" ({r['status']}, {r['rows']} rows)"
            cells.append(f"{r['wall_ms']:.2f} ms / {r['cpu_us']:,.0f} µs{extra}")
        L.append(f"| {label} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("A 503 is `query_timeout` (`Retry-After`): the query ran past COLIBRI_QUERY_TIMEOUT_MS and was"
             " interrupted (SQLite progress handler), the bound on a filter no index serves.")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(L) + "\n")
    print("\n".join(L))
    B.log(f"wrote {out}")


if __name__ == "__main__":
    main()
