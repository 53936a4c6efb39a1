#!/usr/bin/env python3
"""Ingest benchmark (issue 3, item 7): a topic pre-loaded with generated flight events, then,
one after the other on the same data and machine, the time until all of them are queryable:

  kcat        `kcat -C -e -o beginning` to /dev/null: the ceiling of consumption here
  colibri     `colibri serve` with COLIBRI_SUBSCRIBE, into a fresh SQLite file
  colibri-no-x-cluster  the same with the schema's x-cluster marks removed: two indexes, not six
  node        bench/node-ingest: kafkajs eachMessage + better-sqlite3, one INSERT per message
              in autocommit (the typical code)
  node-batch  the same with eachBatch and one transaction per fetched batch (the tuned variant)
  colibri-pubsub  `colibri serve` with COLIBRI_SUBSCRIBE=pubsub://…, pulling (REST) from pstest-rest
              (Google's pstest behind the REST mapping, tests/fakes/pstest-rest) pre-loaded with
              the first BENCH_PUBSUB_MESSAGES of the same messages, into a fresh SQLite file

"Queryable" = `SELECT count(*)` on the table (Python's sqlite3, read-only, polled every
100 ms) reaches the number of messages. Then end-to-end freshness: a producer stamps
event_time with the wall clock and feeds kcat -P at BENCH_FRESHNESS_RATE msg/s; a poller asks
colibri's GET /data?order=desc for the newest rows every 25 ms; latency = first seen - stamp.

A broker of our own (scripts/kafka-up) runs on free loopback ports in a temporary directory
and is stopped and wiped at the end. Method and fairness: bench/README.md, results:
bench/results/ingest.md.

Environment (defaults in brackets):
  BENCH_INGEST_MESSAGES [1000000]  BENCH_INGEST_PARTITIONS [4]
  BENCH_INGEST_PEERS [kcat,colibri,colibri-pubsub,colibri-no-x-cluster,node-batch,node]
  BENCH_PUBSUB_MESSAGES [100000]: what colibri-pubsub pulls (pstest scans every unacked message on
  each pull, so a million would measure pstest)  BENCH_INGEST_TIMEOUT [900] s per peer
  BENCH_INGEST_ROUNDS [3]: each peer that many times (the order reversed every other round), the
  median run reported; node (one transaction per message, ~5 min) runs once
  BENCH_FRESHNESS_RATE [5000]  BENCH_FRESHNESS_SECONDS [30]  (0 seconds = skip)
  BENCH_INGEST_OUT [bench/results/ingest.md]   BENCH_KEEP=1 keeps the temporary directory
  COLIBRI_BIN [build/colibri]  FLIGHTGEN [build/flightgen]  COLIBRI_SCHEMA [schema/flights.json]
"""

import base64
import datetime
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402

DEFAULTS = {"BENCH_INGEST_MESSAGES": "1000000", "BENCH_INGEST_PARTITIONS": "4",
            "BENCH_INGEST_PEERS": "kcat,colibri,colibri-pubsub,colibri-no-x-cluster,node-batch,node",
            "BENCH_PUBSUB_MESSAGES": "100000", "BENCH_INGEST_TIMEOUT": "900", "BENCH_INGEST_ROUNDS": "3",
            "BENCH_FRESHNESS_RATE": "5000", "BENCH_FRESHNESS_SECONDS": "30",
            "BENCH_INGEST_OUT": "bench/results/ingest.md"}


def env(name, default=None):
    return os.environ.get(name) or DEFAULTS.get(name, default)


# --- the broker ----------------------------------------------------------------------------

class Broker:
    def __init__(self, tmp):
        self.port, self.cport = B.free_port(), B.free_port()
        self.env = dict(os.environ, KAFKA_PORT=str(self.port), KAFKA_CONTROLLER_PORT=str(self.cport),
                        KAFKA_DIR=str(tmp / "kafka"), KAFKA_BOOTSTRAP=f"127.0.0.1:{self.port}",
                        KAFKA_HEAP_OPTS="-Xms512m -Xmx1g")
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.started = False

    def script(self, name, *args, timeout=900):
        r = subprocess.run([str(B.REPO / "scripts" / name), *args], env=self.env, capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            B.die(f"scripts/{name} {' '.join(args)} failed:\n{r.stderr[-3000:]}")
        return r.stdout.strip().splitlines()

    def up(self):
        self.started = True
        assert self.script("kafka-up")[-1] == self.bootstrap

    def down(self):
        if self.started:
            self.script("kafka-down", "--wipe", timeout=120)
            self.started = False

    def topic(self, name, partitions):
        self.script("kafka-topic", name, str(partitions), timeout=120)
        return name

    def end_offsets(self, topic, partitions):
        args = ["kcat", "-b", self.bootstrap, "-Q"] + [a for p in range(partitions) for a in ("-t", f"{topic}:{p}:-1")]
        out = subprocess.run(args, capture_output=True, text=True, timeout=60).stdout
        return sum(int(m) for m in re.findall(r"offset (\d+)", out))


# --- measuring -----------------------------------------------------------------------------

class Pstest:
    """pstest-rest on a free loopback port (scripts/pstest-rest-up builds it once), with a topic and
    a pull subscription pre-loaded with the first n lines of data."""
    PROJECT = "bench"

    def __init__(self, binary, data, n, tmp):
        self.log = open(tmp / "pstest-rest.log", "ab")
        self.proc = subprocess.Popen([binary, "--port", "0"], stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if not line:
            B.die("pstest-rest did not start")
        self.host = f"127.0.0.1:{json.loads(line)['port']}"
        self.topic = f"projects/{self.PROJECT}/topics/bench-ingest"
        self.sub = f"projects/{self.PROJECT}/subscriptions/bench-ingest"
        self.call("PUT", self.topic, {})
        self.call("PUT", self.sub, {"topic": self.topic, "ackDeadlineSeconds": 60})
        t0 = time.monotonic()
        batch = []
        with open(data, "rb") as f:
            for i, line in enumerate(f):
                if i >= n:
                    break
                batch.append({"data": base64.b64encode(line.rstrip(b"\n")).decode()})
                if len(batch) == 1000:
                    self.call("POST", self.topic + ":publish", {"messages": batch})
                    batch = []
        if batch:
            self.call("POST", self.topic + ":publish", {"messages": batch})
        self.publish_s = time.monotonic() - t0

    def call(self, method, path, body):
        req = urllib.request.Request(f"http://{self.host}/v1/{path}", data=json.dumps(body).encode(),
                                     method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read() or b"{}")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.log.close()


def pstest_binary():
    r = subprocess.run([str(B.REPO / "scripts" / "pstest-rest-up")], capture_output=True, text=True,
                       timeout=1800, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        B.die(f"scripts/pstest-rest-up failed:\n{r.stderr[-3000:]}")
    return r.stdout.strip().splitlines()[-1]


def count_rows(db, table="flights"):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def run_kcat(broker, topic, n):
    t0, busy0 = time.monotonic(), B.busy_seconds()
    p = subprocess.Popen(["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    took = time.monotonic() - t0
    if p.returncode != 0:
        B.die(f"kcat -C exited {p.returncode}: {p.stderr.read().decode()[-2000:]}")
    return {"seconds": took, "steady_seconds": took, "count": n, "rss_kib": ru.ru_maxrss,
            "cpu_s": ru.ru_utime + ru.ru_stime, "busy_s": B.busy_seconds() - busy0, "complete": True}


def run_consumer(name, argv, envs, db, n, timeout, tmp, table="flights"):
    """Start a consumer process; poll the table until n rows; measure; stop it."""
    srv = B.Server(name, argv, env=envs, log_path=tmp / f"{name}.log", cwd=str(B.REPO))
    t0, busy0 = time.monotonic(), B.busy_seconds()
    srv.start()
    t_first = c_first = None
    got = 0
    while True:
        got = count_rows(db, table)
        now = time.monotonic()
        if got and t_first is None:
            t_first, c_first = now, got
        if got >= n or now - t0 > timeout:
            break
        if not srv.alive():
            B.die(f"{name} exited ({srv.proc.returncode}); log {srv.log_path}:\n{srv.log_tail()}")
        time.sleep(0.1)
    took = time.monotonic() - t0
    res = {"seconds": took, "count": got, "complete": got >= n,
           "steady_seconds": (now - t_first) * n / max(got - c_first, 1) if t_first and got > c_first else took,
           "first_row_s": (t_first - t0) if t_first else None,
           "rss_kib": srv.peak_rss_kib(), "cpu_s": srv.cpu_seconds(), "busy_s": B.busy_seconds() - busy0}
    srv.stop()
    return res


def without_clusters(schema, tmp):
    """The schema without its x-cluster marks (so without their SQLite indexes), same table name."""
    cols = json.loads(Path(schema).read_text())
    for c in cols:
        c.pop("x-cluster", None)
    out = tmp / "no-x-cluster" / Path(schema).name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(cols))
    return out


def median_run(rs):
    """The run with the median end-to-end rate (the lower one of the middle two), with every run's rate."""
    ordered = sorted(rs, key=lambda r: r["count"] / r["seconds"])
    return dict(ordered[(len(ordered) - 1) // 2], rates=[r["count"] / r["seconds"] for r in rs])


# --- freshness -----------------------------------------------------------------------------

def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


def freshness(broker, topic, colibri_bin, schema, flightgen, rate, seconds, tmp):
    """Produce at `rate` msg/s with event_time = wall clock; poll GET /data for the newest rows."""
    lines = subprocess.run([str(flightgen), "--rows", "2000", "--seed", "99"], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    head = re.compile(r'^\{"event_id":"[^"]*","event_time":"[^"]*",')
    tails = [head.sub("", line) for line in lines]
    assert all(t != line for t, line in zip(tails, lines)), "flightgen lines no longer start with event_id, event_time"
    db = tmp / "fresh.db"
    port = B.free_port()
    srv = B.Server("colibri-fresh", [colibri_bin, "serve"], log_path=tmp / "colibri-fresh.log", env={
        "COLIBRI_STORE": f"sqlite:{db}", "COLIBRI_SCHEMA": str(schema), "COLIBRI_LOG_LEVEL": "warn",
        "COLIBRI_LISTEN": f"127.0.0.1:{port}", "COLIBRI_SUBSCRIBE": f"kafka://{broker.bootstrap}/{topic}?group=fresh"})
    srv.start().wait_ready(f"http://127.0.0.1:{port}/readyz", timeout=60)
    prod = subprocess.Popen(["kcat", "-P", "-b", broker.bootstrap, "-t", topic], stdin=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    stamps, seen = {}, {}
    stop = threading.Event()
    url = f"http://127.0.0.1:{port}/data?order=desc&limit=1000&fields=event_id"
    polls = []

    def poll():
        while not stop.is_set():
            t_req = time.time()
            nxt, pages = url, 0
            while nxt and pages < 2:
                st, _, body = B.http_get(nxt, timeout=10)
                t_resp = time.time()
                if st != 200:
                    break
                doc = json.loads(body)
                for r in doc["data"]:
                    seen.setdefault(r["event_id"], t_resp)
                c = doc.get("next_cursor")
                nxt = f"{url}&cursor={urllib.parse.quote(c)}" if c else None
                pages += 1
            polls.append(time.time() - t_req)
            time.sleep(max(0.0, 0.025 - (time.time() - t_req)))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    chunk = max(1, rate // 200)                     # 200 writes a second
    total = rate * seconds
    t0 = time.monotonic()
    i = 0
    while i < total:
        due = t0 + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        buf = []
        for _ in range(min(chunk, total - i)):
            now = time.time()
            eid = f"fresh-{i}"
            stamps[eid] = now
            buf.append(f'{{"event_id":"{eid}","event_time":"{rfc3339(now)}",{tails[i % len(tails)]}\n')
            i += 1
        prod.stdin.write("".join(buf).encode())
        prod.stdin.flush()
    produce_s = time.monotonic() - t0
    prod.stdin.close()
    prod.wait(60)
    deadline = time.monotonic() + 10
    while len(seen) < total and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    poller.join(15)
    stored = count_rows(db)
    srv.stop()
    warm = rate * 3                                  # leave out the first 3 s
    lat = sorted((seen[e] - stamps[e]) * 1000 for e in stamps if e in seen and int(e[6:]) >= warm)
    missed = sum(1 for e in stamps if e not in seen)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 100 else [float("nan")] * 99
    return {"rate": rate, "seconds": seconds, "produced": total, "achieved_rate": total / produce_s,
            "stored": stored, "measured": len(lat), "missed": missed,
            "p50_ms": statistics.median(lat) if lat else float("nan"), "p90_ms": q[89], "p99_ms": q[98],
            "max_ms": lat[-1] if lat else float("nan"), "poll_ms": statistics.median(polls) * 1000 if polls else 0}


# --- the run -------------------------------------------------------------------------------

def main():
    os.chdir(B.REPO)
    n = int(env("BENCH_INGEST_MESSAGES"))
    parts = int(env("BENCH_INGEST_PARTITIONS"))
    peers = [p for p in env("BENCH_INGEST_PEERS").split(",") if p]
    timeout = float(env("BENCH_INGEST_TIMEOUT"))
    rounds = int(env("BENCH_INGEST_ROUNDS"))
    f_rate, f_secs = int(env("BENCH_FRESHNESS_RATE")), int(env("BENCH_FRESHNESS_SECONDS"))
    n_pubsub = min(n, int(env("BENCH_PUBSUB_MESSAGES")))
    pstest_bin = pstest_binary() if "colibri-pubsub" in peers else None
    colibri_bin = Path(env("COLIBRI_BIN", "build/colibri")).resolve()
    flightgen = Path(env("FLIGHTGEN", "build/flightgen")).resolve()
    schema = Path(env("COLIBRI_SCHEMA", "schema/flights.json")).resolve()
    out_path = Path(env("BENCH_INGEST_OUT"))
    for b in (colibri_bin, flightgen):
        if not os.access(b, os.X_OK):
            B.die(f"{b} not built (run make)")
    B.ensure_apt("kcat")
    if any(p.startswith("node") for p in peers):
        B.ensure_npm(B.BENCH_DIR / "node-ingest")

    tmp = Path(tempfile.mkdtemp(prefix="colibri-bench-ingest-"))
    broker = Broker(tmp)
    load_before = os.getloadavg()
    t_start = time.monotonic()
    try:
        B.log(f"starting a broker on {broker.bootstrap} ({tmp / 'kafka'})")
        broker.up()
        data = tmp / "flights.ndjson"
        B.log(f"generating {n} messages: flightgen --rows {n} --seed 42")
        with open(data, "wb") as f:
            subprocess.run([str(flightgen), "--rows", str(n), "--seed", "42"], stdout=f, check=True)
        size = data.stat().st_size
        keyed = tmp / "flights.keyed"
        with open(data, "rb") as src, open(keyed, "wb") as dst:   # key = line number: even partitions
            for i, line in enumerate(src):
                dst.write(b"%d\t" % i + line)
        topic = broker.topic("bench-ingest", parts)
        B.log(f"producing them into {topic} ({parts} partitions) with kcat -P")
        t0 = time.monotonic()
        subprocess.run(["kcat", "-P", "-b", broker.bootstrap, "-t", topic, "-K", "\t", "-l",
                        "-X", "linger.ms=50", "-X", "batch.size=1000000", str(keyed)], check=True,
                       stderr=subprocess.DEVNULL)
        produce_s = time.monotonic() - t0
        have = broker.end_offsets(topic, parts)
        if have != n:
            B.die(f"the topic holds {have} messages, not {n}")
        runs = {peer: [] for peer in peers}
        for rnd in range(rounds):
            for peer in peers if rnd % 2 == 0 else peers[::-1]:
                if peer == "node" and rnd > 0:
                    continue        # one message per transaction: 5 minutes a run, and 10x away anyway
                B.log(f"{peer}: consuming {n_pubsub if peer == 'colibri-pubsub' else n} messages "
                      f"(round {rnd + 1} of {rounds})")
                if peer == "kcat":
                    r = run_kcat(broker, topic, n)
                elif peer in ("colibri", "colibri-no-x-cluster"):
                    db = tmp / f"{peer}.db"
                    r = run_consumer(peer, [colibri_bin, "serve"], {
                        "COLIBRI_STORE": f"sqlite:{db}", "COLIBRI_LOG_LEVEL": "warn",
                        "COLIBRI_SCHEMA": str(schema if peer == "colibri" else without_clusters(schema, tmp)),
                        "COLIBRI_LISTEN": f"127.0.0.1:{B.free_port()}",
                        "COLIBRI_SUBSCRIBE": f"kafka://{broker.bootstrap}/{topic}?group=bench-{peer}-{rnd}"},
                        db, n, timeout, tmp)
                elif peer == "colibri-pubsub":
                    ps = Pstest(pstest_bin, data, n_pubsub, tmp)
                    B.log(f"{peer}: {n_pubsub} messages published to pstest-rest in {ps.publish_s:.1f} s")
                    try:
                        db = tmp / f"{peer}.db"
                        r = run_consumer(peer, [colibri_bin, "serve"], {
                            "COLIBRI_STORE": f"sqlite:{db}", "COLIBRI_LOG_LEVEL": "warn", "COLIBRI_SCHEMA": str(schema),
                            "COLIBRI_LISTEN": f"127.0.0.1:{B.free_port()}", "PUBSUB_EMULATOR_HOST": ps.host,
                            "COLIBRI_SUBSCRIBE": f"pubsub://{ps.sub}"}, db, n_pubsub, timeout, tmp)
                        r["n"] = n_pubsub
                        r["pstest_cpu_s"] = B.cpu_seconds(ps.proc.pid)
                    finally:
                        ps.close()
                elif peer in ("node", "node-batch"):
                    db = tmp / f"{peer}.db"
                    rr = subprocess.run([str(colibri_bin), "load", "/dev/null"], capture_output=True, text=True,
                                        env=dict(os.environ, COLIBRI_STORE=f"sqlite:{db}", COLIBRI_SCHEMA=str(schema),
                                                 COLIBRI_LOG_LEVEL="warn"))
                    if rr.returncode != 0:
                        B.die(f"colibri load /dev/null: {rr.stderr}")
                    r = run_consumer(peer, ["node", B.BENCH_DIR / "node-ingest" / "consumer.js"], {
                        "BROKERS": broker.bootstrap, "TOPIC": topic, "GROUP": f"bench-{peer}-{rnd}", "DB": str(db),
                        "SCHEMA": str(schema), "MODE": "batch" if peer == "node-batch" else "message"},
                        db, n, timeout, tmp)
                else:
                    B.die(f"unknown peer {peer}")
                runs[peer].append(r)
                B.log(f"{peer}: {r['count']} in {r['seconds']:.1f} s = {r['count'] / r['seconds']:,.0f} msg/s, "
                      f"peak RSS {r['rss_kib'] / 1024:.0f} MiB")
                if peer != "kcat":
                    for f in tmp.glob(f"{peer}.db*"):
                        f.unlink()
        results = {peer: median_run(rs) for peer, rs in runs.items()}
        fresh = None
        if f_secs > 0:
            B.log(f"freshness: {f_rate} msg/s for {f_secs} s")
            fresh = freshness(broker, broker.topic("bench-fresh", parts), colibri_bin, schema, flightgen,
                              f_rate, f_secs, tmp)
            B.log(f"freshness: p50 {fresh['p50_ms']:.0f} ms, p99 {fresh['p99_ms']:.0f} ms, missed {fresh['missed']}")
        md = report(locals())
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(md)
        B.log(f"wrote {out_path}")
        print(md)
    finally:
        B.stop_all()
        broker.down()
        if os.environ.get("BENCH_KEEP"):
            B.log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report(v):
    n, results, fresh = v["n"], v["results"], v["fresh"]
    mi = B.machine_info()
    node_dir = B.BENCH_DIR / "node-ingest"

    def pkg_version(name):
        try:
            return json.loads((node_dir / "node_modules" / name / "package.json").read_text())["version"]
        except OSError:
            return "?"

    pom = (B.REPO / "scripts" / "kafka" / "pom.xml").read_text()
    kafka_ver = re.search(r"<kafka.version>(.*?)</kafka.version>", pom).group(1)
    kcat_v = subprocess.run(["kcat", "-V"], capture_output=True, text=True).stdout
    kcat_v = (re.search(r"Version (\S+)", kcat_v) or re.search(r"(.*)", kcat_v)).group(1)
    versions = {"colibri": B.tool_version([str(v["colibri_bin"]), "--version"]).removeprefix("colibri "),
                "librdkafka (colibri, kcat)": B.tool_version(["pkg-config", "--modversion", "rdkafka"]),
                "kcat": kcat_v, "Kafka broker": kafka_ver,
                "node": B.tool_version(["node", "--version"]), "kafkajs": pkg_version("kafkajs"),
                "better-sqlite3": pkg_version("better-sqlite3"),
                "SQLite (colibri)": B.tool_version(["pkg-config", "--modversion", "sqlite3"])}
    load_after = os.getloadavg()
    L = []
    L.append("# Ingest benchmark\n")
    L.append(f"Generated by `bench/ingest.py` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
             f"in {time.monotonic() - v['t_start']:.0f} s. Method and fairness: at the end.\n")
    L.append(f"- Machine: {mi['nproc']} cores ({mi['model']}), {mi['mem_gib']} GiB, Linux {mi['kernel']}; "
             f"load average {v['load_before'][0]:.2f} before, {load_after[0]:.2f} after. Broker, consumer and "
             "poller share the machine.")
    L.append("- Versions: " + ", ".join(f"{k} {val}" for k, val in versions.items()) + ".")
    L.append(f"- Data: `flightgen --rows {n} --seed 42` (all valid), {v['size'] / n:.0f} bytes per message on "
             f"average, keyed by line number into {v['parts']} partitions with `kcat -P` "
             f"({v['produce_s']:.1f} s, {n / v['produce_s']:,.0f} msg/s). Every consumer starts from the beginning "
             "in its own group.")
    L.append("- Queryable = `SELECT count(*) FROM flights` (Python sqlite3, read-only, every 100 ms) reaches "
             f"{n:,}. Time from process start, so it includes the group join; *steady* is the rate from the first "
             "row seen to the last.")
    env_line = " ".join(f"{k}={os.environ[k]}" for k in sorted(os.environ) if k.startswith("BENCH_"))
    L.append(f"- Command: `{(env_line + ' ') if env_line else ''}bench/ingest.py`\n")
    L.append("| consumer | time s | msg/s (end to end) | msg/s (steady) | peak RSS MiB | CPU s | CPU ms / 1k msg | "
             "machine busy % | every run, msg/s |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, r in results.items():
        rate = r["count"] / r["seconds"]
        steady = r.get("n", n) / r["steady_seconds"]
        note = "" if r["complete"] else f" (stopped at {r['count']:,} after {r['seconds']:.0f} s)"
        L.append(f"| {name}{note} | {r['seconds']:.1f} | {rate:,.0f} | {steady:,.0f} | {r['rss_kib'] / 1024:.0f} | "
                 f"{r['cpu_s']:.1f} | {r['cpu_s'] / max(r['count'], 1) * 1e6:.1f} | "
                 f"{r['busy_s'] / r['seconds'] / mi['nproc'] * 100:.0f} | "
                 + ", ".join(f"{x:,.0f}" for x in r["rates"]) + " |")
    L.append("")
    if "colibri-pubsub" in results:
        p = results["colibri-pubsub"]
        pr = p["count"] / p["seconds"]
        kafka = (f"; Kafka into the same table: {results['colibri']['count'] / results['colibri']['seconds']:,.0f}"
                 " msg/s" if "colibri" in results else "")
        L.append(f"Pub/Sub pull (colibri-pubsub): {p['n']:,} messages pulled from pstest-rest into SQLite, "
                 f"{pr:,.0f} msg/s end to end{kafka}. pstest is Google's in-memory test server: each pull "
                 "(and its delivery loop, every 10 ms) scans every unacked message, on the same cores: "
                 f"pstest-rest used {p['pstest_cpu_s']:.1f} CPU s in that run (publishing included), colibri "
                 f"{p['cpu_s']:.1f}. So this is a floor set by the emulator, not a Pub/Sub figure.\n")
    if "colibri" in results:
        c = results["colibri"]
        cr = c["count"] / c["seconds"]
        others = [name for name in results if name not in ("colibri", "colibri-pubsub")]
        if others:
            L.append("Ratios (end to end, colibri / other): " + ", ".join(
                f"{name} {cr / (results[name]['count'] / results[name]['seconds']):.2f}×" for name in others) + ".\n")
        targets = [("colibri ≥ 150,000 msg/s", cr >= 150000, f"{cr:,.0f}")]
        if "colibri-no-x-cluster" in results:
            nx = results["colibri-no-x-cluster"]
            nxr = nx["count"] / nx["seconds"]
            targets.append(("(colibri-no-x-cluster ≥ 150,000 msg/s)", nxr >= 150000, f"{nxr:,.0f}"))
        if "kcat" in results:
            k = results["kcat"]["count"] / results["kcat"]["seconds"]
            targets.append(("colibri ≥ 50% of kcat", cr >= 0.5 * k, f"{cr / k * 100:.0f}%"))
        if "node" in results:
            nd = results["node"]["count"] / results["node"]["seconds"]
            targets.append(("colibri ≥ 10× node", cr >= 10 * nd, f"{cr / nd:.1f}×"))
        if fresh:
            targets.append((f"freshness p99 ≤ 300 ms at {fresh['rate']:,} msg/s", fresh["p99_ms"] <= 300,
                            f"{fresh['p99_ms']:.0f} ms"))
        L.append("| target (issue 3) | measured | met |")
        L.append("|---|---:|:---:|")
        for t, ok, m in targets:
            L.append(f"| {t} | {m} | {'yes' if ok else '**no**'} |")
        L.append("")
    if fresh:
        L.append(f"## Freshness at {fresh['rate']:,} msg/s\n")
        L.append(f"{fresh['produced']:,} messages over {fresh['seconds']} s (achieved {fresh['achieved_rate']:,.0f} "
                 "msg/s), event_time stamped with the wall clock just before the line goes to `kcat -P` (default "
                 "linger); GET `/data?order=desc&limit=1000&fields=event_id` (and its next page) polled every 25 ms "
                 f"(median poll {fresh['poll_ms']:.0f} ms); latency = response received − stamp, over the messages "
                 "after the first 3 s.\n")
        L.append("| p50 ms | p90 ms | p99 ms | max ms | measured | never seen by the poller | stored |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|")
        L.append(f"| {fresh['p50_ms']:.0f} | {fresh['p90_ms']:.0f} | {fresh['p99_ms']:.0f} | {fresh['max_ms']:.0f} | "
                 f"{fresh['measured']:,} | {fresh['missed']:,} | {fresh['stored']:,} |")
        L.append("")
    L.append(METHOD)
    return "\n".join(L) + "\n"


METHOD = """## Method and fairness

- **One after the other**, not concurrently: each consumer has the machine (and the broker) to
  itself, reads the same pre-loaded topic from the beginning in its own consumer group, and writes
  a fresh SQLite file. The topic was just written, so the broker serves it from the page cache for
  everyone. Each consumer runs `BENCH_INGEST_ROUNDS` times (node, at one transaction per message,
  once), the order reversed every other round; the table shows the median run and lists every run.
- **kcat** (`kcat -C -b … -t … -o beginning -e -q > /dev/null`) parses and stores nothing: the
  ceiling of consumption on this machine. Its peak RSS and CPU come from `wait4`.
- **colibri**: `build/colibri serve` with `COLIBRI_SUBSCRIBE=kafka://…/bench-ingest?group=…`,
  defaults otherwise (`COLIBRI_BATCH_MAX=1000`, `COLIBRI_BATCH_MS=100`, WAL, synchronous=NORMAL,
  the schema's indexes), HTTP up as in production. It validates every message against the schema,
  writes rows and the partitions' next offsets in one transaction per batch (exactly once), and
  commits the offsets to Kafka afterwards. While it is behind (here: all along), a due batch takes in
  the messages already waiting, up to 32 × `COLIBRI_BATCH_MAX`, so transactions are larger.
- **colibri-no-x-cluster**: the same binary and settings with the schema's `x-cluster` marks
  removed, so the table has two indexes (`_id`, `(event_time, _id)`) instead of six: what the
  clustering indexes cost at ingest (filters on those columns then walk the time index instead).
- **colibri-pubsub**: the same binary and settings with `COLIBRI_SUBSCRIBE=pubsub://…` and
  `PUBSUB_EMULATOR_HOST` at pstest-rest (Google's `pstest` in-memory Pub/Sub server behind the
  REST mapping, `tests/fakes/pstest-rest`, built by `scripts/pstest-rest-up`), one pull
  subscription (ack deadline 60 s) pre-loaded with the first `BENCH_PUBSUB_MESSAGES` messages
  (publish requests of 1,000) before colibri starts. colibri long-polls `pull` (1,000 messages),
  stores a batch, then acknowledges it; pstest runs on the same 2 cores and scans every unacked
  message on each pull, so the figure is what colibri gets from this emulator, not from Pub/Sub.
- **node** ([`node-ingest/consumer.js`](../node-ingest/consumer.js)): kafkajs 2 consumer,
  `eachMessage`, one prepared `INSERT … ON CONFLICT(_id) DO NOTHING` per message in autocommit
  (one transaction each) — what most code does. **node-batch**: the same code with `eachBatch` and
  one better-sqlite3 transaction per fetched batch — the tuned variant. Both write the same table
  (created by `colibri load /dev/null`, so the same columns and indexes), with the same pragmas
  (WAL, synchronous=NORMAL), the same validation rules (required fields, types, strict RFC 3339)
  and the same metadata columns. Less work than colibri: offsets are committed by kafkajs after each
  batch (at least once, not stored with the rows), nothing is published to a dead-letter topic, and
  better-sqlite3 bundles a newer SQLite.
- **Queryable**: `SELECT count(*)` every 100 ms through Python's sqlite3 module on a read-only
  connection (a reader, as a client would be); end to end = from process start (group join
  included) to the poll that sees every row. Peak RSS is VmHWM just before the consumer is stopped;
  CPU is utime+stime of the process; *machine busy* is the non-idle CPU of the whole machine over
  the run in % of all cores (broker and poller included; anything else running shows here).
- **Freshness**: a Python producer writes flightgen lines with a fresh `event_id` and `event_time`
  = the wall clock to `kcat -P` (librdkafka's default 5 ms linger), paced at the rate in chunks of
  rate/200; colibri runs with its defaults; a poller GETs `/data?order=desc&limit=1000&fields=event_id`
  and its next page every 25 ms and records when it first sees each event_id.
"""


if __name__ == "__main__":
    main()
