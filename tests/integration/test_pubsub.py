"""Black-box tests of the Pub/Sub source and of POST /pubsub/push: the built
binary against two Pub/Sub servers, the sqlite3 file as the independent
oracle for what was stored, and a check, at every acknowledgement, that each
acked messageId was already in the table or in _dead_letters.

The servers (the `ps` fixture runs a test against each):
  fake    tests/fakes/pubsub_fake.py, our own reading of the REST API, with
          fault injection, a metadata server and an OIDC JWKS; it pushes
          to push subscriptions itself and checks every ack against SQLite;
  pstest  tests/fakes/pstest-rest: Google's in-memory server (pstest) behind
          the REST mapping, built by scripts/pstest-rest-up. Every Pub/Sub
          behaviour comes from pstest; the harness here adds only what
          Google's service does outside the API: push delivery (Pusher: pull,
          POST the push envelope with an OIDC token, ack on 2xx, else let the
          deadline expire) and the token keys. The ack check runs in the
          harness, called by the shim before it forwards an acknowledge.
Tests that need what only one server has (fault injection and tokens: the
fake; dead-letter policies, ordering keys: pstest) take that one.

PUBSUB_TEST_MESSAGES sets the size of the large runs (default 20,000; the
issue's 100,000 by hand: PUBSUB_TEST_MESSAGES=100000 make integration);
PSTEST_TEST_MESSAGES the crash-and-outage run against pstest (default 100,000).
"""
import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pylib.server import BIN, FLIGHTGEN, ROOT, base_env, free_port

FAKE = os.path.join(ROOT, "tests/fakes/pubsub_fake.py")
PSTEST_UP = os.path.join(ROOT, "scripts/pstest-rest-up")
sys.path.insert(0, os.path.dirname(FAKE))
from pubsub_fake import PUSH_OK, RsaKey  # noqa: E402  (the push token keys, shared with the fake)
N = int(os.environ.get("PUBSUB_TEST_MESSAGES", "20000"))
N_PSTEST = int(os.environ.get("PSTEST_TEST_MESSAGES", "100000"))
PROJECT = "colibri-test"
TOPIC = f"projects/{PROJECT}/topics/flights"
SUB = f"projects/{PROJECT}/subscriptions/colibri"
AUDIENCE = "https://colibri.example/pubsub/push"
PUSHER = "pusher@colibri-test.iam.gserviceaccount.com"


def http(method, url, body=None, headers=None, timeout=60, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Fake:
    """pubsub_fake.py as a child process on a free loopback port."""
    kind = "fake"

    def __init__(self, auth="none", pull_wait=2.0):
        self.proc = subprocess.Popen([os.environ.get("PYTHON", "python3"), FAKE, "--port", "0", "--auth", auth,
                                      "--pull-wait", str(pull_wait)], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.kill()
            raise RuntimeError("the Pub/Sub fake did not start")
        self.port = json.loads(line)["port"]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.token = None

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()

    def api(self, method, path, body=None, expect=200):
        headers = {}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        st, _, out = http(method, f"{self.url}/v1/{path}", body, headers)
        if st == 401 and self.token:    # the fake's tokens may be short-lived: get another
            self.token = self.metadata_token()
            return self.api(method, path, body, expect)
        assert st == expect, (st, out)
        return json.loads(out) if out else {}

    def admin(self, method, path, body=None):
        st, _, out = http(method, f"{self.url}/admin/{path}", body)
        assert st == 200, (st, out)
        return json.loads(out)

    def metadata_token(self):
        st, _, out = http("GET", f"{self.url}/computeMetadata/v1/instance/service-accounts/default/token",
                          headers={"Metadata-Flavor": "Google"})
        assert st == 200, out
        return json.loads(out)["access_token"]

    def stats(self):
        return self.admin("GET", "stats")

    def sub_stats(self, sub=SUB):
        return self.stats()["subscriptions"].get(sub, {})

    def setup(self, ack_deadline=10, push=None):
        self.api("PUT", TOPIC)
        body = {"topic": TOPIC, "ackDeadlineSeconds": ack_deadline}
        if push:
            body["pushConfig"] = push
        self.api("PUT", SUB, body)

    def publish(self, payloads, topic=TOPIC, ordering_keys=None):
        ids = []
        for i in range(0, len(payloads), 1000):
            msgs = [{"data": base64.b64encode(p).decode(), "attributes": {"n": str(i + k)}}
                    for k, p in enumerate(payloads[i:i + 1000])]
            if ordering_keys:
                for k, m in enumerate(msgs):
                    m["orderingKey"] = ordering_keys[i + k]
            ids += self.api("POST", topic + ":publish", {"messages": msgs})["messageIds"]
        return ids

    # what the tests ask of either server (Pstest has the same methods)
    def check(self, db):
        """Check every ack from now on against db."""
        self.admin("POST", "config", {"check_db": db})

    def ack_delay(self, ms):
        """Every acknowledge takes ms longer (0: no longer)."""
        if ms:
            self.admin("POST", "faults", {"rules": [{"op": "acknowledge", "delay_ms": ms}]})
        else:
            self.admin("DELETE", "faults")

    @property
    def jwks_url(self):
        return self.url + "/oauth2/v3/certs"

    def push_token(self, **claims):
        return self.admin("POST", "oidc/token", dict({"aud": AUDIENCE, "email": PUSHER}, **claims))["token"]

    def start_push(self, endpoint):
        """Push every message of SUB to endpoint from now on (the fake pushes itself)."""
        self.api("POST", SUB + ":modifyPushConfig", {"pushConfig": {
            "pushEndpoint": endpoint, "oidcToken": {"serviceAccountEmail": PUSHER, "audience": AUDIENCE}}})

    def push_stats(self):
        s = self.sub_stats()
        return {"ok": s.get("push_ok", 0), "failed": s.get("push_failed", 0)}


class AckCheck:
    """The ack-after-store oracle for pstest-rest (the fake has its own): each
    messageId about to be acknowledged must already be in the table or in
    _dead_letters of the SQLite file db."""

    def __init__(self):
        self.db, self.conn, self.delay_s = None, None, 0.0
        self.lock = threading.Lock()
        self.checks, self.violations = 0, []

    def __call__(self, ids):
        if self.delay_s:
            time.sleep(self.delay_s)
        with self.lock:
            if not self.db or not ids:
                return
            if self.conn is None:
                self.conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, check_same_thread=False,
                                            timeout=30)
            found = set()
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                for q in (f"SELECT _id FROM flights WHERE _id IN ({marks})",
                          f"SELECT id FROM _dead_letters WHERE id IN ({marks})"):
                    try:
                        found.update(r[0] for r in self.conn.execute(q, chunk))
                    except sqlite3.OperationalError:
                        pass        # no table yet: nothing is stored
            self.checks += len(ids)
            self.violations += [i for i in ids if i not in found]


class Harness(ThreadingHTTPServer):
    """What the pstest tests add beside pstest-rest, on a free loopback port:
    POST /ack-hook (the shim's --ack-hook: runs AckCheck before each
    acknowledge) and GET /oauth2/v3/certs (the JWKS of the push-token key,
    made per test)."""
    daemon_threads = True

    def __init__(self):
        self.check = AckCheck()
        self.key = RsaKey()
        super().__init__(("127.0.0.1", 0), HarnessHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)   # else: the shim's caller gave up waiting


class HarnessHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/ack-hook":
            body = json.loads(raw)
            if body.get("rpc", "acknowledge") == "acknowledge":
                self.server.check(body.get("messageIds") or [])
            return self._send(200, {})
        self._send(404, {})

    def do_GET(self):
        if self.path == "/oauth2/v3/certs":
            return self._send(200, {"keys": [self.server.key.jwk()]})
        self._send(404, {})


class Pusher:
    """What Pub/Sub does for a push subscription, over pstest: pull, POST each
    message to the endpoint as the push envelope with an OIDC token (RS256,
    iss https://accounts.google.com, aud, email), acknowledge on 102/200/201/
    202/204, and otherwise leave the message to its ack deadline, after which
    pstest delivers it again. Several requests in flight, as Pub/Sub does."""

    def __init__(self, ps, endpoint, threads=4):
        self.ps, self.endpoint = ps, endpoint
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = self.failed = 0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                # one at a time, as push delivers: none waits here while its deadline runs
                got = self.ps.api("POST", SUB + ":pull", {"maxMessages": 1}).get("receivedMessages", [])
            except (AssertionError, OSError):
                time.sleep(0.2)
                continue
            for rm in got:
                m = rm["message"]
                msg = dict(m, message_id=m["messageId"], publish_time=m["publishTime"])
                env = {"message": msg, "subscription": SUB}
                if "deliveryAttempt" in rm:
                    env["deliveryAttempt"] = rm["deliveryAttempt"]
                tok = self.ps.push_token()
                try:
                    st, _, _ = http("POST", self.endpoint, env, {"Authorization": "Bearer " + tok}, timeout=10)
                except OSError:
                    st = 0
                if st in PUSH_OK:
                    try:
                        self.ps.api("POST", SUB + ":acknowledge", {"ackIds": [rm["ackId"]]})
                    except (AssertionError, OSError):
                        pass        # not acked: pstest delivers it again after the deadline
                with self.lock:
                    if st in PUSH_OK:
                        self.ok += 1
                    else:
                        self.failed += 1

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)


class Pstest:
    """tests/fakes/pstest-rest (pstest behind the REST mapping) as a child
    process on a free loopback port, with its Harness."""
    kind = "pstest"

    def __init__(self, binary):
        self.harness = Harness()
        self.proc = subprocess.Popen([binary, "--port", "0", "--ack-hook", self.harness.url + "/ack-hook"],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.kill()
            self.harness.shutdown()
            raise RuntimeError("pstest-rest did not start")
        self.port = json.loads(line)["port"]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.pusher = None

    def close(self):
        if self.pusher:
            self.pusher.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.harness.shutdown()
        self.harness.server_close()

    def api(self, method, path, body=None, expect=200):
        st, _, out = http(method, f"{self.url}/v1/{path}", body)
        assert st == expect, (st, out)
        return json.loads(out) if out else {}

    def setup(self, ack_deadline=10, push=None, **fields):
        """The topic and SUB (a pull subscription: the Pusher does what a push one would)."""
        self.api("PUT", TOPIC)
        self.api("PUT", SUB, dict({"topic": TOPIC, "ackDeadlineSeconds": ack_deadline}, **fields))

    publish = Fake.publish

    def messages(self, topic=TOPIC):
        """pstest's own record of each message published to topic."""
        st, _, out = http("GET", f"{self.url}/admin/messages?topic={urllib.request.quote(topic)}")
        assert st == 200, out
        return json.loads(out)["messages"]

    def sub_stats(self, topic=TOPIC):
        """Counts from pstest's record (for the one subscription of topic)."""
        ms = self.messages(topic)
        return {"published": len(ms),
                "delivered": sum(m["deliveries"] for m in ms),
                "redelivered": sum(max(0, m["deliveries"] - 1) for m in ms),
                "acked": sum(1 for m in ms if m["acks"]),
                "unacked": sum(1 for m in ms if not m["acks"]),
                "extended": sum(1 for m in ms for d in m["modacks"] if d > 0),
                "nacked": sum(1 for m in ms for d in m["modacks"] if d == 0)}

    def stats(self):
        c = self.harness.check
        with c.lock:
            return {"ack_checks": c.checks, "ack_violations": len(c.violations), "violations": c.violations[:100]}

    def check(self, db):
        with self.harness.check.lock:
            self.harness.check.db, self.harness.check.conn = db, None

    def ack_delay(self, ms):
        self.harness.check.delay_s = ms / 1000.0

    @property
    def jwks_url(self):
        return self.harness.url + "/oauth2/v3/certs"

    def push_token(self, **claims):
        now = int(time.time())
        c = {"aud": AUDIENCE, "azp": "1" + "0" * 20, "email": PUSHER, "email_verified": True, "exp": now + 3600,
             "iat": now, "iss": "https://accounts.google.com", "sub": "1" + "0" * 20}
        c.update(claims)
        return self.harness.key.sign_jwt(c)

    def start_push(self, endpoint):
        self.pusher = Pusher(self, endpoint)

    def push_stats(self):
        with self.pusher.lock:
            return {"ok": self.pusher.ok, "failed": self.pusher.failed}


class Colibri:
    """colibri serve as a child process; its log goes to a file (a pipe could fill and block it)."""

    def __init__(self, db, log, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.log = open(log, "a")
        clean = {"COLIBRI_PUSH": "on", **{k: v for k, v in env.items() if v is not None}}
        e = base_env(COLIBRI_STORE="sqlite:" + db, COLIBRI_LISTEN=f"127.0.0.1:{self.port}",
                     COLIBRI_LOG_FORMAT="text", **clean)
        for k in ("PUBSUB_EMULATOR_HOST", "GCE_METADATA_HOST", "GOOGLE_APPLICATION_CREDENTIALS"):
            if k not in clean:
                e.pop(k, None)
        self.proc = subprocess.Popen([BIN, "serve"], env=e, stderr=self.log, stdout=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"colibri exited {self.proc.returncode}:\n{self.tail()}")
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop(signal.SIGKILL)
        raise RuntimeError("colibri did not start:\n" + self.tail())

    def get(self, path, timeout=30):
        return http("GET", self.url + path, timeout=timeout)

    def post(self, path, body=None, raw=None, headers=None, timeout=30):
        return http("POST", self.url + path, body, headers, timeout, raw)

    def tail(self, n=40):
        with open(self.log_path) as f:
            return "".join(f.readlines()[-n:])

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.log.close()


def flights(n, seed, malformed_pct=0):
    """n NDJSON lines from flightgen and, per line, whether it is valid."""
    with tempfile.TemporaryDirectory() as d:
        manifest = os.path.join(d, "manifest")
        out = subprocess.run([FLIGHTGEN, "--rows", str(n), "--seed", str(seed), "--malformed-pct", str(malformed_pct),
                              "--manifest", manifest], capture_output=True, check=True).stdout
        ok = [line.strip() == "ok" for line in open(manifest)]
    lines = out.split(b"\n")[:n]
    assert len(lines) == n == len(ok)
    return lines, ok


def stored(db):
    """(rows, dead letters) in db, read-only."""
    if not os.path.exists(db):
        return 0, 0
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = c.execute("SELECT count(*) FROM flights").fetchone()[0]
        dead = c.execute("SELECT count(*) FROM _dead_letters").fetchone()[0]
        return rows, dead
    except sqlite3.OperationalError:
        return 0, 0
    finally:
        c.close()


def ids_in(db):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return ({r[0] for r in c.execute("SELECT _id FROM flights")},
                {r[0] for r in c.execute("SELECT id FROM _dead_letters")})
    finally:
        c.close()


def wait_for(cond, timeout, what, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"colibri exited {proc.proc.returncode} while waiting for {what}:\n{proc.tail()}")
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}"
                         + (f"\n{proc.tail()}" if proc is not None else ""))


def metric(colibri, name, **labels):
    body = colibri.get("/metrics")[2].decode()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith(name + " ") and not want:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture
def fake():
    f = Fake()
    yield f
    f.close()


@pytest.fixture(scope="session")
def pstest_bin():
    """Build pstest-rest on first use (cached under $COLIBRI_CACHE; needs Go, see the script)."""
    r = subprocess.run([PSTEST_UP], capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, f"scripts/pstest-rest-up failed:\n{r.stderr}"
    return r.stdout.strip().splitlines()[-1]


@pytest.fixture
def pstest(pstest_bin):
    s = Pstest(pstest_bin)
    yield s
    s.close()


@pytest.fixture(params=["fake", "pstest"])
def ps(request):
    """Each Pub/Sub server in turn."""
    s = Fake() if request.param == "fake" else Pstest(request.getfixturevalue("pstest_bin"))
    yield s
    s.close()


@pytest.fixture
def tmp(tmp_path):
    return str(tmp_path)


# ---- pull ------------------------------------------------------------------------------

def test_pull_all_once_under_faults_and_expiring_tokens(tmp):
    """The non-emulator path (Bearer tokens from a metadata server) under 429/503
    bursts, random failures, slow responses and tokens that die early: every
    message arrives once, and nothing is acked before it is stored."""
    f = Fake(auth="token")
    colibri = None
    try:
        f.token = f.metadata_token()
        f.setup(ack_deadline=10)
        lines, ok = flights(N, seed=11, malformed_pct=1)
        ids = f.publish(lines)
        db = os.path.join(tmp, "pull.db")
        f.admin("POST", "config", {"check_db": db, "token_ttl_s": 4, "token_expires_in_s": 3599})
        f.admin("POST", "faults", {"rules": [
            {"op": "getSubscription", "status": 503, "count": 2},
            {"op": "token", "status": 503, "count": 2},
            {"op": "pull", "status": 503, "count": 15},
            {"op": "pull", "status": 429, "count": 6, "retry_after": 1},
            {"op": "acknowledge", "status": 503, "count": 10},
            {"op": "acknowledge", "status": 429, "count": 10},
            {"op": "modifyAckDeadline", "status": 503, "count": 5},
            {"op": "pull", "delay_ms": 1500, "count": 3},
            {"op": "acknowledge", "delay_ms": 1500, "count": 3},
            {"op": "*", "status": 503, "probability": 0.03},
        ]})
        colibri = Colibri(db, os.path.join(tmp, "pull.log"), COLIBRI_SUBSCRIBE="pubsub://" + SUB,
                          COLIBRI_PUBSUB_ENDPOINT=f.url, GCE_METADATA_HOST=f.host)
        want_rows, want_dead = sum(ok), N - sum(ok)
        revoked = threading.Event()

        def progress():
            rows, dead = stored(db)
            if not revoked.is_set() and rows > want_rows // 3:
                f.admin("POST", "revoke")       # every token dies mid-run
                revoked.set()
            return rows + dead >= N
        wait_for(progress, 120 + N / 200, f"{N} messages stored", colibri)
        wait_for(lambda: f.sub_stats().get("unacked", 1) == 0, 60, "every message acked", colibri)

        rows, dead = stored(db)
        assert (rows, dead) == (want_rows, want_dead)
        got_rows, got_dead = ids_in(db)
        assert got_rows | got_dead == set(ids), "a published message is missing from the store"
        assert got_rows == {i for i, good in zip(ids, ok) if good}
        st = f.stats()
        print({k: st.get(k) for k in ("published", "delivered", "redelivered", "expired", "acked", "ack_checks",
                                      "ack_violations", "faults_injected", "auth_failures", "tokens_issued")})
        assert st.get("ack_violations", 0) == 0, st["violations"]
        assert st["ack_checks"] >= N
        assert st["faults_injected"] >= 50
        assert st.get("auth_failures", 0) > 0 and st["tokens_issued"] >= 3, st
        assert revoked.is_set()
        assert metric(colibri, "colibri_upstream_errors_total", api="pubsub", kind="transient") > 0
        assert colibri.get("/readyz")[0] == 200
        assert colibri.stop() == 0, colibri.tail()
    finally:
        if colibri:
            colibri.stop(signal.SIGKILL)
        f.close()


def test_sigkill_mid_run_loses_nothing(ps, tmp):
    """colibri killed mid-run: what it held unacked comes back after the ack
    deadline, and the store absorbs what it had stored but not acked."""
    ps.setup(ack_deadline=10)
    lines, _ = flights(N, seed=12)
    ids = ps.publish(lines)
    db = os.path.join(tmp, "kill.db")
    ps.check(db)
    ps.ack_delay(300)   # slow acks widen the window between "stored" and "acked" that the kill lands in
    env = dict(COLIBRI_SUBSCRIBE="pubsub://" + SUB, PUBSUB_EMULATOR_HOST=ps.host)
    c = Colibri(db, os.path.join(tmp, "kill.log"), **env)
    try:
        wait_for(lambda: stored(db)[0] >= N // 4, 60 + N / 500, "a quarter stored", c)
        c.stop(signal.SIGKILL)
        before = ps.sub_stats()
        assert before["delivered"] > before["acked"], before    # it held messages it never acked
        assert stored(db)[0] < N
        ps.ack_delay(0)
        c = Colibri(db, os.path.join(tmp, "kill.log"), **env)
        wait_for(lambda: stored(db)[0] >= N, 90 + N / 300, "all stored after the restart", c)
        wait_for(lambda: ps.sub_stats().get("unacked", 1) == 0, 60, "every message acked", c)
        assert stored(db) == (N, 0)
        assert ids_in(db)[0] == set(ids)
        st, sub = ps.stats(), ps.sub_stats()
        print(ps.kind, sub, {k: st.get(k) for k in ("ack_checks", "ack_violations")},
              "acked before the kill:", before.get("acked"))
        assert sub["redelivered"] > 0, sub      # the killed process's messages came again
        assert st.get("ack_violations", 0) == 0, st["violations"]
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_slow_store_extends_ack_deadlines(ps, tmp):
    """A batch held longer than the ack deadline (the store is locked for 3x
    the deadline) is not redelivered: colibri extends its messages' deadlines."""
    ps.setup(ack_deadline=10)
    db = os.path.join(tmp, "slow.db")
    c = Colibri(db, os.path.join(tmp, "slow.log"), COLIBRI_SUBSCRIBE="pubsub://" + SUB,
                PUBSUB_EMULATOR_HOST=ps.host)
    try:
        ps.check(db)
        lines, _ = flights(500, seed=13)
        first = ps.publish(lines[:10])
        wait_for(lambda: stored(db)[0] == 10, 30, "the first messages", c)
        lock = sqlite3.connect(db, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            rest = ps.publish(lines[10:])
            wait_for(lambda: ps.sub_stats()["delivered"] >= 500, 30, "colibri pulled the rest", c)
            time.sleep(30)                      # three ack deadlines
            assert ps.sub_stats()["acked"] == 10
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        wait_for(lambda: stored(db)[0] == 500, 60, "the rest stored after the outage", c)
        wait_for(lambda: ps.sub_stats().get("unacked", 1) == 0, 30, "every message acked", c)
        s = ps.sub_stats()
        assert s.get("expired", 0) == 0 and s.get("redelivered", 0) == 0, s
        assert s.get("extended", 0) >= 490, s
        assert ids_in(db)[0] == set(first + rest)
        assert ps.stats().get("ack_violations", 0) == 0
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_shutdown_gives_back_what_it_could_not_store(ps, tmp):
    """SIGTERM while the store is locked: nothing is acked, the held messages
    are nacked at once (not left to their deadline), and a second run stores them."""
    ps.setup(ack_deadline=60)
    db = os.path.join(tmp, "nack.db")
    env = dict(COLIBRI_SUBSCRIBE="pubsub://" + SUB, PUBSUB_EMULATOR_HOST=ps.host)
    c = Colibri(db, os.path.join(tmp, "nack.log"), **env)
    lines, _ = flights(300, seed=14)
    try:
        wait_for(lambda: c.get("/readyz")[0] == 200, 20, "ready", c)
        lock = sqlite3.connect(db, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            ids = ps.publish(lines)
            wait_for(lambda: ps.sub_stats()["delivered"] >= 300, 30, "colibri pulled them", c)
            t0 = time.time()
            # subscriber.c gives up on the batch after a 5 s budget of backoff sleeps (each
            # store attempt also waits out SQLite's 5 s busy timeout): well over Cloud Run's 10 s
            assert c.stop(timeout=120) == 0
            assert time.time() - t0 < 120
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        s = ps.sub_stats()
        # >= : a message nacked by the dropped batch may be pulled once more before close gives it back
        assert s.get("acked", 0) == 0 and s.get("nacked", 0) >= 300 and s.get("outstanding", 0) == 0, s
        t0 = time.time()
        c = Colibri(db, os.path.join(tmp, "nack.log"), **env)
        wait_for(lambda: stored(db)[0] == 300, 30, "stored by the second run", c)
        assert time.time() - t0 < 30    # well within the 60 s deadline: they were given back
        assert ids_in(db)[0] == set(ids)
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_dead_letters_also_published_to_the_dlq_topic(ps, tmp):
    """COLIBRI_DLQ_TOPIC: each rejected message is published there (its data as
    received, the reason and id as attributes) before its batch is acked."""
    ps.setup(ack_deadline=10)
    ps.api("PUT", f"projects/{PROJECT}/topics/flights-dlq")
    dlq_sub = f"projects/{PROJECT}/subscriptions/dlq-reader"
    ps.api("PUT", dlq_sub, {"topic": f"projects/{PROJECT}/topics/flights-dlq"})
    lines, ok = flights(400, seed=15, malformed_pct=10)
    db = os.path.join(tmp, "dlq.db")
    ids = ps.publish(lines)
    bad = {i for i, good in zip(ids, ok) if not good}
    if ps.kind == "fake":
        ps.admin("POST", "faults", {"rules": [{"op": "publish", "status": 503, "count": 3}]})
    c = Colibri(db, os.path.join(tmp, "dlq.log"), COLIBRI_SUBSCRIBE="pubsub://" + SUB,
                PUBSUB_EMULATOR_HOST=ps.host, COLIBRI_DLQ_TOPIC="flights-dlq")
    try:
        wait_for(lambda: sum(stored(db)) == 400, 60, "all stored", c)
        if ps.kind == "fake":
            assert ps.stats()["faults_publish"] == 3      # the dead-letter publish was retried
            ps.admin("DELETE", "faults")
        msgs = []
        deadline = time.time() + 10
        while len(msgs) < len(bad) and time.time() < deadline:
            got = ps.api("POST", dlq_sub + ":pull", {"maxMessages": 1000, "returnImmediately": True})
            msgs += [m["message"] for m in got.get("receivedMessages", [])]
        assert {m["attributes"]["colibri-id"] for m in msgs} == bad and len(msgs) == len(bad) > 0
        by_id = dict(zip(ids, lines))
        for m in msgs:
            assert base64.b64decode(m["data"]) == by_id[m["attributes"]["colibri-id"]]
            assert m["attributes"]["colibri-reason"]
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_missing_subscription_is_a_clear_error(ps, tmp):
    ps.api("PUT", TOPIC)
    db = os.path.join(tmp, "missing.db")
    env = base_env(COLIBRI_STORE="sqlite:" + db, COLIBRI_SUBSCRIBE="pubsub://" + SUB,
                   PUBSUB_EMULATOR_HOST=ps.host, COLIBRI_LOG_FORMAT="text")
    r = subprocess.run([BIN, "check-config"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "not found" in r.stderr and SUB in r.stderr, r.stderr
    r = subprocess.run([BIN, "serve", "--listen", f"127.0.0.1:{free_port()}"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "not found" in r.stderr, r.stderr
    bad = base_env(COLIBRI_STORE="sqlite:" + db, COLIBRI_SUBSCRIBE="pubsub://projects/p/topics/t",
                   PUBSUB_EMULATOR_HOST=ps.host)
    r = subprocess.run([BIN, "check-config"], env=bad, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "pubsub://projects/PROJECT/subscriptions/NAME" in r.stderr, r.stderr


def test_check_config_describes_the_subscription(ps, tmp):
    ps.setup(ack_deadline=42)
    env = base_env(COLIBRI_STORE="sqlite:" + os.path.join(tmp, "cc.db"), COLIBRI_SUBSCRIBE="pubsub://" + SUB,
                   PUBSUB_EMULATOR_HOST=ps.host)
    r = subprocess.run([BIN, "check-config"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"subscription {SUB} of topic {TOPIC}, ack deadline 42 s" in r.stdout, r.stdout


# ---- push -------------------------------------------------------------------------------

def envelope(payload, mid, data=None):
    return {"message": {"data": data if data is not None else base64.b64encode(payload).decode(),
                        "attributes": {"k": "v"}, "messageId": mid, "message_id": mid,
                        "publishTime": "2026-03-01T12:00:00.123456789Z",
                        "publish_time": "2026-03-01T12:00:00.123456789Z"},
            "subscription": SUB}


def push_server(db, log, jwks_url):
    """colibri for push: POST /pubsub/push on, tokens for AUDIENCE from PUSHER, keys at jwks_url."""
    c = Colibri(db, log, COLIBRI_PUSH="on", COLIBRI_PUSH_AUDIENCE=AUDIENCE, COLIBRI_PUSH_JWKS_URL=jwks_url,
                COLIBRI_PUSH_SERVICE_ACCOUNT=PUSHER)
    c.db = db
    return c


@pytest.fixture
def push_colibri(fake, tmp):
    c = push_server(os.path.join(tmp, "push.db"), os.path.join(tmp, "push.log"), fake.jwks_url)
    yield c
    try:        # a clean stop (which also writes an instrumented build's coverage)
        assert c.stop() == 0, c.tail()
    finally:
        c.stop(signal.SIGKILL)


def token(fake, **claims):
    return fake.push_token(**claims)


def test_push_end_to_end(ps, tmp):
    """Every message of a push subscription is pushed to colibri (OIDC token
    included: by the fake itself, or by the Pusher over pstest): valid ones are
    stored, malformed ones dead-lettered, all acknowledged with 204 and none retried."""
    c = push_server(os.path.join(tmp, "push.db"), os.path.join(tmp, "push.log"), ps.jwks_url)
    try:
        ps.setup(ack_deadline=10)
        ps.check(c.db)
        ps.start_push(c.url + "/pubsub/push")
        lines, ok = flights(300, seed=21, malformed_pct=5)
        ids = ps.publish(lines)
        wait_for(lambda: ps.push_stats()["ok"] >= 300, 60, "300 pushes acknowledged", c)
        wait_for(lambda: ps.sub_stats()["unacked"] == 0, 20, "all acknowledged", c)
        rows, dead = stored(c.db)
        assert (rows, dead) == (sum(ok), 300 - sum(ok)) and dead > 0
        got_rows, got_dead = ids_in(c.db)
        assert got_rows == {i for i, good in zip(ids, ok) if good}
        assert got_dead == {i for i, good in zip(ids, ok) if not good}
        assert ps.push_stats()["failed"] == 0 and ps.sub_stats().get("redelivered", 0) == 0
        assert ps.stats().get("ack_violations", 0) == 0 and ps.stats()["ack_checks"] >= 300
        assert sqlite3.connect(c.db).execute("SELECT DISTINCT _source FROM flights").fetchall() == [("push",)]
        assert metric(c, "colibri_http_requests_total", route="/pubsub/push", code="204") >= 300
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_push_refused_while_the_store_is_down_comes_again(ps, tmp):
    """colibri answers 503 while the store is locked; Pub/Sub does not count
    that as an ack and delivers the message again (pstest: after its ack
    deadline; the fake: after its push backoff); it is then stored once."""
    c = push_server(os.path.join(tmp, "push503.db"), os.path.join(tmp, "push503.log"), ps.jwks_url)
    try:
        ps.setup(ack_deadline=10)
        ps.check(c.db)
        lines, _ = flights(5, seed=26)     # each refusal waits out SQLite's 5 s busy timeout
        assert c.post("/pubsub/push", envelope(lines[0], "warm-up"),
                      headers={"Authorization": "Bearer " + ps.push_token()})[0] == 204
        lock = sqlite3.connect(c.db, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            ps.start_push(c.url + "/pubsub/push")
            ids = ps.publish(lines[1:])
            wait_for(lambda: ps.push_stats()["failed"] >= 4, 60, "4 pushes refused", c)
            assert ps.sub_stats().get("acked", 0) == 0
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        wait_for(lambda: ps.sub_stats()["unacked"] == 0, 60, "all delivered again and acknowledged", c)
        s = ps.sub_stats()
        assert s["redelivered"] >= 4, s
        assert ids_in(c.db)[0] == set(ids) | {"warm-up"}
        assert stored(c.db) == (5, 0)
        assert ps.stats().get("ack_violations", 0) == 0
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_push_answers(fake, push_colibri):
    c = push_colibri
    lines, _ = flights(3, seed=22)
    good = {"Authorization": "Bearer " + token(fake)}

    st, _, _ = c.post("/pubsub/push", envelope(lines[0], "push-1"), headers=good)
    assert st == 204
    row = json.loads(c.get("/data/push-1")[2])
    assert row["_source"] == "push" and row["_published_at"] == "2026-03-01T12:00:00.123456Z"
    assert c.post("/pubsub/push", envelope(lines[0], "push-1"), headers=good)[0] == 204   # a redelivery

    # a payload that can never be stored is dead-lettered, and acknowledged
    for mid, env in (("push-bad-json", envelope(b"not json", "push-bad-json")),
                     ("push-bad-row", envelope(b'{"event_id": 1}', "push-bad-row")),
                     ("push-bad-b64", envelope(b"", "push-bad-b64", data="%%%"))):
        assert c.post("/pubsub/push", env, headers=good)[0] == 204, mid
    assert stored(c.db) == (1, 3)

    # an envelope that is not one: 400, nothing stored
    for raw in (b"not json", b"[]", b'{"subscription": "x"}', b'{"message": {"data": ""}}', b'{"message": "x"}'):
        st, _, body = c.post("/pubsub/push", raw=raw, headers=good)
        assert st == 400 and json.loads(body)["error"]["code"] == "invalid_envelope", raw
    assert c.get("/pubsub/push")[0] == 405

    # tokens: missing or not verifying → 401
    now = int(time.time())
    bad = {
        "missing": None,
        "not a bearer": "Basic dXNlcjpwYXNz",
        "garbage": "Bearer not.a.jwt",
        "wrong audience": "Bearer " + token(fake, aud="https://elsewhere.example/"),
        "expired": "Bearer " + token(fake, exp=now - 600, iat=now - 4200),
        "wrong issuer": "Bearer " + token(fake, iss="https://evil.example"),
        "wrong email": "Bearer " + token(fake, email="someone@else.iam.gserviceaccount.com"),
        "unverified email": "Bearer " + token(fake, email_verified=False),
        "foreign key": "Bearer " + token(fake, sign_with="foreign"),
        "unknown kid": "Bearer " + token(fake, kid="no-such-key"),
        "alg none": "Bearer " + token(fake, alg="none"),
    }
    for what, authz in bad.items():
        st, hdrs, body = c.post("/pubsub/push", envelope(lines[1], "push-denied"),
                                headers={"Authorization": authz} if authz else {})
        assert st == 401, (what, st, body)
        assert json.loads(body)["error"]["status"] == 401
    assert c.get("/data/push-denied")[0] == 404

    # a new signing key is picked up (the JWKS is fetched again for an unknown kid)
    fake.admin("POST", "oidc/rotate", {"drop_old": True})
    time.sleep(5.5)     # colibri refetches for an unknown kid at most every 5 s
    st, _, body = c.post("/pubsub/push", envelope(lines[2], "push-rotated"),
                         headers={"Authorization": "Bearer " + token(fake)})
    assert st == 204, body


def test_push_store_outage_is_503_then_stored(fake, push_colibri):
    c = push_colibri
    lines, _ = flights(1, seed=23)
    good = {"Authorization": "Bearer " + token(fake)}
    assert c.post("/pubsub/push", envelope(lines[0], "warm-up"), headers=good)[0] == 204
    lock = sqlite3.connect(c.db, timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")      # another process holds the write lock
    try:
        t0 = time.time()
        st, hdrs, body = c.post("/pubsub/push", envelope(lines[0], "during-outage"), headers=good)
        took = time.time() - t0
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert st == 503, body
    assert hdrs["Retry-After"]
    assert 4 <= took < 15, took         # the store's 5 s busy timeout
    assert c.get("/data/during-outage")[0] == 404
    assert c.post("/pubsub/push", envelope(lines[0], "during-outage"), headers=good)[0] == 204
    assert c.get("/data/during-outage")[0] == 200


def test_push_without_audience_takes_no_token(fake, tmp):
    db = os.path.join(tmp, "open.db")
    c = Colibri(db, os.path.join(tmp, "open.log"), COLIBRI_PUSH="on")
    try:
        lines, _ = flights(1, seed=24)
        assert c.post("/pubsub/push", envelope(lines[0], "open-1"))[0] == 204
        assert stored(db) == (1, 0)
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_push_is_off_by_default(tmp):
    """Without COLIBRI_PUSH=on the route does not exist, whatever the body: nobody can post rows."""
    db = os.path.join(tmp, "off.db")
    c = Colibri(db, os.path.join(tmp, "off.log"), COLIBRI_PUSH="off")
    try:
        lines, _ = flights(1, seed=25)
        st, _, body = c.post("/pubsub/push", envelope(lines[0], "off-1"))
        assert st == 404 and json.loads(body)["error"]["code"] == "not_found"
        assert stored(db) == (0, 0)
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_push_keys_unreachable_is_503(fake, tmp):
    """Without the token keys colibri cannot tell a good token from a bad one:
    503, so Pub/Sub retries, rather than 401."""
    db = os.path.join(tmp, "nokeys.db")
    c = Colibri(db, os.path.join(tmp, "nokeys.log"), COLIBRI_PUSH="on", COLIBRI_PUSH_AUDIENCE=AUDIENCE,
                COLIBRI_PUSH_JWKS_URL=f"http://127.0.0.1:{free_port()}/oauth2/v3/certs")
    try:
        lines, _ = flights(1, seed=25)
        st, _, body = c.post("/pubsub/push", envelope(lines[0], "nokeys-1"),
                             headers={"Authorization": "Bearer " + token(fake)})
        assert st == 503, body
        assert stored(db) == (0, 0)
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_the_ack_check_catches_an_early_ack(ps, tmp):
    """The check the pull tests rely on can fail: an ack of a message that is
    not in the table (nor in _dead_letters) is recorded as a violation."""
    ps.setup()
    db = os.path.join(tmp, "oracle.db")
    sqlite3.connect(db).executescript("CREATE TABLE flights (_id TEXT PRIMARY KEY);"
                                      "CREATE TABLE _dead_letters (id TEXT PRIMARY KEY);"
                                      "INSERT INTO flights VALUES ('x');")
    ps.check(db)
    ids = ps.publish([b"{}", b"{}"])
    sqlite3.connect(db).execute("INSERT INTO _dead_letters VALUES (?)", (ids[0],)).connection.commit()
    got = []
    deadline = time.time() + 10
    while len(got) < 2 and time.time() < deadline:
        got += ps.api("POST", SUB + ":pull", {"maxMessages": 10, "returnImmediately": True}).get("receivedMessages", [])
    ps.api("POST", SUB + ":acknowledge", {"ackIds": [m["ackId"] for m in got]})
    st = ps.stats()
    assert st["ack_checks"] == 2 and st["ack_violations"] == 1 and st["violations"] == [ids[1]], st


# ---- what only a faithful server can judge (pstest) -------------------------------------

def by_id(msgs):
    return {m["id"]: m for m in msgs}


def test_slow_store_and_slow_acks_redelivered_stored_once(pstest, tmp):
    """Two ways a message outlives its ack deadline, judged by pstest's own
    record of each message:
    1. the store is slower than the deadline (locked for 2.5 deadlines): colibri
       extends the deadline of every message it holds, so none is delivered twice;
    2. the messages are stored but their acknowledgements take longer than the
       deadline (12 s each, past colibri's 10 s request timeout; colibri does not
       extend a message whose ack is in flight): pstest lets the deadlines lapse
       and delivers them again under new ack ids, ignoring acks with the old
       ones; each row is stored once, under the message id, and every message
       ends acked."""
    ps = pstest
    ps.setup(ack_deadline=10)
    db = os.path.join(tmp, "slow.db")
    ps.check(db)
    c = Colibri(db, os.path.join(tmp, "slow.log"), COLIBRI_SUBSCRIBE="pubsub://" + SUB,
                PUBSUB_EMULATOR_HOST=ps.host)
    try:
        lines, _ = flights(600, seed=31)
        first = ps.publish(lines[:10])
        wait_for(lambda: stored(db)[0] == 10, 30, "the first messages", c)

        # 1. a slow store
        lock = sqlite3.connect(db, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            held = ps.publish(lines[10:300])
            wait_for(lambda: ps.sub_stats()["delivered"] >= 300, 30, "colibri pulled them", c)
            time.sleep(25)
            rec = by_id(ps.messages())
            early = [rec[i] for i in held if rec[i]["acks"]]
            assert not early, f"acked while the store was locked: {early[:5]}\n{c.tail()}"
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        wait_for(lambda: stored(db)[0] == 300, 60, "stored after the slow write", c)
        wait_for(lambda: ps.sub_stats()["unacked"] == 0, 30, "acked", c)
        rec = by_id(ps.messages())
        twice = [rec[i] for i in held if rec[i]["deliveries"] != 1]
        assert not twice, f"delivered twice while held: {len(twice)}, {twice[:5]}\n{c.tail()}"
        unextended = [rec[i] for i in held if not any(d > 0 for d in rec[i]["modacks"])]
        assert not unextended, f"held without an extension: {len(unextended)}, {unextended[:5]}\n{c.tail()}"
        assert all(rec[i]["acks"] == 1 for i in first + held)

        # 2. slow acknowledgements
        ps.ack_delay(12000)
        again = ps.publish(lines[300:])
        wait_for(lambda: ps.sub_stats()["redelivered"] >= 300, 60, "pstest delivered them again", c)
        ps.ack_delay(0)
        wait_for(lambda: ps.sub_stats()["unacked"] == 0, 90, "every message acked", c)
        rec = by_id(ps.messages())
        assert all(rec[i]["deliveries"] >= 2 for i in again), "not delivered again"
        assert stored(db) == (600, 0)
        assert ids_in(db)[0] == set(first + held + again)
        st = ps.stats()
        assert st["ack_violations"] == 0 and st["ack_checks"] >= 600, st
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_dead_letter_policy_beside_colibris_dead_letters(pstest, tmp):
    """A subscription with a dead-letter policy (max 5 delivery attempts):
    malformed messages are colibri's dead letters (_dead_letters, acked on
    their first delivery, never forwarded by Pub/Sub); messages colibri could
    not store through 5 deliveries (the store locked, colibri stopped each
    time: it gives them back) are forwarded by pstest to the dead-letter topic
    and never reach colibri again. Every message ends in exactly one place."""
    ps = pstest
    dlt = f"projects/{PROJECT}/topics/flights-dead"
    ps.api("PUT", dlt)
    ps.setup(ack_deadline=10, deadLetterPolicy={"deadLetterTopic": dlt, "maxDeliveryAttempts": 5})
    dlt_reader = f"projects/{PROJECT}/subscriptions/dead-reader"
    ps.api("PUT", dlt_reader, {"topic": dlt})
    db = os.path.join(tmp, "dlp.db")
    ps.check(db)
    env = dict(COLIBRI_SUBSCRIBE="pubsub://" + SUB, PUBSUB_EMULATOR_HOST=ps.host)
    lines, ok = flights(300, seed=32, malformed_pct=10)
    c = Colibri(db, os.path.join(tmp, "dlp.log"), **env)
    try:
        ids = ps.publish(lines[:250])
        wait_for(lambda: sum(stored(db)) == 250, 60, "250 stored or dead-lettered", c)
        wait_for(lambda: ps.sub_stats()["unacked"] == 0, 30, "acked", c)

        # messages that cannot be stored: each run pulls them, cannot write them and gives them back
        lock = sqlite3.connect(db, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            poison = ps.publish(lines[250:])
            for attempt in range(1, 6):
                if attempt > 1:
                    c = Colibri(db, os.path.join(tmp, "dlp.log"), **env)
                wait_for(lambda: all(by_id(ps.messages())[i]["deliveries"] >= attempt for i in poison), 30,
                         f"delivery attempt {attempt}", c)
                assert c.stop(timeout=60) == 0
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        c = Colibri(db, os.path.join(tmp, "dlp.log"), **env)
        forwarded = []
        deadline = time.time() + 30
        while len(forwarded) < len(poison) and time.time() < deadline:
            got = ps.api("POST", dlt_reader + ":pull", {"maxMessages": 100, "returnImmediately": True})
            forwarded += got.get("receivedMessages", [])
            time.sleep(0.2)
        time.sleep(2)       # colibri pulls on: nothing of the poison reaches it now
        rows, dead = ids_in(db)
        good = {i for i, g in zip(ids, ok[:250]) if g}
        assert rows == good and dead == set(ids) - good and dead
        assert sorted(m["message"]["messageId"] for m in forwarded) == sorted(poison)
        by_mid = dict(zip(poison, lines[250:]))
        assert all(base64.b64decode(m["message"]["data"]) == by_mid[m["message"]["messageId"]] for m in forwarded)
        assert not (set(poison) & (rows | dead)), "a forwarded message was also stored"
        rec = by_id(ps.messages())
        assert all(rec[i]["deliveries"] == 1 and rec[i]["acks"] == 1 for i in ids), \
            "colibri's own dead letters must be acked at once, not left to the policy"
        assert all(rec[i]["deliveries"] == 5 for i in poison)
        assert ps.stats()["ack_violations"] == 0
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_ordering_keys_stored_in_publish_order(pstest, tmp):
    """With message ordering on, pstest hands out a key's next message only
    after the previous one is acked: the rows of each key are stored (rowid
    order) in publish order, across a SIGKILL that makes pstest deliver the
    held messages again."""
    ps = pstest
    ps.setup(ack_deadline=10, enableMessageOrdering=True)
    keys = [f"aircraft-{k}" for k in range(10)]
    n = 200
    lines, _ = flights(n, seed=33)
    order = [keys[i % len(keys)] for i in range(n)]
    db = os.path.join(tmp, "order.db")
    ps.check(db)
    env = dict(COLIBRI_SUBSCRIBE="pubsub://" + SUB, PUBSUB_EMULATOR_HOST=ps.host)
    ids = ps.publish(lines, ordering_keys=order)
    c = Colibri(db, os.path.join(tmp, "order.log"), **env)
    try:
        wait_for(lambda: stored(db)[0] >= n // 3, 60, "a third stored", c)
        c.stop(signal.SIGKILL)
        c = Colibri(db, os.path.join(tmp, "order.log"), **env)
        wait_for(lambda: stored(db)[0] == n, 120, "all stored", c)
        wait_for(lambda: ps.sub_stats()["unacked"] == 0, 30, "all acked", c)
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rowid = dict(conn.execute("SELECT _id, rowid FROM flights").fetchall())
        conn.close()
        for k in keys:
            published = [i for i, key in zip(ids, order) if key == k]
            assert sorted(published, key=rowid.get) == published, f"rows of {k} stored out of publish order"
        # _published_at is pstest's publishTime (RFC 3339 with 0-9 fraction digits) to the microsecond
        for m in ps.messages()[:20]:
            head, _, frac = m["publishTime"].rstrip("Z").partition(".")
            row = json.loads(c.get("/data/" + m["id"])[2])
            assert row["_published_at"] == f"{head}.{(frac + '000000')[:6]}Z", (m, row["_published_at"])
        assert ps.stats()["ack_violations"] == 0
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_crashes_and_a_store_outage_exactly_once(pstest, tmp):
    """N_PSTEST messages (100,000 by default); colibri SIGKILLed three times
    and the store locked for 8 s in between: every message stored exactly once
    (rows and dead letters together are exactly the published ids), every one
    acked, none acked before its row was stored (checked at each acknowledge)."""
    ps = pstest
    n = N_PSTEST
    ps.setup(ack_deadline=10)
    lines, ok = flights(n, seed=34, malformed_pct=1)
    t0 = time.time()
    ids = ps.publish(lines)
    db = os.path.join(tmp, "crash.db")
    ps.check(db)
    env = dict(COLIBRI_SUBSCRIBE="pubsub://" + SUB, PUBSUB_EMULATOR_HOST=ps.host)
    c = Colibri(db, os.path.join(tmp, "crash.log"), **env)
    try:
        for frac in (0.2, 0.45):
            wait_for(lambda: sum(stored(db)) >= n * frac, 120, f"{frac:.0%} stored", c)
            c.stop(signal.SIGKILL)
            c = Colibri(db, os.path.join(tmp, "crash.log"), **env)
        wait_for(lambda: sum(stored(db)) >= n * 0.6, 120, "60% stored", c)
        lock = sqlite3.connect(db, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            time.sleep(8)
            before = sum(stored(db))
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        wait_for(lambda: sum(stored(db)) >= min(n, before + n * 0.1), 120, "stored after the outage", c)
        c.stop(signal.SIGKILL)
        c = Colibri(db, os.path.join(tmp, "crash.log"), **env)
        wait_for(lambda: sum(stored(db)) >= n, 180, "all stored", c)
        wait_for(lambda: ps.sub_stats()["unacked"] == 0, 60, "all acked", c)
        took = time.time() - t0
        rows, dead = ids_in(db)
        assert stored(db) == (sum(ok), n - sum(ok))
        assert rows | dead == set(ids) and not rows & dead
        assert rows == {i for i, g in zip(ids, ok) if g}
        s, st = ps.sub_stats(), ps.stats()
        print(f"{n} messages, 3 kills and an outage: {took:.0f} s", s, {k: st[k] for k in ("ack_checks", "ack_violations")})
        assert s["redelivered"] > 0, s
        assert st["ack_violations"] == 0, st["violations"]
        assert st["ack_checks"] >= n
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)
