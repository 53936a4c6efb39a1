"""The scenarios of `make chaos`. Each one: a fresh topic (4 partitions) and database, flightgen lines
(1 % malformed) produced with kcat while `colibri serve` ingests them, a fault in the middle, /readyz
polled all along, then the exactly-once verification of chaoslib.verify.

A scenario returns (Checks, figures dict, notes list)."""
import os
import random
import signal
import subprocess
import threading
import time
import uuid
import zlib

from chaoslib import (FAST_SESSION, Checks, Colibri, Dataset, ExclusiveLock, Mount, ReadyPoller, consistent,
                      fill, free_bytes, log, metrics, run, snap, store_errors, verify, wait_rows, wait_total)


class Ctx:
    def __init__(self, broker, work, messages, kills, fault_seconds, seed):
        self.broker, self.work = broker, work
        self.messages, self.kills, self.fault_seconds = messages, kills, fault_seconds
        self.rng = random.Random(seed)
        self.seed = seed


class Producer(threading.Thread):
    """Produces the dataset's lines (key = line number) through one long-running `kcat -P` (idempotent
    producer) at about `rate` msg/s, in slices of `chunk` lines, so messages arrive continuously.
    `pause()` stops writing between slices (kcat stays up and retries what it holds); `gate.set()` resumes."""

    def __init__(self, broker, ds, topic, rate, chunk=50):
        super().__init__(daemon=True)
        self.broker, self.ds, self.topic, self.rate, self.chunk = broker, ds, topic, rate, chunk
        self.gate, self.idle = threading.Event(), threading.Event()
        self.gate.set()
        self.error = None
        self.produced = 0
        self.stderr = ""
        self.kcat = None

    def _open(self):
        self.kcat = subprocess.Popen(["kcat", "-P", "-b", self.broker.bootstrap, "-t", self.topic, "-K", "\t",
                                      "-X", "enable.idempotence=true", "-X", "linger.ms=5"],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._err = []
        self._reader = threading.Thread(target=lambda k=self.kcat, e=self._err: e.append(k.stderr.read()), daemon=True)
        self._reader.start()

    def _close(self):
        """Close kcat's input: it delivers what it holds and exits (0 when everything was delivered)."""
        self.kcat.stdin.close()
        rc = self.kcat.wait(600)
        self._reader.join(10)
        self.stderr += (self._err[0] if self._err else b"").decode("utf-8", "replace")
        if rc != 0:
            raise RuntimeError(f"kcat -P exited {rc}: {self.stderr[-1000:]}")

    def run(self):
        t0 = time.monotonic()
        try:
            self._open()
            n = len(self.ds.lines)
            for i in range(0, n, self.chunk):
                if not self.gate.is_set():
                    self._close()       # kcat gives up when every broker is down: no kcat during a pause
                    self.idle.set()
                    self.gate.wait()
                    self.idle.clear()
                    self._open()
                    t0 = time.monotonic() - i / self.rate
                stop = min(i + self.chunk, n)
                self.kcat.stdin.write(b"".join(f"{j}\t{self.ds.lines[j]}\n".encode("utf-8", "surrogateescape")
                                               for j in range(i, stop)))
                self.kcat.stdin.flush()
                self.produced = stop
                ahead = t0 + self.produced / self.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            self._close()
        except Exception as e:  # noqa: BLE001 - reported by the scenario
            self.error = e
            if self.kcat is not None and self.kcat.poll() is None:
                self.kcat.kill()
                self.kcat.wait()
        self.idle.set()

    def pause(self):
        self.gate.clear()
        self.idle.wait(120)

    def finish(self, timeout=900):
        self.join(timeout)
        if self.error:
            raise self.error
        assert self.produced == len(self.ds.lines), f"produced {self.produced} of {len(self.ds.lines)}"


def _setup(ctx, name, n, db=None, partitions=4, session=None):
    work = os.path.join(ctx.work, name)
    os.makedirs(work, exist_ok=True)
    ds = Dataset(work, n, seed=ctx.seed + zlib.crc32(name.encode()) % 1000, malformed_pct=1)
    topic = ctx.broker.create_topic(f"chaos-{name}-{uuid.uuid4().hex[:6]}", partitions)
    group = f"chaos-{name}"
    db = db or os.path.join(work, "flights.db")
    c = Colibri(db, f"kafka://{ctx.broker.bootstrap}/{topic}?group={group}", os.path.join(work, "colibri.log"),
                **(session or {}))
    return work, ds, topic, group, db, c


def _finish(ck, fig, ctx, c, ds, db, topic, group, poller, timeout=600, dlq_exact=False):
    poller.phase = "drain"
    try:
        took = wait_total(db, topic, len(ds.ok), len(ds.bad), timeout, proc=c)
        fig["drain_s"] = round(took, 1)
        ck.check("everything arrives once the fault clears", True, f"{len(ds.ok)} rows, {len(ds.bad)} dead letters")
    except AssertionError as e:
        ck.check("everything arrives once the fault clears", False, e)
    time.sleep(1.5)
    poller.phase = "end"
    time.sleep(0.6)
    poller.stop()
    for p in poller.followers:
        p.stop()
    rc, took = c.kill(signal.SIGTERM)
    ck.check("SIGTERM: exit 0", rc == 0, f"rc={rc} in {took:.1f} s")
    fig.update(verify(ck, ctx.broker, ds, db, topic, 4, group, dlq_exact=dlq_exact))


def _readiness(ck, fig, poller, phase, want_503=True):
    text, slowest, _ = poller.summary(phase)
    fig[f"readyz[{phase}]"] = f"{text}; slowest answer {slowest:.2f} s"
    if want_503:
        st = poller.statuses(phase)
        ck.check(f"/readyz reports the fault ({phase})", st.get(503, 0) > 0, text)


def _wait_stall(db, topic, quiet=2.0, limit=15.0):
    """Wait until the stored rows stop changing for `quiet` s (a batch in flight settles); returns the snapshot."""
    t0 = time.monotonic()
    last, since = snap(db, topic), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() - t0 < limit:
        time.sleep(0.2)
        s = snap(db, topic)
        if s[:2] != last[:2]:
            last, since = s, time.monotonic()
    return last, time.monotonic() - t0


def _store_fault(ck, fig, ctx, c, poller, db, topic, group, name, inject, clear, data_poller=None):
    """Hold a store fault for ctx.fault_seconds while messages keep arriving; check nothing is stored or
    acknowledged during it and that readiness and metrics say so."""
    m0 = metrics(c)
    poller.phase = name
    t_inject = time.monotonic()
    inject()
    base, settle = _wait_stall(db, topic)
    fig[f"{name}: stored rows stop within"] = f"{settle - 2.0:.1f} s" if settle < 15 else "did not stop"
    committed0 = ctx.broker.committed(group, topic)
    ck.check(f"{name}: committed <= stored at fault start", all(v <= base[2].get(p, 0) for p, v in committed0.items()),
             f"committed {committed0} stored {base[2]}")
    samples = []
    while time.monotonic() - t_inject < ctx.fault_seconds:
        samples.append(snap(db, topic))
        time.sleep(0.5)
    m1 = metrics(c)
    committed1 = ctx.broker.committed(group, topic)
    end = snap(db, topic)
    moved = [s[:2] for s in samples + [end] if s[:2] != base[:2]]
    ck.check(f"{name}: nothing stored during the fault", not moved,
             f"rows/dead stayed at {base[:2]}" if not moved else f"changed to {moved[-1]}")
    ck.check(f"{name}: nothing acknowledged to Kafka during the fault", committed1 == committed0
             and all(v <= end[2].get(p, 0) for p, v in committed1.items()),
             f"committed {committed0} -> {committed1}; stored positions {end[2]}")
    ck.check(f"{name}: stored positions never pass the table", all(consistent(s) for s in samples + [base, end]))
    errs = store_errors(m1) - store_errors(m0)
    fig[f"{name}: metrics during fault"] = (f"colibri_ready={m1.get('colibri_ready')}, "
                                           f"colibri_store_errors_total +{errs:.0f}, "
                                           f"last store success {time.time() - m1.get('colibri_last_store_success_timestamp_seconds', 0):.1f} s ago")
    ck.check(f"{name}: colibri_store_errors_total counts the failures", errs > 0, f"+{errs:.0f}")
    _readiness(ck, fig, poller, name)
    if data_poller is not None:
        text, slowest, _ = data_poller.summary(name)
        before, slowest_before, _ = data_poller.summary("ingest")
        fig[f"{name}: GET /data?limit=10 during the fault"] = f"{text}; slowest {slowest:.2f} s (before: {slowest_before:.2f} s)"
        ck.check(f"{name}: GET /data keeps answering 200 during the fault", set(data_poller.statuses(name)) == {200},
                 text)
    poller.phase = f"{name} cleared"
    t_clear = time.monotonic()
    clear()
    try:
        wait_rows(db, topic, end[0] + 1, 60, proc=c)
        fig[f"{name}: first row stored after clearing"] = f"{time.monotonic() - t_clear:.1f} s"
    except AssertionError as e:
        ck.check(f"{name}: ingestion resumes after clearing", False, e)
    ck.check(f"{name}: colibri still running", c.alive())
    return end


# ------------------------------------------------------------------ 1. SIGKILL loop

def sigkill_loop(ctx):
    ck, fig, notes = Checks(), {}, []
    work, ds, topic, group, db, c = _setup(ctx, "sigkill", ctx.messages, session=FAST_SESSION)
    # produced over ~15 s per kill, so that every kill lands while messages are still arriving
    prod = Producer(ctx.broker, ds, topic, rate=ctx.messages / (15 * max(ctx.kills, 1)), chunk=100)
    poller = ReadyPoller(c)
    poller.start()
    prod.start()
    t0 = time.monotonic()
    at, to_ready, violations = [], [], []
    try:
        for k in range(1, ctx.kills + 1):
            poller.phase = "ingest"
            # this incarnation is storing: then a random moment, most likely inside a batch
            wait_rows(db, topic, snap(db, topic)[0] + 1, 600, proc=c)
            time.sleep(ctx.rng.uniform(0.2, 2.5))
            poller.phase = "killed"
            c.kill(signal.SIGKILL)
            s = snap(db, topic)
            committed = ctx.broker.committed(group, topic)
            if not consistent(s) or any(v > s[2].get(p, 0) for p, v in committed.items()):
                violations.append((k, s, committed))
            at.append(s[0])
            log(f"  kill {k}/{ctx.kills} at {s[0]} rows, {s[1]} dead letters; committed {committed}")
            poller.phase = "restart"
            t = time.monotonic()
            c.start()
            c.wait_assigned(120)
            to_ready.append(round(time.monotonic() - t, 1))
        prod.finish()
    except Exception as e:  # noqa: BLE001
        ck.check("kill loop ran", False, e)
    fig["killed at rows"] = at
    fig["restart -> /readyz 200 (s)"] = to_ready
    ck.check(f"{ctx.kills} kills, all during ingestion", len(at) == ctx.kills and len(set(at)) == len(at)
             and at and at[-1] < len(ds.ok), at)
    ck.check("at each kill: rows + dead == stored positions, committed <= stored", not violations, violations)
    _readiness(ck, fig, poller, "killed", want_503=False)
    _readiness(ck, fig, poller, "restart", want_503=False)
    st = poller.statuses("restart")
    ck.check("/readyz reports each restart until assigned (503 or no answer before 200)",
             st.get(503, 0) + st.get(0, 0) > 0, dict(st))
    _finish(ck, fig, ctx, c, ds, db, topic, group, poller)
    fig["total_s"] = round(time.monotonic() - t0, 1)
    notes.append("The dead-letter topic is written before the rows commit, so a kill in between republishes "
                 "a dead letter there (at least once); `_dead_letters` stays exactly once.")
    return ck, fig, notes


# ------------------------------------------------------------------ 2. broker restart

def broker_restart(ctx):
    ck, fig, notes = Checks(), {}, []
    n = max(ctx.messages // 4, 4000)
    work, ds, topic, group, db, c = _setup(ctx, "broker", n)
    prod = Producer(ctx.broker, ds, topic, rate=n / 30)
    poller = ReadyPoller(c)
    poller.start()
    prod.start()
    t_down = t_up0 = t_up = None
    try:
        poller.phase = "ingest"
        wait_rows(db, topic, len(ds.ok) // 5, 300, proc=c)
        prod.pause()
        before = snap(db, topic)
        pid = int(open(os.path.join(ctx.broker.dir, "kafka.pid")).read())
        poller.phase = "broker down"
        t_down = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        log(f"  broker pid {pid} SIGKILLed at {before[0]} rows")
        samples = []
        while time.monotonic() - t_down < ctx.fault_seconds:
            samples.append(snap(db, topic))
            time.sleep(0.5)
        m = metrics(c)
        fig["broker down: metrics"] = (f"colibri_ready={m.get('colibri_ready')}, "
                                       f"colibri_subscriber_assigned={m.get('colibri_subscriber_assigned')}")
        ck.check("broker down: colibri keeps running", c.alive())
        ck.check("broker down: stored positions never pass the table", all(consistent(s) for s in samples))
        fig["broker down: rows stored while down (already fetched)"] = samples[-1][0] - before[0]
        poller.phase = "broker restarting"
        t_up0 = time.monotonic()
        ctx.broker.up()
        t_up = time.monotonic()
        fig["broker restart (kafka-up) s"] = round(t_up - t_up0, 1)
        poller.phase = "after restart"
        prod.gate.set()
        prod.finish()
        committed = ctx.broker.committed(group, topic)
        s = snap(db, topic)
        ck.check("after restart: committed <= stored", all(v <= s[2].get(p, 0) for p, v in committed.items()),
                 f"committed {committed} stored {s[2]}")
    except Exception as e:  # noqa: BLE001
        ck.check("broker restart ran", False, e)
    _readiness(ck, fig, poller, "broker down", want_503=False)
    _readiness(ck, fig, poller, "broker restarting", want_503=False)
    _readiness(ck, fig, poller, "after restart", want_503=False)
    down = poller.statuses("broker down") + poller.statuses("broker restarting")
    ck.check("/readyz reports the broker outage (a 503 while it is down)", down.get(503, 0) > 0, dict(down))
    if t_down is not None and t_up is not None:
        def first(status, after):   # monotonic time of the first answer with this status sent after `after`
            return next((poller.t0 + s[0] for s in list(poller.samples)
                         if s[2] == status and poller.t0 + s[0] >= after), None)
        t503, t200 = first(503, t_down), first(200, t_up0)
        to_503 = None if t503 is None else round(t503 - t_down, 2)
        # kafka-up returns once the broker answers kcat; readiness may see it first (then negative)
        to_200 = None if t200 is None else round(t200 - t_up, 2)
        fig["broker SIGKILL -> first /readyz 503 (s)"] = to_503
        fig["kafka-up returned -> first /readyz 200 (s)"] = f"{to_200} (kafka-up took {t_up - t_up0:.1f} s)"
        ck.check("/readyz 503 within 10 s of the broker SIGKILL", to_503 is not None and to_503 <= 10,
                 f"{to_503} s")
        ck.check("/readyz 200 within 10 s of the broker being back (kafka-up returned)",
                 to_200 is not None and to_200 <= 10, f"{to_200} s")
    _finish(ck, fig, ctx, c, ds, db, topic, group, poller)
    return ck, fig, notes


# ------------------------------------------------------------------ 3. SQLite refuses writes

def sqlite_locked(ctx):
    """3a: another process holds BEGIN EXCLUSIVE on the live file."""
    ck, fig, notes = Checks(), {}, []
    n = max(ctx.messages // 4, 4000)
    work, ds, topic, group, db, c = _setup(ctx, "locked", n)
    prod = Producer(ctx.broker, ds, topic, rate=n / 40)
    poller = ReadyPoller(c)
    dpoll = ReadyPoller(c, path="/data?limit=10", phase_of=poller)
    poller.start()
    dpoll.start()
    prod.start()
    try:
        poller.phase = "ingest"
        wait_rows(db, topic, len(ds.ok) // 5, 300, proc=c)
        lock = ExclusiveLock(db)
        _store_fault(ck, fig, ctx, c, poller, db, topic, group, "exclusive lock",
                     lambda: lock.__enter__(), lambda: lock.__exit__(None, None, None), dpoll)
        prod.finish()
    except Exception as e:  # noqa: BLE001
        ck.check("scenario ran", False, e)
    _finish(ck, fig, ctx, c, ds, db, topic, group, poller)
    return ck, fig, notes


def sqlite_readonly(ctx):
    """3b: the file made read-only. chmod first (recorded: it does not stop a running process), then
    chattr +i on the database and its WAL on ext4, which the kernel enforces on open descriptors."""
    ck, fig, notes = Checks(), {}, []
    n = max(ctx.messages // 4, 4000)
    mnt = os.path.join(ctx.work, "ext4")
    with Mount(mnt, "ext4", "256M"):
        db = os.path.join(mnt, "flights.db")
        work, ds, topic, group, db, c = _setup(ctx, "readonly", n, db=db)
        prod = Producer(ctx.broker, ds, topic, rate=n / 45)
        poller = ReadyPoller(c)
        dpoll = ReadyPoller(c, path="/data?limit=10", phase_of=poller)
        poller.start()
        dpoll.start()
        prod.start()
        try:
            poller.phase = "ingest"
            wait_rows(db, topic, len(ds.ok) // 6, 300, proc=c)
            files = [db, db + "-wal", db + "-shm"]
            modes = {f: os.stat(f).st_mode & 0o7777 for f in files + [mnt]}
            poller.phase = "chmod a-w"
            s0 = snap(db, topic)
            for f in files:
                os.chmod(f, 0o444)
            os.chmod(mnt, 0o555)
            time.sleep(min(5, ctx.fault_seconds))
            s1 = snap(db, topic)
            for f, mode in modes.items():
                os.chmod(f, mode)
            fig["chmod 0444 file+wal+shm, 0555 dir, 5 s"] = (f"rows went on: {s0[0]} -> {s1[0]} "
                                                            f"(+{s1[0] - s0[0]}); /readyz: {poller.summary('chmod a-w')[0]}")
            notes.append("chmod does not make SQLite refuse writes for a running process: permissions are checked "
                         "at open(), colibri keeps its descriptors to the file, the -wal and the -shm open (and root "
                         "bypasses mode bits anyway). Measured above, not counted as the fault.")
            _store_fault(ck, fig, ctx, c, poller, db, topic, group, "chattr +i",
                         lambda: run(["chattr", "+i", db, db + "-wal"]),
                         lambda: run(["chattr", "-i", db, db + "-wal"]), dpoll)
            prod.finish()
        except Exception as e:  # noqa: BLE001
            ck.check("scenario ran", False, e)
        _finish(ck, fig, ctx, c, ds, db, topic, group, poller)
        fig["log lines about the fault"] = _log_lines(c, ("Operation not permitted", "disk I/O error", "readonly",
                                                          "not writable", "store failed"))
    return ck, fig, notes


# ------------------------------------------------------------------ 4. disk full

def disk_full(ctx):
    ck, fig, notes = Checks(), {}, []
    # 64 MB, not 20: colibri's WAL checkpoints only at 8,192 pages (32 MB), and with small batches the WAL
    # alone filled a 20 MB tmpfs after the filler was gone (ingestion then stalls for good: see the doc)
    n = 10000
    mnt = os.path.join(ctx.work, "tmpfs")
    with Mount(mnt, "tmpfs", "64m"):
        db = os.path.join(mnt, "flights.db")
        work, ds, topic, group, db, c = _setup(ctx, "diskfull", n, db=db)
        prod = Producer(ctx.broker, ds, topic, rate=n / 40)
        poller = ReadyPoller(c)
        poller.start()
        prod.start()
        dpoll = ReadyPoller(c, path="/data?limit=10", phase_of=poller)
        dpoll.start()
        filler = os.path.join(mnt, "filler")
        try:
            poller.phase = "ingest"
            wait_rows(db, topic, len(ds.ok) // 4, 300, proc=c)

            def inject():
                fig["filler bytes"] = fill(filler)
                fig["free after fill"] = free_bytes(mnt)

            def clear():
                os.unlink(filler)

            _store_fault(ck, fig, ctx, c, poller, db, topic, group, "disk full", inject, clear, dpoll)
            prod.finish()
        except Exception as e:  # noqa: BLE001
            ck.check("scenario ran", False, e)
        finally:
            if os.path.exists(filler):
                os.unlink(filler)
        _finish(ck, fig, ctx, c, ds, db, topic, group, poller)
        fig["log lines about the fault"] = _log_lines(c, ("full", "store failed", "not writable"))
    return ck, fig, notes


def _log_lines(c, needles, limit=3):
    seen, out = set(), []
    for line in c.log_text().splitlines():
        if (" WARN" in line or " ERROR" in line) and any(n in line for n in needles):
            key = line.split(" ", 2)[-1][:100]
            if key not in seen:
                seen.add(key)
                out.append(line.strip()[:200])
        if len(out) >= limit:
            break
    return out


# ------------------------------------------------------------------ 5. BigQuery 503

def bigquery_503(ctx):
    from chaoslib import ROOT
    store = os.path.join(ROOT, "src", "store", "bigquery.c")
    fake = os.path.join(ROOT, "tests", "fakes", "bigquery_faults.py")
    missing = [p for p in (store, fake) if not os.path.exists(p)]
    if not missing and b"bigquery_store_ops" not in open(os.environ["COLIBRI_BIN"], "rb").read():
        missing = ["the built colibri has no BigQuery store"]
    if missing:
        return None, {"skipped": "not available: " + ", ".join(os.path.relpath(p, ROOT) if p.startswith("/") else p for p in missing)}, []
    import bq_chaos     # written once the BigQuery store and its fake exist
    return bq_chaos.run(ctx)


SCENARIOS = [
    ("sigkill", "1. SIGKILL loop during ingest", sigkill_loop),
    ("broker", "2. Broker SIGKILL + restart during ingest", broker_restart),
    ("locked", "3a. SQLite write lock held by another process (BEGIN EXCLUSIVE)", sqlite_locked),
    ("readonly", "3b. SQLite file made read-only (chmod, then chattr +i on ext4)", sqlite_readonly),
    ("diskfull", "4. Disk full (64 MB tmpfs)", disk_full),
    ("bigquery", "5. BigQuery fake returning 503", bigquery_503),
]

from edge import EDGE_SCENARIOS  # noqa: E402 - edge.py uses the helpers above
SCENARIOS += EDGE_SCENARIOS
