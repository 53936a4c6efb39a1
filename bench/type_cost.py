#!/usr/bin/env python3
"""The type system's cost (issue 18): schema/flights.json (18 scalar columns, a NUMERIC fare and a
REPEATED RECORD of segments) and the nested example schema/examples/payments.json (records in
records, arrays, every BigQuery type) side by side in one run, on the same machine:

  ingest  N generated messages of each schema (`flightgen`, `flightgen --schema payments`, all
          valid) in a 4-partition topic of a Kafka broker of our own; `colibri serve` consumes
          each topic into a fresh SQLite file, until `count(*)` reaches N (bench/ingest.py's
          run_consumer); then `colibri load FILE` of the same lines (no broker). Rounds alternate
          the order of the schemas; the median run is reported, with msg/s and colibri's CPU
          per message.
  pages   one `colibri serve` per schema on the database ingested above; rounds (alternating) of
          `wrk -t1 -c8 -dS` per path; the median of colibri's CPU per request (utime+stime delta
          / requests: robust to a busy machine, unlike req/s), with req/s and bytes per response.

Environment (defaults in brackets):
  BENCH_TYPES_MESSAGES [200000]  BENCH_TYPES_ROUNDS [3]  BENCH_TYPES_SECONDS [5] per wrk run
  BENCH_TYPES_KAFKA [1] (0: only `colibri load`)  BENCH_TYPES_OUT [bench/results/type_cost.md]
  COLIBRI_BIN [build/colibri]  FLIGHTGEN [build/flightgen]   BENCH_KEEP=1 keeps the temporary directory
"""
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402
import ingest as I  # noqa: E402

DEFAULTS = {"BENCH_TYPES_MESSAGES": "200000", "BENCH_TYPES_ROUNDS": "3", "BENCH_TYPES_SECONDS": "5",
            "BENCH_TYPES_KAFKA": "1", "BENCH_TYPES_OUT": "bench/results/type_cost.md"}

# name: (schema, event-time column, flightgen arguments, pages to measure)
SCHEMAS = {
    "flights": ("schema/flights.json", "event_time", (), [
        "/data?limit=100",
        "/data?limit=100&format=csv",
        "/data?limit=100&carrier=LA&delay_minutes__gte=15",
        "/data?limit=100&fields=event_id,carrier,flight_number,status",
    ]),
    "payments": ("schema/examples/payments.json", "created_at", ("--schema", "payments"), [
        "/data?limit=100",
        "/data?limit=100&format=csv",
        "/data?limit=100&card.brand=VISA&amount__gte=100",
        "/data?limit=100&tags__contains=3ds",
        "/data?limit=100&fields=payment_id,card,amount,currency",
    ]),
}


def env(name):
    return os.environ.get(name) or DEFAULTS[name]


def colibri_env(name, db, **extra):
    schema, event_time, _, _ = SCHEMAS[name]
    return {"COLIBRI_STORE": f"sqlite:{db}", "COLIBRI_SCHEMA": str(B.REPO / schema),
            "COLIBRI_EVENT_TIME": event_time, "COLIBRI_LOG_LEVEL": "warn", **extra}


def load_file(colibri_bin, name, data, db):
    """`colibri load FILE` into a fresh database: seconds, colibri's CPU seconds."""
    t0 = time.monotonic()
    p = subprocess.Popen([str(colibri_bin), "load", str(data)], env=dict(os.environ, **colibri_env(name, db)),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    took = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        B.die(f"colibri load ({name}) failed: {err[-2000:]}")
    return {"seconds": took, "cpu_s": ru.ru_utime + ru.ru_stime}


def main():
    os.chdir(B.REPO)
    n, rounds, secs = int(env("BENCH_TYPES_MESSAGES")), int(env("BENCH_TYPES_ROUNDS")), int(env("BENCH_TYPES_SECONDS"))
    kafka = env("BENCH_TYPES_KAFKA") != "0"
    colibri_bin = Path(os.environ.get("COLIBRI_BIN", "build/colibri")).resolve()
    flightgen = Path(os.environ.get("FLIGHTGEN", "build/flightgen")).resolve()
    for b in (colibri_bin, flightgen):
        if not os.access(b, os.X_OK):
            B.die(f"{b} not built (run make)")
    B.ensure_apt("wrk")
    if kafka:
        B.ensure_apt("kcat")
    tmp = Path(tempfile.mkdtemp(prefix="colibri-bench-types-"))
    broker = I.Broker(tmp) if kafka else None
    t_start, load_before = time.monotonic(), os.getloadavg()
    try:
        data, topics = {}, {}
        if broker:
            B.log(f"starting a broker on {broker.bootstrap}")
            broker.up()
        for name, (_, _, gen_args, _) in SCHEMAS.items():
            data[name] = tmp / f"{name}.ndjson"
            B.log(f"generating {n} {name}: flightgen {' '.join(gen_args)} --rows {n} --seed 42")
            with open(data[name], "wb") as f:
                subprocess.run([str(flightgen), *gen_args, "--rows", str(n), "--seed", "42"], stdout=f, check=True)
            if broker:
                keyed = tmp / f"{name}.keyed"
                with open(data[name], "rb") as src, open(keyed, "wb") as dst:
                    for i, line in enumerate(src):
                        dst.write(b"%d\t" % i + line)
                topics[name] = broker.topic(f"bench-types-{name}", 4)
                subprocess.run(["kcat", "-P", "-b", broker.bootstrap, "-t", topics[name], "-K", "\t", "-l",
                                "-X", "linger.ms=50", "-X", "batch.size=1000000", str(keyed)], check=True,
                               stderr=subprocess.DEVNULL)
                if broker.end_offsets(topics[name], 4) != n:
                    B.die(f"topic {topics[name]} does not hold {n} messages")

        ingest = {name: [] for name in SCHEMAS}
        loads = {name: [] for name in SCHEMAS}
        for rnd in range(rounds):
            for name in (list(SCHEMAS) if rnd % 2 == 0 else list(SCHEMAS)[::-1]):
                db = tmp / f"{name}-load.db"
                for f in tmp.glob(f"{name}-load.db*"):
                    f.unlink()
                r = load_file(colibri_bin, name, data[name], db)
                loads[name].append(dict(r, count=n))
                B.log(f"round {rnd + 1} load {name}: {n / r['seconds']:,.0f} msg/s, "
                      f"{r['cpu_s'] * 1e6 / n:.1f} µs CPU/msg")
                if not broker:
                    continue
                db = tmp / f"{name}.db"
                for f in tmp.glob(f"{name}.db*"):
                    f.unlink()
                r = I.run_consumer(f"colibri-{name}", [colibri_bin, "serve"], colibri_env(
                    name, db, COLIBRI_LISTEN=f"127.0.0.1:{B.free_port()}",
                    COLIBRI_SUBSCRIBE=f"kafka://{broker.bootstrap}/{topics[name]}?group=bench-types-{name}-{rnd}"),
                    db, n, float(os.environ.get("BENCH_INGEST_TIMEOUT", "900")), tmp, table=name)
                if not r["complete"]:
                    B.die(f"{name}: only {r['count']} of {n} rows within the timeout")
                ingest[name].append(r)
                B.log(f"round {rnd + 1} kafka {name}: {n / r['seconds']:,.0f} msg/s, "
                      f"{r['cpu_s'] * 1e6 / n:.1f} µs CPU/msg, peak RSS {r['rss_kib'] / 1024:.0f} MiB")

        # pages, on the last database of each schema (Kafka's if there is one)
        servers = {}
        for name in SCHEMAS:
            db = tmp / (f"{name}.db" if broker else f"{name}-load.db")
            port = B.free_port()
            srv = B.Server(f"colibri-{name}-pages", [colibri_bin, "serve"], log_path=tmp / f"{name}-pages.log",
                           env=colibri_env(name, db, COLIBRI_LISTEN=f"127.0.0.1:{port}",
                                           COLIBRI_CURSOR_SECRET="bench-types")).start()
            srv.wait_ready(f"http://127.0.0.1:{port}/healthz")
            servers[name] = (srv, port)
            for path in SCHEMAS[name][3]:
                status, _, body = B.http_get(f"http://127.0.0.1:{port}{path}", timeout=30)
                if status != 200 or len(body) < 200:
                    B.die(f"{name} {path}: {status} {body[:300]!r}")
        pages = {(name, p): [] for name in SCHEMAS for p in SCHEMAS[name][3]}
        for rnd in range(rounds):
            for name in (list(SCHEMAS) if rnd % 2 == 0 else list(SCHEMAS)[::-1]):
                srv, port = servers[name]
                for path in SCHEMAS[name][3]:
                    c0 = srv.cpu_seconds()
                    res = B.run_wrk(f"http://127.0.0.1:{port}{path}", threads=1, connections=8, seconds=secs,
                                    server=srv)
                    if res["non2xx"] or res["socket_errors"]:
                        B.die(f"{name} {path}: {res['non2xx']} non-2xx, {res['socket_errors']} socket errors")
                    res["cpu_us"] = (srv.cpu_seconds() - c0) * 1e6 / max(res["requests"], 1)
                    pages[(name, path)].append(res)
                    B.log(f"round {rnd + 1} {name} {path}: {res['cpu_us']:.0f} µs CPU/req, {res['rps']:,.0f} req/s")
        md = report(n, rounds, secs, kafka, ingest, loads, pages, data, load_before, t_start, colibri_bin)
        out = Path(env("BENCH_TYPES_OUT"))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(md)
        print(md)
        B.log(f"wrote {out}")
    finally:
        B.stop_all()
        if broker:
            broker.down()
        if os.environ.get("BENCH_KEEP"):
            B.log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report(n, rounds, secs, kafka, ingest, loads, pages, data, load_before, t_start, colibri_bin):
    mi = B.machine_info()
    med = B.median
    L = ["# The type system's cost: flights beside the nested payments example\n"]
    L.append(f"Generated by `bench/type_cost.py` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
             f"in {time.monotonic() - t_start:.0f} s; {B.tool_version([str(colibri_bin), '--version'])}.\n")
    L.append(f"- Machine: {mi['nproc']} cores ({mi['model']}), {mi['mem_gib']} GiB, Linux {mi['kernel']}; load "
             f"average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after (other engineers' work shares it).")
    sizes = {name: data[name].stat().st_size / n for name in data}
    L.append(f"- Data: {n:,} messages of each, `flightgen --seed 42` and `flightgen --schema payments --seed 42`, "
             "all valid; " + ", ".join(f"{name} {s:,.0f} bytes per message" for name, s in sizes.items()) + ".")
    set_env = " ".join(f"{k}={os.environ[k]}" for k in sorted(os.environ) if k.startswith("BENCH_TYPES_"))
    L.append(f"- Command: `{set_env + ' ' if set_env else ''}python3 bench/type_cost.py` (in `make bench`); "
             f"{rounds} rounds, the schemas' order alternating; medians.\n")
    L.append("## Ingest\n")
    L.append("| schema | path | msg/s (median) | CPU µs / msg | MB/s of messages | peak RSS MiB | all runs, msg/s |")
    L.append("|---|---|---:|---:|---:|---:|---|")
    for name in loads:
        for label, runs in (("Kafka → `colibri serve`", ingest[name]), ("`colibri load FILE`", loads[name])):
            if not runs:
                continue
            rates = [n / r["seconds"] for r in runs]
            cpu = med([r["cpu_s"] * 1e6 / n for r in runs])
            rss = f"{med([r['rss_kib'] for r in runs]) / 1024:.0f}" if "rss_kib" in runs[0] else "-"
            L.append(f"| {name} | {label} | {med(rates):,.0f} | {cpu:.1f} | {med(rates) * sizes[name] / 1e6:.1f} | "
                     f"{rss} | {' '.join(f'{x:,.0f}' for x in rates)} |")
    L.append("\nKafka: from `colibri serve`'s start (group join included) until `SELECT count(*)` reaches "
             f"{n:,}, polled every 100 ms (bench/ingest.py's method). CPU: utime+stime of colibri / messages.\n")
    L.append("## CPU per page\n")
    L.append(f"`wrk -t1 -c8 -d{secs}s` per path and round; CPU µs / req = colibri's utime+stime during the run / "
             "requests answered.\n")
    L.append("| schema | path | CPU µs / req (median) | req/s (median) | bytes / response | all runs, µs |")
    L.append("|---|---|---:|---:|---:|---|")
    for (name, path), runs in pages.items():
        L.append(f"| {name} | `{path}` | {med([r['cpu_us'] for r in runs]):.0f} | {med([r['rps'] for r in runs]):,.0f} | "
                 f"{med([r['bytes'] / max(r['requests'], 1) for r in runs]):,.0f} | "
                 + " ".join(f"{r['cpu_us']:.0f}" for r in runs) + " |")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
