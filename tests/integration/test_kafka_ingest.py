"""Kafka ingestion, black-box: a real Kafka 4.x broker of our own (free loopback
ports, own data directory), kcat as the independent producer and consumer, the
built `colibri serve` subscribed to it, and SQLite read back with Python's
sqlite3 as the oracle.

Every message is produced with kcat with its line number as the key, so the
table, _dead_letters and the dead-letter topic can be traced back to the
flightgen line (and its manifest kind) through kafka:<topic>/<partition>/<offset>.

Sizes: KAFKA_TEST_MESSAGES (default 200,000) for the clean run, the SIGKILL
run and the backlog of the backpressure run; the other scenarios use a tenth
to a half of it. Run the full 1,000,000 by hand with
KAFKA_TEST_MESSAGES=1000000. KAFKA_KEEP=1 leaves the test broker running.
"""
import collections
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time

import pytest

from pylib.server import BIN, base_env, free_port
from pylib.broker import (Broker, Colibri, Dataset, counts, dlq_messages, parse_id, positions, produce_file,
                              query, topic_index, wait_counts, wait_until)

N = int(os.environ.get("KAFKA_TEST_MESSAGES", "200000"))
# a crashed member holds its partitions until its session times out: 6 s (the broker's minimum)
# instead of librdkafka's 45 s keeps the crash scenarios short
FAST_SESSION = {"COLIBRI_KAFKA_SESSION_TIMEOUT_MS": "6000"}


@pytest.fixture(scope="module")
def broker():
    b = Broker()
    b.up()
    yield b
    if os.environ.get("KAFKA_KEEP") != "1":
        b.down(wipe=True)


def rate(n, seconds):
    return f"{n / seconds:,.0f} msg/s" if seconds > 0 else "-"


def produce_all(broker, ds, topic, partitions, start=0, stop=None):
    ds.produce(broker.bootstrap, topic, start, stop)
    want = (len(ds.lines) if stop is None else stop)
    got = sum(broker.end_offsets(topic, partitions).values())
    assert got == want, f"topic {topic} holds {got} messages, produced {want}"


def verify_exactly_once(broker, ds, db, topic, dlq_exact=True):
    """The table holds exactly the valid lines, _dead_letters exactly the malformed ones, the
    dead-letter topic every malformed one (exactly once when dlq_exact), each traced by key."""
    index = topic_index(broker.bootstrap, topic)
    assert len(index) == len(ds.lines)

    rows = query(db, "SELECT _id, event_id, _source FROM flights")
    assert len(rows) == len(ds.ok), (len(rows), len(ds.ok))
    assert len({r[1] for r in rows}) == len(rows), "duplicate event_id in the table"
    keys = set()
    for _id, event_id, source in rows:
        i = int(index[parse_id(_id, topic)])
        assert ds.kinds[i] == "ok", f"{_id} (line {i}, {ds.kinds[i]}) is in the table"
        assert event_id == ds.event_id(i), (_id, event_id, i)
        assert source == "kafka"
        keys.add(i)
    assert keys == ds.ok

    dead = query(db, "SELECT id, reason, payload, source FROM _dead_letters")
    assert len(dead) == len(ds.bad)
    by_id = {}
    for _id, reason, payload, source in dead:
        i = int(index[parse_id(_id, topic)])
        assert ds.kinds[i] != "ok", f"valid line {i} dead-lettered: {reason}"
        assert payload.encode("utf-8", "surrogateescape") == ds.lines[i].encode("utf-8", "surrogateescape")
        assert reason and source == "kafka"
        by_id[_id] = (i, reason)
    assert {i for i, _ in by_id.values()} == ds.bad

    dlq = dlq_messages(broker.bootstrap, topic + ".dlq")
    seen = collections.Counter()
    for key, reason, _id, value in dlq:
        assert _id in by_id, f"{_id} on the dead-letter topic but not in _dead_letters"
        i, stored_reason = by_id[_id]
        assert key == str(i), "the original key is kept"
        assert value == ds.lines[i], "the original value is kept"
        assert reason == stored_reason
        seen[_id] += 1
    assert set(seen) == set(by_id), f"missing on the dead-letter topic: {sorted(set(by_id) - set(seen))[:5]}"
    dups = sum(c - 1 for c in seen.values())
    if dlq_exact:
        assert dups == 0, f"{dups} duplicates on the dead-letter topic"
    return {"rows": len(rows), "dead": len(dead), "dlq": len(dlq), "dlq_duplicates": dups,
            "reasons": collections.Counter(ds.kinds[i] + ": " + re.sub(r"\d+", "N", r)[:60]
                                           for i, r in by_id.values())}


def positions_cover(db, topic, partitions=None):
    """rows + dead letters == sum of stored next offsets: every offset below `next` is stored once."""
    pos = positions(db, topic)
    rows, dead = counts(db)
    assert rows + dead == sum(pos.values()), (rows, dead, pos)
    return pos


# ---------------------------------------------------------------- 1. clean run

def test_valid_rows_and_dead_letters_exactly(broker, tmp_path):
    ds = Dataset(str(tmp_path), N, seed=11, malformed_pct=1)
    topic = broker.create_topic("ingest-clean", 4)
    t0 = time.monotonic()
    produce_all(broker, ds, topic, 4)
    t_produce = time.monotonic() - t0
    db = str(tmp_path / "clean.db")
    c = Colibri(db, f"kafka://{broker.bootstrap}/{topic}?group=clean", str(tmp_path / "colibri.log"))
    try:
        took = wait_counts(db, len(ds.ok), len(ds.bad), timeout=max(300, N / 1000), alive=[c])
        time.sleep(1.5)     # nothing more arrives
        assert counts(db) == (len(ds.ok), len(ds.bad))
        assert c.get("/readyz")[0] == 200
        rc, _ = c.kill(signal.SIGTERM)
        assert rc == 0, c.log_tail()
    finally:
        if c.alive():
            c.kill()
    positions_cover(db, topic)
    summary = verify_exactly_once(broker, ds, db, topic)
    print(f"\n[clean] {N} messages: produced in {t_produce:.1f} s, ingested in {took:.1f} s "
          f"({rate(N, took)} incl. group join); {summary['rows']} rows, {summary['dead']} dead letters; "
          f"reasons: {dict(summary['reasons'])}")


# ---------------------------------------------------------------- 2. SIGKILL x5

def test_sigkill_five_times(broker, tmp_path):
    """Five SIGKILLs, each while messages are produced but not yet stored. The topic is
    filled chunk by chunk and each kill waits for the chunk's first rows, so a kill can
    never come after the end of ingestion; a kill that still found nothing pending (the
    chunk stored whole before it landed) is not counted and the next chunk gets another."""
    ds = Dataset(str(tmp_path), N, seed=12, malformed_pct=1)
    topic = broker.create_topic("ingest-kill", 4)
    db = str(tmp_path / "kill.db")
    chunks = 12
    bounds = [len(ds.lines) * i // chunks for i in range(chunks + 1)]
    # small batches (at most 32 x 100 rows while behind): a chunk is stored in several
    # transactions, so a kill that follows its first rows lands before its last
    c = Colibri(db, f"kafka://{broker.bootstrap}/{topic}?group=kill", str(tmp_path / "colibri.log"),
                COLIBRI_BATCH_MAX=100, **FAST_SESSION)
    at, idle_kills = [], 0
    try:
        for i in range(chunks):
            produced_ok = sum(1 for j in ds.ok if j < bounds[i + 1])
            produce_all(broker, ds, topic, 4, bounds[i], bounds[i + 1])
            if len(at) == 5:
                continue
            before = counts(db)[0]
            wait_until(lambda: counts(db)[0] > before or not c.alive(), 300, f"rows of chunk {i}", 0.01)
            assert c.alive(), c.log_tail()
            c.kill(signal.SIGKILL)
            now = counts(db)
            if now[0] < produced_ok:
                at.append(now)
            else:
                idle_kills += 1
            c.start()
        assert len(at) == 5, f"only {len(at)} kills landed during ingestion: {at}"
        wait_counts(db, len(ds.ok), len(ds.bad), timeout=max(300, N / 1000), alive=[c])
        time.sleep(1.5)
        assert counts(db) == (len(ds.ok), len(ds.bad))
        rc, _ = c.kill(signal.SIGTERM)
        assert rc == 0
    finally:
        if c.alive():
            c.kill()
    assert query(db, "SELECT count(*), count(DISTINCT event_id) FROM flights")[0] == (len(ds.ok), len(ds.ok))
    positions_cover(db, topic)
    # the dead-letter topic is written before the rows commit: a kill in between republishes
    # (at least once there); _dead_letters stays exactly once
    summary = verify_exactly_once(broker, ds, db, topic, dlq_exact=False)
    print(f"\n[sigkill] killed at (rows, dead) {at} ({idle_kills} kills between chunks not counted); "
          f"dead-letter topic duplicates: {summary['dlq_duplicates']}")


# ---------------------------------------------------------------- 3. broker restart

READY_BOUND_S = 10      # /readyz follows the broker within this, both ways
ANSWER_BOUND_S = 1.0    # and each answer comes within this (the probe itself is bounded at 0.2 s)


class ReadyzPoller(threading.Thread):
    """GET /readyz every 0.2 s all along: (monotonic time sent, status, body, seconds it took)."""

    def __init__(self, c):
        super().__init__(daemon=True)
        self.c, self.answers, self.done = c, [], threading.Event()

    def run(self):
        while not self.done.is_set():
            t0 = time.monotonic()
            try:
                st, body = self.c.get("/readyz", timeout=5)
            except OSError:
                st, body = 0, b""
            self.answers.append((t0, st, body.decode("utf-8", "replace"), time.monotonic() - t0))
            self.done.wait(0.2)

    def stop(self):
        self.done.set()
        self.join(10)

    def first(self, status, after):
        """Time of the first answer with this status sent at or after `after`, or None."""
        return next((t for t, st, _, _ in list(self.answers) if t >= after and st == status), None)

    def between(self, t0, t1):
        return [a for a in list(self.answers) if t0 <= a[0] < t1]


def broker_pid(broker):
    with open(os.path.join(broker.dir, "kafka.pid")) as f:
        return int(f.read())


def broker_outage_readiness(broker, c, how, hold=3.0):
    """Take the broker away under a running colibri, hold, bring it back, with /readyz polled all along.
    how: "kafka-down" (graceful stop, then kafka-up), "sigkill" (as `make chaos` does, then kafka-up) or
    "sigstop" (a hung broker: connections stay open, nothing answers; then SIGCONT).
    Asserts 503 naming the broker within READY_BOUND_S of the broker being gone, 503 for the rest of the
    outage, 200 within READY_BOUND_S of it being back, every answer within ANSWER_BOUND_S.
    Returns (s from the fault's start to 503, s from the broker being gone to 503, s from it being back
    (kafka-up returned, or SIGCONT) to 200, statuses during the outage). kafka-down stops the broker
    gracefully and it drops its connections before the process exits: 503s can come before it returns."""
    poller = ReadyzPoller(c)
    poller.start()
    pid, back = broker_pid(broker), False
    try:
        time.sleep(1)
        assert all(st == 200 for _, st, _, _ in poller.answers), poller.answers
        t_stop = time.monotonic()
        if how == "kafka-down":
            broker.down()
        elif how == "sigkill":
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                       open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z", 10, "the broker gone", 0.02)
        else:
            os.kill(pid, signal.SIGSTOP)
        t_gone = time.monotonic()
        wait_until(lambda: poller.first(503, t_stop) is not None, READY_BOUND_S + 5, "/readyz 503")
        t_503 = poller.first(503, t_stop)
        assert t_503 - t_gone <= READY_BOUND_S, f"503 only {t_503 - t_gone:.1f} s after the broker was gone"
        time.sleep(hold)
        assert c.alive(), c.log_tail()
        t_up0 = time.monotonic()
        outage = poller.between(t_503, t_up0)
        assert outage and all(st == 503 for _, st, _, _ in outage), \
            f"/readyz not 503 all through the outage: {[(round(t - t_stop, 1), st) for t, st, _, _ in outage]}"
        assert all(broker.bootstrap in body and "answers" in body for _, _, body, _ in outage), outage[0][2]
        if how == "sigstop":
            os.kill(pid, signal.SIGCONT)
        else:
            broker.up()
        back = True
        t_up = time.monotonic()
        wait_until(lambda: poller.first(200, t_up0) is not None, READY_BOUND_S + 5, "/readyz 200 once it is back")
        t_200 = poller.first(200, t_up0)
        assert t_200 - t_up <= READY_BOUND_S, f"200 only {t_200 - t_up:.1f} s after the broker was back"
        time.sleep(1)
    finally:
        poller.stop()
        if not back:        # leave the module's broker running for the next tests
            if how == "sigstop":
                os.kill(pid, signal.SIGCONT)
            else:
                broker.up()
    slowest = max(took for _, _, _, took in poller.answers)
    assert slowest <= ANSWER_BOUND_S, f"a /readyz answer took {slowest:.2f} s"
    return (round(t_503 - t_stop, 2), round(t_503 - t_gone, 2), round(t_200 - t_up, 2),
            dict(collections.Counter(st for _, st, _, _ in outage)))


def test_broker_restart_during_ingestion(broker, tmp_path):
    n = max(N // 2, 1000)
    ds = Dataset(str(tmp_path), n, seed=13, malformed_pct=1)
    topic = broker.create_topic("ingest-broker-restart", 4)
    produce_all(broker, ds, topic, 4, 0, n // 2)
    db = str(tmp_path / "broker.db")
    c = Colibri(db, f"kafka://{broker.bootstrap}/{topic}?group=brk", str(tmp_path / "colibri.log"))
    try:
        wait_until(lambda: counts(db)[0] >= len(ds.ok) // 8, 300, "some rows", 0.05)
        before = counts(db)
        fig = broker_outage_readiness(broker, c, "sigkill")
        # and it takes what is produced after the restart
        produce_all(broker, ds, topic, 4, n // 2, n)
        wait_counts(db, len(ds.ok), len(ds.bad), timeout=max(300, n / 1000), alive=[c])
        time.sleep(1.5)
        assert counts(db) == (len(ds.ok), len(ds.bad))
        assert c.get("/readyz")[0] == 200
        rc, _ = c.kill(signal.SIGTERM)
        assert rc == 0
    finally:
        if c.alive():
            c.kill()
    assert before[0] < len(ds.ok) // 2, "the broker went down after the first half was already in"
    positions_cover(db, topic)
    verify_exactly_once(broker, ds, db, topic)
    print(f"\n[broker restart] rows before the SIGKILL: {before}; /readyz 503 {fig[1]} s after the broker "
          f"was gone, 200 {fig[2]} s after kafka-up returned; during the outage {fig[3]}")


@pytest.mark.parametrize("how", ["kafka-down", "sigstop"])
def test_readiness_follows_broker_on_idle_topic(broker, tmp_path, how):
    """Nothing produced: ready with a healthy broker (no message needed), 503 while it is stopped or
    hung, ready again once it is back."""
    topic = broker.create_topic(f"ingest-idle-{how}", 4)
    db = str(tmp_path / "idle.db")
    c = Colibri(db, f"kafka://{broker.bootstrap}/{topic}?group=idle-{how}", str(tmp_path / "colibri.log"))
    try:
        c.wait_assigned()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5:
            st, body = c.get("/readyz")
            assert st == 200, body
            time.sleep(0.25)
        fig = broker_outage_readiness(broker, c, how)
        rc, _ = c.kill(signal.SIGTERM)
        assert rc == 0
    finally:
        if c.alive():
            c.kill()
    assert counts(db) == (0, 0)
    print(f"\n[idle topic, {how}] /readyz 503 {fig[0]} s after the fault began ({fig[1]} s after the broker "
          f"was gone), 200 {fig[2]} s after it was back; during the outage {fig[3]}")


# ---------------------------------------------------------------- 4. two processes, one killed

def assigned_partitions(log_text, since=0):
    return [int(m.group(1)) for m in re.finditer(r"assigned \S+/(\d+) from offset", log_text[since:])]


def test_two_processes_one_group_one_killed(broker, tmp_path):
    n = max(N // 2, 1000)
    ds = Dataset(str(tmp_path), n, seed=14, malformed_pct=1)
    topic = broker.create_topic("ingest-two", 4)
    third = n // 3
    produce_all(broker, ds, topic, 4, 0, third)
    db = str(tmp_path / "shared.db")
    url = f"kafka://{broker.bootstrap}/{topic}?group=two"
    a = Colibri(db, url, str(tmp_path / "a.log"), **FAST_SESSION)
    b = Colibri(db, url, str(tmp_path / "b.log"), **FAST_SESSION)
    try:
        wait_until(lambda: a.status("/readyz") == 200 and b.status("/readyz") == 200, 60, "both assigned", 0.2)
        # cooperative-sticky: the second member gets its share in a second rebalance
        wait_until(lambda: assigned_partitions(a.log_text()) and assigned_partitions(b.log_text()), 60,
                   "both members hold partitions", 0.2)
        wait_until(lambda: counts(db)[0] >= len(ds.ok) // 6, 300, "rows", 0.05)
        b_mark = len(b.log_text())
        a.kill(signal.SIGKILL)
        killed_at = counts(db)
        produce_all(broker, ds, topic, 4, third, 2 * third)
        # b takes a's partitions once a's session has expired
        wait_until(lambda: len(set(assigned_partitions(b.log_text(), b_mark))) >= 1, 60,
                   "b takes over a's partitions", 0.2)
        a_mark = len(a.log_text())
        a.start()
        wait_until(lambda: assigned_partitions(a.log_text(), a_mark), 60, "restarted a gets partitions back", 0.2)
        produce_all(broker, ds, topic, 4, 2 * third, n)
        wait_counts(db, len(ds.ok), len(ds.bad), timeout=max(300, n / 1000), alive=[a, b])
        time.sleep(1.5)
        assert counts(db) == (len(ds.ok), len(ds.bad))
        for p in (a, b):
            rc, _ = p.kill(signal.SIGTERM)
            assert rc == 0, p.log_tail()
    finally:
        for p in (a, b):
            if p.alive():
                p.kill()
    assert killed_at[0] < len(ds.ok), "a was killed after everything was in"
    stored = [int(m.group(1)) for p in (a, b)
              for m in re.finditer(r"subscriber stopped: (\d+) rows stored", p.log_text())]
    assert len(stored) == 2 and all(s > 0 for s in stored), f"both stored rows at the end: {stored}"
    dups = [int(m.group(1)) for p in (a, b)
            for m in re.finditer(r"(\d+) duplicates skipped", p.log_text())]
    positions_cover(db, topic)
    verify_exactly_once(broker, ds, db, topic, dlq_exact=False)
    print(f"\n[two processes] a killed at {killed_at}; rows stored by b and by restarted a: {stored}; "
          f"duplicates skipped: {dups}")


# ---------------------------------------------------------------- 5. SIGTERM

def test_sigterm_flushes_commits_and_leaves(broker, tmp_path):
    n = max(N // 4, 1000)
    ds = Dataset(str(tmp_path), n, seed=15, malformed_pct=1)
    topic = broker.create_topic("ingest-term", 4)
    produce_all(broker, ds, topic, 4)
    db = str(tmp_path / "term.db")
    group = "term"
    # small batches: what is in memory at SIGTERM (a batch being written, one filling, each up to
    # 32 x BATCH_MAX while behind) must be well below the topic, or the stop is not mid-ingestion
    # dynamic membership, whose members leave the group on SIGTERM (a static member keeps its
    # place for its restart: test_restart_after_sigkill_is_immediate)
    c = Colibri(db, f"kafka://{broker.bootstrap}/{topic}?group={group}", str(tmp_path / "colibri.log"),
                COLIBRI_BATCH_MAX=100, COLIBRI_GROUP_INSTANCE_ID="off")
    try:
        wait_until(lambda: counts(db)[0] >= len(ds.ok) // 3, 300, "rows", 0.02)
        rc, took = c.kill(signal.SIGTERM, timeout=30)
    finally:
        if c.alive():
            c.kill()
    assert rc == 0, c.log_tail()
    assert took <= 10, f"exit took {took:.1f} s"
    stopped_at = counts(db)
    assert sum(stopped_at) < n, "SIGTERM came after everything was in: not a mid-ingestion stop"
    pos = positions_cover(db, topic)
    committed = broker.committed(group, topic)
    assert committed == pos, f"Kafka committed {committed} != stored {pos}"
    state = broker.group_state(group)
    assert re.search(r"\bEmpty\b", state), f"the group still has members: {state}"
    assert "subscriber stopped" in c.log_text()

    # it resumes from the stored offsets: no duplicates, nothing lost
    c.start()
    try:
        wait_counts(db, len(ds.ok), len(ds.bad), timeout=300, alive=[c])
        rc, _ = c.kill(signal.SIGTERM)
        assert rc == 0
    finally:
        if c.alive():
            c.kill()
    assert "0 duplicates skipped" in c.log_text().split("==== start")[-1]
    verify_exactly_once(broker, ds, db, topic)
    print(f"\n[sigterm] exit 0 in {took:.2f} s at (rows, dead) {stopped_at}; committed == stored {pos}; {state.strip()}")


# ---------------------------------------------------------------- 6. backpressure

def test_store_locked_backpressure(broker, tmp_path):
    # the backlog (~70 MiB at the default size) must be well above what the consumer may prefetch
    n = max(N, 2000)
    lock_s = float(os.environ.get("KAFKA_TEST_LOCK_SECONDS", "12"))
    ds = Dataset(str(tmp_path), n, seed=16, malformed_pct=1)
    topic = broker.create_topic("ingest-locked", 4)
    warm = min(n // 10, 10000)
    produce_all(broker, ds, topic, 4, 0, warm)
    db = str(tmp_path / "locked.db")
    group = "locked"
    # bounds well below the backlog: the prefetch (the default, 64 MiB, is about the backlog's size)
    # and the batches (one being written and one filling, each up to 32 x BATCH_MAX rows while behind)
    c = Colibri(db, f"kafka://{broker.bootstrap}/{topic}?group={group}", str(tmp_path / "colibri.log"),
                COLIBRI_KAFKA_QUEUED_MAX_MESSAGES_KBYTES=16384, COLIBRI_BATCH_MAX=200)
    samples, ready = [], []
    try:
        wait_counts(db, len(ds.ok & set(range(warm))), len(ds.bad & set(range(warm))), timeout=120, alive=[c])
        time.sleep(1)
        base_rss = c.rss_kib()
        pos0 = positions(db, topic)
        committed0 = broker.committed(group, topic)
        assert committed0 == pos0
        counts0 = counts(db)

        lock = sqlite3.connect(db, timeout=10, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        t_lock = time.monotonic()
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                samples.append((time.monotonic() - t_lock, c.rss_kib()))
                time.sleep(0.25)

        def probe():
            while not stop.is_set():
                t = time.monotonic()
                try:
                    st, body = c.get("/readyz", timeout=15)
                except OSError as e:
                    st, body = 0, str(e).encode()
                ready.append((round(t - t_lock, 1), st, round(time.monotonic() - t, 2), body[:120]))
                time.sleep(0.5)

        threads = [threading.Thread(target=sample), threading.Thread(target=probe)]
        for t in threads:
            t.start()
        try:
            produce_all(broker, ds, topic, 4, warm, n)
            wait_until(lambda: time.monotonic() - t_lock >= lock_s / 2, lock_s, "half the outage")
            committed_mid = broker.committed(group, topic)
            wait_until(lambda: time.monotonic() - t_lock >= lock_s, lock_s, "the end of the outage")
            counts_locked = counts(db)
            assert c.alive(), c.log_tail()
        finally:
            lock.execute("ROLLBACK")
            lock.close()
            t_unlock = time.monotonic() - t_lock
            stop.set()
            for t in threads:
                t.join()
        wait_counts(db, len(ds.ok), len(ds.bad), timeout=300, alive=[c])
        rc, _ = c.kill(signal.SIGTERM)
        assert rc == 0
    finally:
        if c.alive():
            c.kill()
    peak = max(r for _, r in samples)
    produced_mib = sum(len(line) + 1 for line in ds.lines[warm:]) / 2**20
    print(f"\n[backpressure] lock held {t_unlock:.1f} s while {n - warm} messages ({produced_mib:.0f} MiB) "
          f"were produced; RSS base {base_rss / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB; "
          f"committed before/mid-outage {committed0}/{committed_mid}; readyz during the lock: "
          f"{[(t, s, lat) for t, s, lat, _ in ready]}")
    assert counts_locked == counts0, "rows arrived while the store was locked?"
    assert committed_mid == committed0, "Kafka offsets moved while nothing could be stored"
    # bounded: the prefetch queue (16 MiB) plus two batches of at most 6,400 rows, not the backlog
    assert (peak - base_rss) / 1024 < min(40, produced_mib * 0.6), \
        f"RSS grew by {(peak - base_rss) / 1024:.0f} MiB while {produced_mib:.0f} MiB waited"
    assert "consumption paused" in c.log_text()
    # /readyz pings the store with a write transaction: a write lock held elsewhere shows
    assert any(st == 503 and b"store" in body for _, st, _, body in ready), ready
    verify_exactly_once(broker, ds, db, topic)


def test_sigterm_during_store_outage(broker, tmp_path):
    n = max(N // 10, 1000)
    ds = Dataset(str(tmp_path), n, seed=17, malformed_pct=1)
    topic = broker.create_topic("ingest-term-locked", 4)
    produce_all(broker, ds, topic, 4)
    db = str(tmp_path / "term-locked.db")
    group = "term-locked"
    c = Colibri(db, f"kafka://{broker.bootstrap}/{topic}?group={group}", str(tmp_path / "colibri.log"))
    try:
        wait_until(lambda: counts(db)[0] > 0, 120, "first rows", 0.02)
        lock = sqlite3.connect(db, timeout=10, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            time.sleep(3)       # inside the store retry loop
            at = counts(db)
            t0 = time.monotonic()
            c.proc.send_signal(signal.SIGTERM)
            try:
                rc = c.proc.wait(timeout=15)
                c.kill()        # already gone: closes its log
            except subprocess.TimeoutExpired:
                rc = None       # the verdict comes last; SIGKILL it and check the rest
                c.kill(signal.SIGKILL)
            took = time.monotonic() - t0
        finally:
            lock.execute("ROLLBACK")
            lock.close()
    finally:
        if c.alive():
            c.kill()
    assert counts(db) == at
    pos = positions_cover(db, topic)
    assert broker.committed(group, topic) == pos, "acknowledged what was not stored"
    c.start()
    try:
        wait_counts(db, len(ds.ok), len(ds.bad), timeout=300, alive=[c])
        assert c.kill(signal.SIGTERM)[0] == 0
    finally:
        if c.alive():
            c.kill()
    # the batch dropped at shutdown is read again, so its dead letters reach the topic twice
    # (at-least-once there; _dead_letters stays exact)
    verify_exactly_once(broker, ds, db, topic, dlq_exact=False)
    print(f"\n[sigterm, store locked] exit {rc} after {took:.1f} s")
    assert rc == 0 and took <= 10, f"SIGTERM with the store locked: exit {rc} after {took:.1f} s"


# ---------------------------------------------------------------- 7. configuration

def run_colibri(args, timeout=30, **env):
    return subprocess.run([BIN, *args], env=base_env(COLIBRI_LOG_FORMAT="text", **env), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_kafka_property_pass_through(broker, tmp_path):
    topic = broker.create_topic("ingest-conf", 2)
    db = str(tmp_path / "conf.db")
    url = f"kafka://{broker.bootstrap}/{topic}?group=conf"
    c = Colibri(db, url, str(tmp_path / "colibri.log"), COLIBRI_KAFKA_CLIENT_ID="xyz-colibri-test")
    try:
        c.wait_assigned()
        members = broker.members("conf")
        assert "xyz-colibri-test" in members, members
        rc, _ = c.kill(signal.SIGTERM)
        assert rc == 0
    finally:
        if c.alive():
            c.kill()

    for env, name in [({"COLIBRI_KAFKA_NO_SUCH_PROP": "1"}, "COLIBRI_KAFKA_NO_SUCH_PROP"),
                      ({"COLIBRI_KAFKA_SESSION_TIMEOUT_MS": "soon"}, "COLIBRI_KAFKA_SESSION_TIMEOUT_MS")]:
        t0 = time.monotonic()
        r = run_colibri(["serve"], COLIBRI_STORE="sqlite:" + db, COLIBRI_SUBSCRIBE=url, COLIBRI_LISTEN=f"127.0.0.1:{free_port()}",
                        **env)
        assert r.returncode != 0 and time.monotonic() - t0 < 10
        assert name in r.stderr, r.stderr


@pytest.mark.parametrize("url", [
    "kafka://127.0.0.1:1",                       # no topic
    "kafka://127.0.0.1:1/",                      # empty topic
    "kafka:///topic",                            # no broker
    "kafka://127.0.0.1:1/topic?grup=g",          # not group=
    "kafka://127.0.0.1:1/topic?group=",          # empty group
    "kafka://127.0.0.1:1/to pic?group=g",        # not a topic name
    "kafkax://127.0.0.1:1/topic",                # unknown scheme
    "127.0.0.1:9092/topic",                      # no scheme
])
def test_bad_subscribe_url_fails_at_start(tmp_path, url):
    r = run_colibri(["serve"], COLIBRI_STORE="sqlite:" + str(tmp_path / "x.db"), COLIBRI_SUBSCRIBE=url,
                    COLIBRI_LISTEN=f"127.0.0.1:{free_port()}")
    assert r.returncode != 0
    assert "COLIBRI_SUBSCRIBE" in r.stderr and "kafka://HOST:PORT" in r.stderr, r.stderr


def test_check_config_reports_partitions(broker, tmp_path):
    topic = broker.create_topic("ingest-check", 3)
    db = "sqlite:" + str(tmp_path / "check.db")
    r = run_colibri(["check-config"], COLIBRI_STORE=db, COLIBRI_SUBSCRIBE=f"kafka://{broker.bootstrap}/{topic}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(rf"topic {topic} has 3 partitions", r.stdout), r.stdout

    r = run_colibri(["check-config"], COLIBRI_STORE=db,
                    COLIBRI_SUBSCRIBE=f"kafka://{broker.bootstrap}/ingest-no-such-topic")
    assert r.returncode != 0, r.stdout
    assert "ingest-no-such-topic" in r.stdout + r.stderr
    meta = subprocess.run(["kcat", "-b", broker.bootstrap, "-L"], capture_output=True, text=True,
                          timeout=30).stdout       # all topics: asking for one could create it
    assert topic in meta and "ingest-no-such-topic" not in meta, "check-config created the topic"

    r = run_colibri(["check-config"], timeout=60, COLIBRI_STORE=db,
                    COLIBRI_SUBSCRIBE="kafka://127.0.0.1:1/topic")
    assert r.returncode != 0, r.stdout
    assert "127.0.0.1:1" in r.stdout + r.stderr


# ---------------------------------------------------------------- 8. odd messages

def test_odd_messages_and_oversized(broker, tmp_path):
    """Hand-made edge cases: empty, JSON that is not an object, bad UTF-8, unknown fields, epoch
    times, a 2 MiB message (topic and producer raised to allow it)."""
    topic = broker.create_topic("ingest-odd", 1, **{"max.message.bytes": 4 * 2**20})
    good = ('{"event_id":"odd-1","event_time":1767225600,"flight_id":"LA800-2026-01-01",'
            '"flight_date":"2026-01-01","carrier":"LA","flight_number":"800","origin":"SCL",'
            '"destination":"LIM","scheduled_departure":"2026-01-01T10:00:00Z","status":"scheduled",'
            '"extra_field":{"x":[1,2]}}')
    messages = [
        ("good", good, True),
        ("empty", "", False),
        ("string", '"just a string"', False),
        ("number", "42", False),
        ("nested", '[[{"event_id":"x"}]]', False),
        ("badutf8", good.replace("scheduled", "sch\xffeduled", 1), None),   # a policy question: reported
        ("nul", good.replace("odd-1", "odd-\\u0000-2"), None),
        ("big", good[:-1] + ',"pad":"' + "x" * (2 * 2**20) + '"}', False),
    ]
    path = str(tmp_path / "odd.keyed")
    with open(path, "wb") as f:
        for key, value, _ in messages:
            f.write(key.encode() + b"\t" + value.encode("latin-1" if "\xff" in value else "utf-8") + b"\n")
    produce_file(broker.bootstrap, topic, path, extra=["-X", "message.max.bytes=8000000"])
    db = str(tmp_path / "odd.db")
    c = Colibri(db, f"kafka://{broker.bootstrap}/{topic}?group=odd", str(tmp_path / "colibri.log"))
    try:
        wait_until(lambda: sum(counts(db)) == len(messages), 120, "every odd message stored or dead-lettered")
        rc, _ = c.kill(signal.SIGTERM)
        assert rc == 0
    finally:
        if c.alive():
            c.kill()
    rows = dict(query(db, "SELECT _id, event_id FROM flights"))
    dead = {i: r for i, r in query(db, "SELECT id, reason FROM _dead_letters")}
    outcome = {}
    for off, (key, _, expect_row) in enumerate(messages):
        _id = f"kafka:{topic}/0/{off}"
        outcome[key] = "row" if _id in rows else "dead: " + dead.get(_id, "?")[:80]
        if expect_row is True:
            assert _id in rows, (key, outcome[key])
        elif expect_row is False:
            assert _id in dead, (key, outcome[key])
    assert rows[f"kafka:{topic}/0/0"] == "odd-1"
    dlq = {i: (k, r) for k, r, i, _ in dlq_messages(broker.bootstrap, topic + ".dlq")}
    print(f"\n[odd] {outcome}\n      on the dead-letter topic: {sorted(k for k, _ in dlq.values())}")
    for off, (key, _, _) in enumerate(messages):
        _id = f"kafka:{topic}/0/{off}"
        if _id in dead and key != "big":
            assert _id in dlq and dlq[_id][0] == key, f"{key} missing from the dead-letter topic"
    assert "exceeds" in dead[f"kafka:{topic}/0/{len(messages) - 1}"]


# ---------------------------------------------------------------- the edge: resets, gone brokers, restarts

def metric_value(c, name, **labels):
    _, body = c.get("/metrics")
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in body.decode().splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.parametrize("new_messages,reason", [(120, "truncated"), (300, "replaced")])
def test_topic_recreated_loses_nothing(broker, tmp_path, new_messages, reason):
    """The topic is deleted and created again while colibri is stopped, and the new log gets
    fewer (its end is below the stored offset) or more messages (only the witness of the last
    stored message tells): every new message is stored, under ids of a new epoch."""
    old = Dataset(str(tmp_path), 200, seed=31, malformed_pct=0)
    new = Dataset(str(tmp_path), new_messages, seed=32, malformed_pct=0)
    topic = broker.create_topic(f"ingest-reset-{reason}", 1)
    produce_all(broker, old, topic, 1)
    db = str(tmp_path / "reset.db")
    c = Colibri(db, f"kafka://{broker.bootstrap}/{topic}?group=reset-{reason}", str(tmp_path / "colibri.log"))
    try:
        wait_counts(db, 200, 0, timeout=120, alive=[c])
        assert c.kill(signal.SIGTERM)[0] == 0
        broker.recreate_topic(topic, 1)
        produce_all(broker, new, topic, 1)
        c.start()
        took = wait_counts(db, 200 + new_messages, 0, timeout=120, alive=[c])
        assert metric_value(c, "colibri_source_resets_total", source="kafka", reason=reason) == 1
        assert metric_value(c, "colibri_ingest_messages_total", source="kafka", result="duplicate") == 0
        newest = metric_value(c, "colibri_newest_event_timestamp_seconds")
        assert c.kill(signal.SIGTERM)[0] == 0
    finally:
        if c.alive():
            c.kill()
    assert f"({reason})" in c.log_text() and "epoch 1" in c.log_text()
    ids = [r[0] for r in query(db, "SELECT _id FROM flights")]
    assert sum(1 for i in ids if i.startswith(f"kafka:{topic}@1/0/")) == new_messages
    assert {r[0] for r in query(db, "SELECT event_id FROM flights WHERE _id LIKE ?", f"kafka:{topic}@1/%")} == \
        {new.event_id(i) for i in range(new_messages)}
    newest_new = max(json.loads(line)["event_time"] for line in new.lines)
    assert newest > 0 and positions(db, topic + "@1") == {0: new_messages}
    print(f"\n[reset] {reason}: {new_messages} new messages stored in {took:.1f} s as epoch 1; newest event "
          f"{newest:.0f} (last produced {newest_new})")


def test_sigterm_while_the_broker_is_gone(broker, tmp_path):
    """SIGKILL the broker under a consuming colibri, then SIGTERM colibri: it exits 0 within
    10 s (leaving the group is time-boxed); once the broker is back, nothing is lost."""
    ds = Dataset(str(tmp_path), 2000, seed=33, malformed_pct=1)
    topic = broker.create_topic("ingest-gone", 2)
    produce_all(broker, ds, topic, 2, 0, 1000)
    db = str(tmp_path / "gone.db")
    c = Colibri(db, f"kafka://{broker.bootstrap}/{topic}?group=gone", str(tmp_path / "colibri.log"))
    try:
        wait_until(lambda: counts(db)[0] > 0, 120, "rows", 0.05)
        os.kill(broker.pid(), signal.SIGKILL)
        time.sleep(1)
        rc, took = c.kill(signal.SIGTERM, timeout=15)
        print(f"\n[broker gone] SIGTERM -> exit {rc} in {took:.2f} s")
        assert rc == 0 and took < 10, c.log_tail()
    finally:
        if c.alive():
            c.kill()
        broker.up()
    produce_all(broker, ds, topic, 2, 1000, 2000)
    c.start()
    try:
        wait_counts(db, len(ds.ok), len(ds.bad), timeout=180, alive=[c])
        assert c.kill(signal.SIGTERM)[0] == 0
    finally:
        if c.alive():
            c.kill()
    verify_exactly_once(broker, ds, db, topic, dlq_exact=False)


def test_restart_after_sigkill_is_immediate(broker, tmp_path):
    """Default settings (no session timeout override): the restarted process is the same
    static group member, so it consumes again at once instead of waiting ~45 s for the
    killed member's session to expire."""
    ds = Dataset(str(tmp_path), 4000, seed=34, malformed_pct=1)
    topic = broker.create_topic("ingest-restart", 2)
    produce_all(broker, ds, topic, 2, 0, 2000)
    db = str(tmp_path / "restart.db")
    c = Colibri(db, f"kafka://{broker.bootstrap}/{topic}?group=restart", str(tmp_path / "colibri.log"))
    try:
        wait_until(lambda: counts(db)[0] > 0, 120, "rows", 0.05)
        c.kill(signal.SIGKILL)
        produce_all(broker, ds, topic, 2, 2000, 4000)
        t0 = time.monotonic()
        c.start()
        wait_counts(db, len(ds.ok), len(ds.bad), timeout=60, alive=[c])
        took = time.monotonic() - t0
        assert c.kill(signal.SIGTERM)[0] == 0
    finally:
        if c.alive():
            c.kill()
    print(f"\n[restart] after SIGKILL: every message stored {took:.1f} s after the restart")
    assert took < 10, f"{took:.1f} s"
    assert "static member colibri-" in c.log_text()
    verify_exactly_once(broker, ds, db, topic, dlq_exact=False)


def test_kafka_up_reports_only_its_own_broker(broker, tmp_path):
    """kafka-up fails with the reason when its port belongs to another process, or when its
    broker cannot bind its ports, and never prints an address then."""
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "scripts", "kafka-up")
    env = dict(os.environ, KAFKA_PORT=str(broker.port), KAFKA_CONTROLLER_PORT=str(free_port()),
               KAFKA_DIR=str(tmp_path / "k1"))
    r = subprocess.run([script], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and r.stdout.strip() == "" and "already in use" in r.stderr, r.stderr
    blocker = socket.socket()           # bound, not listening: the port check passes, the bind fails
    blocker.bind(("127.0.0.1", 0))
    env = dict(os.environ, KAFKA_PORT=str(free_port()), KAFKA_CONTROLLER_PORT=str(blocker.getsockname()[1]),
               KAFKA_DIR=str(tmp_path / "k2"))
    try:
        t0 = time.monotonic()
        r = subprocess.run([script], env=env, capture_output=True, text=True, timeout=180)
        took = time.monotonic() - t0
    finally:
        blocker.close()
    assert r.returncode != 0 and r.stdout.strip() == "", (r.stdout, r.stderr[-2000:])
    assert "bind" in r.stderr or "exited" in r.stderr, r.stderr[-2000:]
    print(f"\n[kafka-up] a blocked controller port fails in {took:.1f} s: {r.stderr.strip().splitlines()[-1]}")
