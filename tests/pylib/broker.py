"""Kafka for the ingest tests, chaos and soak: a broker of our own on free loopback ports
(scripts/kafka-up with KAFKA_PORT/KAFKA_CONTROLLER_PORT/KAFKA_DIR, so that it
can be restarted on the same data directory and never collides with a broker
somebody else runs on 9092 or 19092), kcat as the independent producer and
consumer, the Kafka tools (ConsumerGroupCommand) for the group's committed
offsets, and `colibri serve` as a child process whose log goes to a file.
"""
import json
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from pylib.ports import free_port
from pylib.server import BIN, FLIGHTGEN, base_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "scripts")


def _run(args, timeout, env=None, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env,
                       stdin=kw.pop("stdin", subprocess.DEVNULL), **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {r.returncode}\n--- stdout\n{r.stdout[-3000:]}"
                           f"\n--- stderr\n{r.stderr[-3000:]}")
    return r


class Broker:
    """One single-node KRaft broker on free ports, with its own data directory."""

    def __init__(self):
        self.port, self.cport = free_port(), free_port()
        while self.cport == self.port:
            self.cport = free_port()
        self.dir = tempfile.mkdtemp(prefix="colibri-kafka-ingest-")
        self.env = dict(os.environ, KAFKA_PORT=str(self.port), KAFKA_CONTROLLER_PORT=str(self.cport),
                        KAFKA_DIR=self.dir, KAFKA_BOOTSTRAP=f"127.0.0.1:{self.port}")
        self.bootstrap = None

    def up(self, timeout=900):
        out = _run([os.path.join(SCRIPTS, "kafka-up")], timeout, env=self.env).stdout.strip().splitlines()
        assert out and out[-1] == f"127.0.0.1:{self.port}", out
        self.bootstrap = out[-1]
        return self.bootstrap

    def down(self, wipe=False):
        _run([os.path.join(SCRIPTS, "kafka-down")] + (["--wipe"] if wipe else []), 120, env=self.env)

    def libs(self):
        pom = open(os.path.join(SCRIPTS, "kafka", "pom.xml")).read()
        ver = re.search(r"<kafka.version>(.*?)</kafka.version>", pom).group(1)
        cache = os.environ.get("COLIBRI_CACHE", os.path.expanduser("~/.cache/colibri"))
        return os.path.join(cache, f"kafka-{ver}", "libs")

    def tool(self, cls, *args, timeout=120):
        """Run a Kafka command-line tool class from the broker's jars."""
        java = os.environ.get("JAVA", "java")
        return _run([java, "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                     f"-Dlog4j2.configurationFile={self.dir}/tools-log4j2.properties",
                     "-cp", self.libs() + "/*", cls, "--bootstrap-server", self.bootstrap, *args],
                    timeout).stdout

    def create_topic(self, name, partitions, **configs):
        _run([os.path.join(SCRIPTS, "kafka-topic"), name, str(partitions)], 120, env=self.env)
        if configs:
            self.tool("org.apache.kafka.tools.ConfigCommand", "--alter", "--entity-type", "topics", "--entity-name", name,
                      "--add-config", ",".join(f"{k}={v}" for k, v in configs.items()))
        return name

    def recreate_topic(self, name, partitions, timeout=60):
        """Delete the topic and create it again: a new, empty log under the same name."""
        self.tool("org.apache.kafka.tools.TopicCommand", "--delete", "--topic", name)
        t0 = time.monotonic()
        while True:
            try:
                _run([os.path.join(SCRIPTS, "kafka-topic"), name, str(partitions)], 120, env=self.env)
                if sum(self.end_offsets(name, partitions).values()) == 0:
                    return name
            except RuntimeError:
                pass        # still being deleted
            assert time.monotonic() - t0 < timeout, f"topic {name} not recreated within {timeout} s"
            time.sleep(0.5)

    def pid(self):
        with open(os.path.join(self.dir, "kafka.pid")) as f:
            return int(f.read())

    def committed(self, group, topic):
        """{partition: committed offset} of group on topic (absent: nothing committed)."""
        out = self.tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                        "--describe", "--group", group, "--offsets")
        got = {}
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 4 and f[0] == group and f[1] == topic and f[3].isdigit():
                got[int(f[2])] = int(f[3])
        return got

    def group_state(self, group):
        out = self.tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                        "--describe", "--group", group, "--state")
        for line in out.splitlines():
            f = line.split()
            if f and f[0] == group:
                return line
        return out

    def members(self, group):
        return self.tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                         "--describe", "--group", group, "--members")

    def end_offsets(self, topic, partitions):
        args = ["kcat", "-b", self.bootstrap, "-Q"]
        for p in range(partitions):
            args += ["-t", f"{topic}:{p}:-1"]
        out = _run(args, 60).stdout
        return {int(m.group(1)): int(m.group(2)) for m in re.finditer(r"\[(\d+)\] offset (\d+)", out)}


# ------------------------------------------------------------------ data

class Dataset:
    """flightgen lines with their manifest; line i is produced with key str(i). extra: more
    flightgen arguments (pylib.server.PAYMENTS_GEN for the payments example)."""

    def __init__(self, directory, rows, seed, malformed_pct=1.0, extra=()):
        self.path = os.path.join(directory, f"gen-{seed}.ndjson")
        self.manifest_path = self.path + ".manifest"
        with open(self.path, "wb") as f:
            subprocess.run([FLIGHTGEN, "--rows", str(rows), "--seed", str(seed), "--malformed-pct",
                            str(malformed_pct), "--manifest", self.manifest_path, *extra], stdout=f, check=True)
        with open(self.path, "rb") as f:
            self.lines = f.read().decode("utf-8", "surrogateescape").split("\n")
        if self.lines and self.lines[-1] == "":
            self.lines.pop()
        with open(self.manifest_path) as f:
            self.kinds = f.read().split()
        assert len(self.lines) == len(self.kinds) == rows, (len(self.lines), len(self.kinds), rows)
        assert not any("\t" in line for line in self.lines)
        self.ok = {i for i, k in enumerate(self.kinds) if k == "ok"}
        self.bad = {i for i, k in enumerate(self.kinds) if k != "ok"}

    def event_id(self, i):
        return json.loads(self.lines[i])["event_id"]

    def produce(self, bootstrap, topic, start=0, stop=None):
        """Produce lines[start:stop] with kcat, key = line number, idempotent producer."""
        stop = len(self.lines) if stop is None else stop
        fd, keyed = tempfile.mkstemp(suffix=".keyed", dir=os.path.dirname(self.path))
        with os.fdopen(fd, "wb") as f:
            for i in range(start, stop):
                f.write(f"{i}\t{self.lines[i]}\n".encode("utf-8", "surrogateescape"))
        try:
            produce_file(bootstrap, topic, keyed)
        finally:
            os.unlink(keyed)


def produce_file(bootstrap, topic, path, key_delim="\t", extra=()):
    r = _run(["kcat", "-P", "-b", bootstrap, "-t", topic, "-K", key_delim, "-l", "-X", "enable.idempotence=true",
              "-X", "linger.ms=20", *extra, path], 600)
    if "failed" in r.stderr.lower() and "retrying" not in r.stderr.lower():
        raise RuntimeError(f"kcat produce: {r.stderr}")


def consume(bootstrap, topic, fmt, timeout=600):
    """Every message of topic from the beginning to the current end, formatted by kcat -f."""
    return subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", fmt],
                          capture_output=True, timeout=timeout, check=True,
                          stdin=subprocess.DEVNULL).stdout.decode("utf-8", "surrogateescape")


def topic_index(bootstrap, topic):
    """{(partition, offset): key} of every message on topic, read with kcat."""
    got = {}
    for line in consume(bootstrap, topic, "%p\t%o\t%k\n").splitlines():
        p, o, k = line.split("\t")
        got[(int(p), int(o))] = k
    return got


DLQ_HEADERS = re.compile(r"^colibri-reason=(.*),colibri-id=(kafka:[^,]*)$", re.S)


def dlq_messages(bootstrap, topic):
    """[(key, reason, id, value)] of the dead-letter topic, read with kcat (headers via %h)."""
    out = []
    # \x1e / \x1f: separators that neither the payloads nor the reasons contain
    for rec in consume(bootstrap, topic, "%k\x1f%h\x1f%s\x1e").split("\x1e"):
        if not rec:
            continue
        k, h, v = rec.split("\x1f", 2)
        m = DLQ_HEADERS.match(h)
        assert m, f"dead-letter headers {h!r}"
        out.append((k, m.group(1), m.group(2), v))
    return out


ID = re.compile(r"^kafka:(.+)/(\d+)/(\d+)$")


def parse_id(_id, topic):
    m = ID.match(_id)
    assert m and m.group(1) == topic, _id
    return int(m.group(2)), int(m.group(3))


# ------------------------------------------------------------------ the database

def counts(db, table="flights"):
    """(rows, dead letters) now, read with Python's sqlite3 (read-only); (0, 0) before the tables exist."""
    if not os.path.exists(db):
        return 0, 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            return (con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0],
                    con.execute("SELECT count(*) FROM _dead_letters").fetchone()[0])
        finally:
            con.close()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return 0, 0
        raise


def query(db, q, *params):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(q, params).fetchall()
    finally:
        con.close()


def positions(db, topic):
    prefix = f"kafka:{topic}/"
    return {int(k[len(prefix):]): n for k, n in query(db, "SELECT key, next FROM _positions")
            if k.startswith(prefix)}


def wait_counts(db, rows, dead, timeout=180, stall=60, alive=(), table="flights"):
    """Wait until the table holds `rows` rows and `dead` dead letters; fail on a stall or a dead process."""
    t0 = last_change = time.monotonic()
    last = None
    while True:
        now = counts(db, table)
        if now == (rows, dead):
            return time.monotonic() - t0
        if now != last:
            last, last_change = now, time.monotonic()
        for p in alive:
            assert p.alive(), f"colibri exited with {p.proc.returncode}; log:\n{p.log_tail()}"
        assert now[0] <= rows and now[1] <= dead, f"more than expected: {now} > {(rows, dead)}"
        assert time.monotonic() - last_change < stall, f"no progress for {stall} s at {now}, want {(rows, dead)}"
        assert time.monotonic() - t0 < timeout, f"timeout at {now}, want {(rows, dead)}"
        time.sleep(0.2)


def wait_until(pred, timeout, what, interval=0.1):
    t0 = time.monotonic()
    while not pred():
        assert time.monotonic() - t0 < timeout, f"timed out after {timeout} s waiting for {what}"
        time.sleep(interval)


# ------------------------------------------------------------------ colibri

class Colibri:
    """`colibri serve` subscribed to a topic; stderr (text log) appended to log_path."""

    def __init__(self, db, subscribe, log_path, **env):
        self.db, self.subscribe, self.log_path, self.env = db, subscribe, log_path, env
        self.proc = None
        self.start()

    def start(self):
        # a restart keeps its port, as a deployment would: the static group member id
        # (colibri-<hostname>-<port>) is the same, so it gets its partitions back at once
        self.port = getattr(self, "port", None) or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = base_env(COLIBRI_STORE="sqlite:" + self.db, COLIBRI_SUBSCRIBE=self.subscribe,
                       COLIBRI_LISTEN=f"127.0.0.1:{self.port}", COLIBRI_LOG_LEVEL="info",
                       COLIBRI_LOG_FORMAT="text")
        env.update({k: str(v) for k, v in self.env.items()})
        self._log = open(self.log_path, "ab")
        self._log.write(f"==== start {time.strftime('%H:%M:%S')}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen([BIN, "serve"], env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log)
        wait_until(lambda: not self.alive() or self.status("/healthz") == 200, 15, "colibri /healthz")
        assert self.alive(), f"colibri exited with {self.proc.returncode}:\n{self.log_tail()}"
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def get(self, path, timeout=30):
        req = urllib.request.Request(self.url + path)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def status(self, path, timeout=5):
        try:
            return self.get(path, timeout)[0]
        except OSError:
            return 0

    def wait_assigned(self, timeout=60):
        wait_until(lambda: self.status("/readyz") == 200, timeout, "colibri /readyz 200 (assigned)", 0.2)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def kill(self, sig=signal.SIGKILL, timeout=15):
        """Signal it and wait; returns (exit code, seconds it took)."""
        t0 = time.monotonic()
        if self.alive():
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"colibri did not exit within {timeout} s of signal {sig}")
        finally:
            self._log.close()
        return rc, time.monotonic() - t0

    def restart(self):
        if self.alive():
            self.kill()
        return self.start()

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])
