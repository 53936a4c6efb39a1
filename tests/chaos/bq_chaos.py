"""Scenario 5 of `make chaos`: the BigQuery store (src/store/bigquery.c) against the fake BigQuery
REST server with fault injection (tests/fakes/bigquery_faults.py), fed from Kafka. During the fault
every insertAll and tables.get answers 503 backendError; nothing may be stored or committed to Kafka
meanwhile, /readyz must say so, and once the fault clears every message arrives once."""
import collections
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
import zlib

from chaoslib import ROOT, Checks, Colibri, Dataset, metrics, parse_id, store_errors, topic_index

FAKE = os.path.join(ROOT, "tests", "fakes", "bigquery_faults.py")
TABLE, DEAD = "ds.flights", "ds._dead_letters"


class Fake:
    def __init__(self, log_path):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, FAKE], stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.addr = self.proc.stdout.readline().split()[1]      # "api 127.0.0.1:N"
        self.proc.stdout.readline()                             # "metadata 127.0.0.1:M"
        self.url = "http://" + self.addr

    def call(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"null")

    def counts(self):
        rows = self.call("/_fake/stats").get("rows", {})
        return rows.get(TABLE, 0), rows.get(DEAD, 0)

    def stats(self):
        return self.call("/_fake/stats")

    def rows(self):
        return self.call("/_fake/rows")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()


def _offsets(fake, topic):
    """{partition: set of offsets stored} over the table and the dead letters."""
    got = collections.defaultdict(set)
    rows = fake.rows()
    for r in rows.get(TABLE, []):
        p, o = parse_id(r["_id"], topic)
        got[p].add(o)
    for r in rows.get(DEAD, []):
        p, o = parse_id(r["id"], topic)
        got[p].add(o)
    return got


def _acked_is_stored(fake, committed, topic):
    """Every offset below each committed offset is in BigQuery (a row or a dead letter)."""
    stored = _offsets(fake, topic)
    missing = {p: sum(1 for o in range(c) if o not in stored[p]) for p, c in committed.items()}
    return all(v == 0 for v in missing.values()), missing


def _alive(c):
    if not c.alive():
        rc = c.proc.returncode
        sig = f" (signal {-rc})" if rc < 0 else ""
        tail = [x for x in c.log_tail(60).splitlines() if "httpRequest" not in x][-3:]
        raise AssertionError(f"colibri exited with {rc}{sig}; last log lines: {' | '.join(tail)}")


def run(ctx):
    from scenarios import Producer, _readiness
    from chaoslib import ReadyPoller
    ck, fig, notes = Checks(), {}, []
    name = "bigquery"
    work = os.path.join(ctx.work, name)
    os.makedirs(work, exist_ok=True)
    fake = Fake(os.path.join(work, "fake.log"))
    c = None
    try:
        n = max(ctx.messages // 10, 4000)
        ds = Dataset(work, n, seed=ctx.seed + zlib.crc32(name.encode()) % 1000, malformed_pct=1)
        topic = ctx.broker.create_topic(f"chaos-{name}-{uuid.uuid4().hex[:6]}", 4)
        group = f"chaos-{name}"
        c = Colibri(os.path.join(work, "unused.db"), f"kafka://{ctx.broker.bootstrap}/{topic}?group={group}",
                    os.path.join(work, "colibri.log"), COLIBRI_STORE="bigquery:chaos.ds.flights",
                    BIGQUERY_EMULATOR_HOST=fake.addr)
        prod = Producer(ctx.broker, ds, topic, rate=n / 40)
        poller = ReadyPoller(c)
        poller.start()
        prod.start()
        poller.phase = "ingest"
        t0 = time.monotonic()
        while fake.counts()[0] < len(ds.ok) // 5:
            _alive(c)
            assert time.monotonic() - t0 < 300, f"no rows in BigQuery after 300 s: {fake.counts()}"
            time.sleep(0.2)

        # ---- the fault: every insertAll and tables.get answers 503 backendError
        m0 = metrics(c)
        calls0 = fake.stats().get("calls", {})
        poller.phase = "BigQuery 503"
        t_inject = time.monotonic()
        fake.call("/_fake/faults", {"status": {"insertAll": [503] * 1000000, "tables.get": [503] * 1000000}})
        base, since = fake.counts(), time.monotonic()
        while time.monotonic() - since < 2.0 and time.monotonic() - t_inject < 20:
            time.sleep(0.2)
            now = fake.counts()
            if now != base:
                base, since = now, time.monotonic()
        committed0 = ctx.broker.committed(group, topic)
        ok0, missing0 = _acked_is_stored(fake, committed0, topic)
        ck.check("BigQuery 503: everything committed to Kafka is in BigQuery (fault start)", ok0,
                 f"committed {committed0}; unstored below it {missing0}")
        samples = []
        while time.monotonic() - t_inject < ctx.fault_seconds:
            samples.append(fake.counts())
            time.sleep(0.5)
        m1 = metrics(c)
        committed1 = ctx.broker.committed(group, topic)
        end = fake.counts()
        moved = [s for s in samples + [end] if s != base]
        ck.check("BigQuery 503: nothing stored during the fault", not moved, f"rows/dead stayed at {base}"
                 if not moved else f"changed to {moved[-1]}")
        ok1, missing1 = _acked_is_stored(fake, committed1, topic)
        ck.check("BigQuery 503: nothing acknowledged to Kafka during the fault", committed1 == committed0 and ok1,
                 f"committed {committed0} -> {committed1}")
        errs = store_errors(m1) - store_errors(m0)
        fig["BigQuery 503: metrics during fault"] = (f"colibri_ready={m1.get('colibri_ready')}, "
                                                    f"colibri_store_errors_total +{errs:.0f}")
        _readiness(ck, fig, poller, "BigQuery 503")
        st = fake.stats()
        fig["BigQuery 503: API calls answered 503 during the fault"] = {
            k: v - calls0.get(k, 0) for k, v in st.get("calls", {}).items() if k in ("insertAll", "tables.get")}
        poller.phase = "BigQuery 503 cleared"
        t_clear = time.monotonic()
        fake.call("/_fake/faults", {"status": {"insertAll": [], "tables.get": []}})
        while fake.counts() == end:
            _alive(c)
            assert time.monotonic() - t_clear < 120, "no row stored within 120 s of clearing the fault"
            time.sleep(0.1)
        fig["BigQuery 503: first row stored after clearing"] = f"{time.monotonic() - t_clear:.1f} s"
        prod.finish()

        # ---- everything arrives, once
        poller.phase = "drain"
        t = time.monotonic()
        last, last_change = None, time.monotonic()
        while True:
            now = fake.counts()
            if now == (len(ds.ok), len(ds.bad)):
                break
            if now != last:
                last, last_change = now, time.monotonic()
            _alive(c)
            assert now[0] <= len(ds.ok) and now[1] <= len(ds.bad), f"more than produced: {now}"
            assert time.monotonic() - last_change < 90, f"no progress for 90 s at {now}"
            time.sleep(0.3)
        fig["drain_s"] = round(time.monotonic() - t, 1)
        ck.check("everything arrives once the fault clears", True, f"{len(ds.ok)} rows, {len(ds.bad)} dead letters")
        time.sleep(1.5)
        poller.stop()
        rc, took = c.kill(signal.SIGTERM)
        ck.check("SIGTERM: exit 0", rc == 0, f"rc={rc} in {took:.1f} s")

        index = topic_index(ctx.broker.bootstrap, topic)
        rows = fake.rows()
        table, dead = rows.get(TABLE, []), rows.get(DEAD, [])
        eids = [r["event_id"] for r in table]
        ck.check("count(*) == count(DISTINCT event_id) == valid produced", len(eids) == len(set(eids)) == len(ds.ok),
                 f"{len(eids)} rows, {len(set(eids))} distinct, {len(ds.ok)} valid produced")
        lines = {int(index[parse_id(r["_id"], topic)]) for r in table}
        ck.check("every row traced to a valid line, every valid line present",
                 lines == ds.ok and all(ds.event_id(int(index[parse_id(r["_id"], topic)])) == r["event_id"] for r in table),
                 f"{len(ds.ok - lines)} missing")
        dl = {int(index[parse_id(r["id"], topic)]) for r in dead}
        ck.check("dead letters exact", len(dead) == len(dl) == len(ds.bad) and dl == ds.bad,
                 f"{len(dead)} dead letters, {len(ds.bad)} malformed produced")
        committed = ctx.broker.committed(group, topic)
        end_off = ctx.broker.end_offsets(topic, 4)
        ok2, missing2 = _acked_is_stored(fake, committed, topic)
        ck.check("Kafka committed offsets: all stored, and at the end of the topic", ok2 and committed == end_off,
                 f"committed {committed}, end {end_off}")
        st = fake.stats()
        sent = sum(st.get("insert_rows", []))
        fig["rows sent in accepted insertAll requests"] = sent
        fig["of which resent and deduplicated by insertId"] = sent - len(table) - len(dead)
        notes.append("The fake deduplicates insertId exactly; real BigQuery does so on a best-effort basis "
                     "(about a minute), so the resent rows counted above are what exactly-once on BigQuery "
                     "rests on.")
    finally:
        if c is not None and c.alive():
            c.kill()
        fake.stop()
    return ck, fig, notes
