#!/usr/bin/env python3
"""BigQuery store figures for `make bench`, against tests/fakes/bigquery_faults.py (the fake
counts every API call exactly, which the emulator cannot):

1. BigQuery API calls per 1,000 identical GET /data within the response-cache TTL
   (default COLIBRI_BQ_CACHE_MS=2000), sent by BENCH_BQ_CLIENTS concurrent clients, and the
   same with the cache off for comparison.
2. Rows per insertAll request under load: `flightgen --rows N | colibri load -` (the ingest
   path every source uses) at COLIBRI_BATCH_MAX 100, 1000 (default) and 5000.

Environment: BENCH_BQ_ROWS [50000]  BENCH_BQ_GETS [1000]  BENCH_BQ_CLIENTS [16]
             BENCH_OUT [bench/results/bigquery.md]  COLIBRI_BIN  FLIGHTGEN  COLIBRI_SCHEMA
"""
import datetime
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402

from pylib.emulator import bigquery_faults as F  # noqa: E402 - benchlib put tests/ on sys.path


def env(name, default):
    return os.environ.get(name) or default


def fake_json(addr, path, body=None):
    req = urllib.request.Request(f"http://{addr}{path}", method="POST" if body is not None else "GET",
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def api_calls(stats):
    return sum(stats["calls"].values())


def colibri_env(api, meta, schema, **extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("COLIBRI_")}
    e.update(COLIBRI_SCHEMA=str(schema), COLIBRI_LOG_LEVEL="warn", COLIBRI_BQ_DEFAULT_WINDOW_H="0",
             COLIBRI_BIGQUERY_ENDPOINT=f"http://{api}",
             GCE_METADATA_HOST=meta, BIGQUERY_EMULATOR_HOST="", GOOGLE_APPLICATION_CREDENTIALS="")
    e.update({k: str(v) for k, v in extra.items()})
    return e


def load_rows(colibri, flightgen, api, meta, schema, rows, batch_max, table):
    fake_json(api, "/_fake/reset", {})
    gen = subprocess.Popen([str(flightgen), "--rows", str(rows), "--seed", "42"], stdout=subprocess.PIPE)
    t0 = time.monotonic()
    r = subprocess.run([str(colibri), "load", "-"], stdin=gen.stdout, capture_output=True, text=True,
                       env=colibri_env(api, meta, schema, COLIBRI_STORE=f"bigquery:bench.ds.{table}",
                                       COLIBRI_BATCH_MAX=batch_max))
    gen.stdout.close()
    gen.wait()
    secs = time.monotonic() - t0
    if r.returncode != 0:
        B.die(f"colibri load failed: {r.stderr[-2000:]}")
    st = fake_json(api, "/_fake/stats")
    sizes = st["insert_rows"]
    assert st["rows"][f"ds.{table}"] == rows, st["rows"]
    return {"batch_max": batch_max, "requests": len(sizes), "mean": statistics.mean(sizes),
            "min": min(sizes), "max": max(sizes), "rows_per_s": rows / secs, "seconds": secs}


def identical_gets(colibri, api, meta, schema, gets, clients, cache_ms):
    port = B.free_port()
    srv = B.Server(f"colibri-bq-cache{cache_ms}", [colibri, "serve"],
                   env=colibri_env(api, meta, schema, COLIBRI_STORE="bigquery:bench.ds.flights",
                                   COLIBRI_LISTEN=f"127.0.0.1:{port}", COLIBRI_BQ_CACHE_MS=cache_ms))
    srv.start().wait_ready(f"http://127.0.0.1:{port}/healthz")
    url = f"http://127.0.0.1:{port}/data?limit=100"
    try:
        B.http_get(url)                      # not counted: opens the pool, fills nothing else
        time.sleep(cache_ms / 1000 + 0.1)    # so the measured run starts with an expired cache entry
        before = api_calls(fake_json(api, "/_fake/stats"))
        todo, lock, bodies, errors = [gets], threading.Lock(), set(), []

        def worker():
            while True:
                with lock:
                    if todo[0] == 0:
                        return
                    todo[0] -= 1
                status, _, body = B.http_get(url, timeout=60)
                with lock:
                    (bodies.add(body) if status == 200 else errors.append(status))

        t0 = time.monotonic()
        ts = [threading.Thread(target=worker) for _ in range(clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        secs = time.monotonic() - t0
        calls = api_calls(fake_json(api, "/_fake/stats")) - before
    finally:
        srv.stop()
    return {"cache_ms": cache_ms, "gets": gets, "calls": calls, "seconds": secs,
            "distinct_bodies": len(bodies), "errors": len(errors)}


def main():
    os.chdir(B.REPO)
    colibri = Path(env("COLIBRI_BIN", "build/colibri")).resolve()
    flightgen = Path(env("FLIGHTGEN", "build/flightgen")).resolve()
    schema = Path(env("COLIBRI_SCHEMA", "schema/flights.json")).resolve()
    rows, gets, clients = int(env("BENCH_BQ_ROWS", "50000")), int(env("BENCH_BQ_GETS", "1000")), \
        int(env("BENCH_BQ_CLIENTS", "16"))
    out = Path(env("BENCH_OUT", "bench/results/bigquery.md"))
    api_srv, meta_srv = F.serve()
    api, meta = f"127.0.0.1:{api_srv.server_address[1]}", f"127.0.0.1:{meta_srv.server_address[1]}"
    try:
        loads = [load_rows(colibri, flightgen, api, meta, schema, rows, bm, f"t{bm}") for bm in (100, 1000, 5000)]
        B.log("insertAll: " + ", ".join(f"BATCH_MAX={l['batch_max']}: {l['mean']:.0f} rows/request" for l in loads))
        # the table the GETs read
        load_rows(colibri, flightgen, api, meta, schema, 2000, 1000, "flights")
        cached = identical_gets(colibri, api, meta, schema, gets, clients, 2000)
        uncached = identical_gets(colibri, api, meta, schema, min(gets, 200), clients, 0)   # the fake is slow
        B.log(f"{gets} identical GETs: {cached['calls']} API calls with the cache, "
              f"{uncached['calls']} without")
    finally:
        B.stop_all()
        api_srv.shutdown()
        meta_srv.shutdown()

    lines = [
        "# BigQuery store: API calls and insertAll sizes",
        "",
        f"Generated by `bench/bigquery.py` on {datetime.date.today()} against "
        "`tests/fakes/bigquery_faults.py` (loopback; the fake counts every API call). "
        "A query is `jobs.query` answering complete at once (on real BigQuery, a slow job adds "
        "`jobs.getQueryResults` polls).",
        "",
        f"## API calls per identical `GET /data?limit=100` ({clients} concurrent clients)",
        "",
        "| response cache | GETs | API calls | calls per 1,000 GETs | wall time | distinct bodies | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in (cached, uncached):
        lines.append(f"| {'TTL ' + str(r['cache_ms']) + ' ms' if r['cache_ms'] else 'off'} | {r['gets']} | {r['calls']} | "
                     f"{r['calls'] * 1000 / r['gets']:.1f} | {r['seconds']:.2f} s | {r['distinct_bodies']} | "
                     f"{r['errors']} |")
    lines += [
        "",
        "With the cache, identical requests within the TTL share one job (concurrent ones wait for "
        "the running job instead of starting their own); if the run outlasts the TTL, one more job "
        "per TTL period.",
        "",
        f"## Rows per insertAll request under load (`flightgen --rows {rows} | colibri load -`)",
        "",
        "| COLIBRI_BATCH_MAX | requests | rows/request (mean) | min | max | rows/s (loopback fake) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for l in loads:
        lines.append(f"| {l['batch_max']} | {l['requests']} | {l['mean']:.1f} | {l['min']} | {l['max']} | "
                     f"{l['rows_per_s']:.0f} |")
    lines += ["", "A request carries at most 500 rows and 9 MB (Google's recommended insertAll size), "
              "so a batch of 1,000 rows is two requests of 500.", ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    B.log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
