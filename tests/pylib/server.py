"""colibri as the tests see it: the built binary (COLIBRI_BIN, FLIGHTGEN),
the environment it runs with, generated data, `colibri load`, a running
`colibri serve` on a free loopback port, and the sqlite3 shell as the
independent oracle. Read COLIBRI_BIN and FLIGHTGEN at import time: set them
before importing (scripts/chaos and scripts/soak do)."""
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

from pylib.ports import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.abspath(os.environ.get("COLIBRI_BIN", os.path.join(ROOT, "build/colibri")))
FLIGHTGEN = os.path.abspath(os.environ.get("FLIGHTGEN", os.path.join(ROOT, "build/flightgen")))
SCHEMA = os.path.join(ROOT, "schema/flights.json")
# the nested example of issue 18 (table payments, time column created_at); `flightgen --schema
# payments` writes its rows
PAYMENTS = os.path.join(ROOT, "schema/examples/payments.json")
PAYMENTS_ENV = {"COLIBRI_SCHEMA": PAYMENTS, "COLIBRI_EVENT_TIME": "created_at"}
PAYMENTS_GEN = ("--schema", "payments")
# How many times slower than the shipped build the binary under test may be: make coverage sets
# COLIBRI_TEST_TIME_FACTOR for its gcov-instrumented build. Only bounds on how fast colibri
# does its work are multiplied by it (slack()); the bounds colibri promises (Cloud Run's 10 s
# shutdown grace, a 401 before any body byte) are not.
TIME_FACTOR = max(1.0, float(os.environ.get("COLIBRI_TEST_TIME_FACTOR") or 1))


def slack(seconds):
    """A time bound on colibri's speed, for the binary under test (see TIME_FACTOR)."""
    return seconds * TIME_FACTOR


def base_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLIBRI_")}
    # test data is from 2026-01-01: no default BigQuery window unless a test asks for one
    env.update(COLIBRI_SCHEMA=SCHEMA, COLIBRI_LOG_LEVEL="warn", COLIBRI_HTTP_THREADS="2",
               COLIBRI_BQ_DEFAULT_WINDOW_H="0")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def generate(path, rows, seed=7, extra=()):
    with open(path, "wb") as f:
        subprocess.run([FLIGHTGEN, "--rows", str(rows), "--seed", str(seed), *extra], stdout=f, check=True)
    return path


def load(db, path, **env):
    return subprocess.run([BIN, "load", path], env=base_env(COLIBRI_STORE="sqlite:" + db, **env),
                          capture_output=True, text=True)


def sql(db, query):
    """Rows from the sqlite3 command-line shell, the independent oracle."""
    out = subprocess.run(["sqlite3", "-batch", "-noheader", db, query], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.split("\n") if line]


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class Server:
    def __init__(self, db, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [BIN, "serve"], env=base_env(COLIBRI_STORE="sqlite:" + db, COLIBRI_LISTEN=f"127.0.0.1:{self.port}", **env),
            stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if self.get("/healthz").status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("colibri did not start")

    def get(self, path, method="GET", data=None, headers=None):
        req = urllib.request.Request(self.url + path, method=method, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read())

    def stop(self, sig=signal.SIGTERM):
        """Stop it; returns the exit code and keeps what it logged in self.log."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.log = self.proc.stderr.read()
            rc = self.proc.wait(timeout=15)
        finally:
            self.proc.stderr.close()
        return rc
