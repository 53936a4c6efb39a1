"""Shared pieces of `make chaos` (scripts/chaos): a snapshot of the binaries, a
readiness poller, consistent reads of the SQLite file, Kafka's committed
offsets, fault helpers (an exclusive SQLite lock, an immutable file on a
loop-mounted ext4, a full tmpfs) and the exactly-once verification.

Built on the test library (tests/pylib: broker, server). Set COLIBRI_BIN and
FLIGHTGEN before importing this module (scripts/chaos does), since
pylib.server reads them at import time.
"""
import collections
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import pylib.broker as kil  # noqa: E402
from pylib.broker import Broker, Dataset, dlq_messages, parse_id, topic_index  # noqa: E402,F401

STARTED = []    # every colibri process started, so that the runner can stop what is left


class Colibri(kil.Colibri):
    def start(self):
        try:
            return super().start()
        finally:
            if self.proc is not None and self.proc not in STARTED:
                STARTED.append(self.proc)


def stop_leftovers():
    for p in STARTED:
        if p.poll() is None:
            p.kill()
            p.wait()

# a SIGKILLed member holds its partitions until its session times out: 6 s (the broker's minimum)
FAST_SESSION = {"COLIBRI_KAFKA_SESSION_TIMEOUT_MS": "6000"}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(args, timeout=120, check=True, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    return r


# ------------------------------------------------------------------ checks

class Checks:
    """Named assertions of one scenario; a failed one does not stop the scenario."""

    def __init__(self):
        self.items = []     # (name, ok, detail)

    def check(self, name, ok, detail=""):
        self.items.append((name, bool(ok), str(detail)))
        log(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + str(detail) if detail else ''}")
        return ok

    @property
    def passed(self):
        return all(ok for _, ok, _ in self.items)


# ------------------------------------------------------------------ the database

def snap(db, topic):
    """(rows, dead letters, {partition: stored next offset}) read in one read transaction."""
    if not os.path.exists(db):
        return 0, 0, {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30, isolation_level=None)
    try:
        con.execute("BEGIN")
        try:
            rows = con.execute("SELECT count(*) FROM flights").fetchone()[0]
            dead = con.execute("SELECT count(*) FROM _dead_letters").fetchone()[0]
            prefix = f"kafka:{topic}/"
            pos = {int(k[len(prefix):]): n for k, n in con.execute("SELECT key, next FROM _positions")
                   if k.startswith(prefix)}
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return 0, 0, {}
            raise
        con.execute("COMMIT")
        return rows, dead, pos
    finally:
        con.close()


def consistent(s):
    """Every offset below each stored position is a row or a dead letter, once: rows + dead == sum(next)."""
    rows, dead, pos = s
    return rows + dead == sum(pos.values())


def wait_total(db, topic, rows, dead, timeout, stall=90, proc=None):
    """Wait until the table holds `rows` and `dead`; returns seconds, or raises on a stall or overshoot."""
    t0 = last_change = time.monotonic()
    last = None
    while True:
        r, d, _ = snap(db, topic)
        if (r, d) == (rows, dead):
            return time.monotonic() - t0
        if (r, d) != last:
            last, last_change = (r, d), time.monotonic()
        if proc is not None and not proc.alive():
            raise AssertionError(f"colibri exited with {proc.proc.returncode}:\n{proc.log_tail()}")
        if r > rows or d > dead:
            raise AssertionError(f"more than produced: {(r, d)} > {(rows, dead)}")
        if time.monotonic() - last_change > stall:
            raise AssertionError(f"no progress for {stall} s at {(r, d)}, want {(rows, dead)}")
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timeout at {(r, d)}, want {(rows, dead)}")
        time.sleep(0.2)


def wait_rows(db, topic, n, timeout, proc=None):
    t0 = time.monotonic()
    while snap(db, topic)[0] < n:
        if proc is not None and not proc.alive():
            raise AssertionError(f"colibri exited with {proc.proc.returncode}:\n{proc.log_tail()}")
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"fewer than {n} rows after {timeout} s")
        time.sleep(0.05)


def verify(checks, broker, ds, db, topic, partitions, group, dlq_exact=False):
    """Zero lost, zero duplicated: the table holds exactly the valid lines, _dead_letters exactly the
    malformed ones, each traced back to its flightgen line through its Kafka key; positions agree;
    nothing committed to Kafka beyond what is stored."""
    index = topic_index(broker.bootstrap, topic)
    checks.check("topic holds every produced message", len(index) == len(ds.lines), f"{len(index)} / {len(ds.lines)}")
    n, distinct = kil.query(db, "SELECT count(*), count(DISTINCT event_id) FROM flights")[0]
    checks.check("count(*) == count(DISTINCT event_id) == valid produced", n == distinct == len(ds.ok),
                 f"{n} rows, {distinct} distinct event_id, {len(ds.ok)} valid produced")
    ids = kil.query(db, "SELECT _id, event_id FROM flights")
    traced, wrong = set(), []
    for _id, event_id in ids:
        i = int(index.get(parse_id(_id, topic), -1))
        if i < 0 or ds.kinds[i] != "ok" or event_id != ds.event_id(i):
            wrong.append(_id)
        else:
            traced.add(i)
    checks.check("every row traced to a valid line, every valid line present", not wrong and traced == ds.ok,
                 f"{len(wrong)} wrong, {len(ds.ok - traced)} missing")
    dead = kil.query(db, "SELECT id FROM _dead_letters")
    dead_lines = {int(index.get(parse_id(d[0], topic), -1)) for d in dead}
    checks.check("dead letters exact (each malformed line once, nothing else)",
                 len(dead) == len(dead_lines) == len(ds.bad) and dead_lines == ds.bad,
                 f"{len(dead)} dead letters, {len(ds.bad)} malformed produced")
    s = snap(db, topic)
    checks.check("_positions == rows + dead letters (offsets stored with rows)", consistent(s)
                 and sum(s[2].values()) == len(ds.lines), f"sum(next)={sum(s[2].values())}, rows+dead={s[0] + s[1]}")
    dlq = dlq_messages(broker.bootstrap, topic + ".dlq")
    seen = collections.Counter(m[2] for m in dlq)
    dups = sum(c - 1 for c in seen.values())
    want = {d[0] for d in dead}
    ok = set(seen) == want and (dups == 0 or not dlq_exact)
    checks.check("dead-letter topic holds every dead letter" + (" once" if dlq_exact else " (at least once)"), ok,
                 f"{len(dlq)} messages, {len(seen)} distinct, {dups} duplicates")
    end = broker.end_offsets(topic, partitions)
    committed = broker.committed(group, topic)
    checks.check("Kafka committed offsets <= stored positions", all(committed.get(p, 0) <= s[2].get(p, 0) for p in end),
                 f"committed {committed}, stored {s[2]}")
    return {"rows": n, "dead": len(dead), "dlq_messages": len(dlq), "dlq_duplicates": dups,
            "committed": committed, "end": end}


# ------------------------------------------------------------------ readiness

def _reason(body):
    try:
        return json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace").strip()[:120]


class ReadyPoller(threading.Thread):
    """GET /readyz every `interval` s; each answer is kept with the phase it was taken in."""

    def __init__(self, proc, interval=0.25, path="/readyz", phase_of=None):
        super().__init__(daemon=True)
        self.proc, self.interval, self.path, self.phase_of = proc, interval, path, phase_of
        self.phase = "start"
        self.followers = []
        if phase_of is not None:
            phase_of.followers.append(self)
        self.samples = []       # (t, phase, status, reason, latency s)
        self._halt = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self._halt.is_set():
            t = time.monotonic()
            phase = self.phase_of.phase if self.phase_of else self.phase
            url = self.proc.url + self.path
            try:
                with urllib.request.urlopen(url, timeout=15) as r:
                    r.read()
                    status, reason = r.status, "ready"
            except urllib.error.HTTPError as e:
                status, reason = e.code, _reason(e.read())
            except OSError as e:
                status, reason = 0, f"no answer ({type(e).__name__})"
            self.samples.append((t - self.t0, phase, status, reason, time.monotonic() - t))
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(20)

    def summary(self, phase):
        """'200 ×12; 503 "store sqlite: unavailable" ×40' and the slowest answer, for one phase."""
        got = [s for s in self.samples if s[1] == phase]
        if not got:
            return "no samples", 0.0, collections.Counter()
        c = collections.Counter((s[2], re.sub(r"\d{3,}", "N", s[3])) for s in got)
        text = "; ".join(f"{st} \"{r}\" ×{n}" if st != 200 else f"200 ×{n}" for (st, r), n in c.items())
        return text, max(s[4] for s in got), c

    def statuses(self, phase):
        return collections.Counter(s[2] for s in self.samples if s[1] == phase)


# ------------------------------------------------------------------ metrics

METRIC = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")


def metrics(proc, names=("colibri_ready", "colibri_store_errors_total", "colibri_last_store_success_timestamp_seconds",
                         "colibri_ingest_messages_total", "colibri_subscriber_assigned")):
    try:
        status, body = proc.get("/metrics", timeout=15)
    except OSError as e:
        return {"error": str(e)}
    out = {}
    for line in body.decode().splitlines():
        m = METRIC.match(line)
        if m and m.group(1) in names:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def store_errors(m):
    return sum(v for k, v in m.items() if k.startswith("colibri_store_errors_total"))


# ------------------------------------------------------------------ faults

class ExclusiveLock:
    """Another process's transaction holding SQLite's write lock: `BEGIN EXCLUSIVE` (in WAL mode the
    write lock; readers go on). What a second writer, a backup or a migration does to a live file."""

    def __init__(self, db):
        self.db = db
        self.proc = None

    def __enter__(self):
        # a separate process (the sqlite3 shell), so the lock really is another process's
        self.proc = subprocess.Popen(["sqlite3", "-batch", self.db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.proc.stdin.write(".timeout 30000\nBEGIN EXCLUSIVE;\nSELECT 'locked', count(*) FROM flights;\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line.startswith("locked|"):
            raise RuntimeError(f"sqlite3 could not take the lock: {line}")
        return int(line.split("|")[1])

    def __exit__(self, *exc):
        self.proc.stdin.write("ROLLBACK;\n.quit\n")
        self.proc.stdin.flush()
        self.proc.wait(30)


class Mount:
    """A filesystem of our own under `path`: tmpfs of `size`, or ext4 on a loop-mounted image file."""

    def __init__(self, path, kind, size):
        self.path, self.kind, self.size = path, kind, size
        self.image = None

    def __enter__(self):
        os.makedirs(self.path, exist_ok=True)
        if self.kind == "tmpfs":
            run(["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", self.path])
        else:
            self.image = self.path.rstrip("/") + ".img"
            run(["truncate", "-s", self.size, self.image])
            run(["mkfs.ext4", "-q", "-F", self.image])
            run(["mount", "-o", "loop", self.image, self.path])
        return self

    def __exit__(self, *exc):
        for f in os.listdir(self.path):
            subprocess.run(["chattr", "-i", os.path.join(self.path, f)], capture_output=True)
        for _ in range(50):
            if subprocess.run(["umount", self.path], capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        else:
            log(f"warning: could not unmount {self.path}")
        if self.image:
            os.unlink(self.image)


def fill(path, chunk=1 << 20):
    """Write zeros to `path` until the filesystem is full; returns the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        while chunk >= 4096:
            try:
                n = f.write(b"\0" * chunk)
                written += n
                if n < chunk:
                    chunk //= 2
            except OSError:
                chunk //= 2
    return written


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize
