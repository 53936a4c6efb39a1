"""Black-box tests of the Pub/Sub source and of POST /pubsub/push: the built
binary against tests/fakes/pubsub_fake.py (a fake of Google's Pub/Sub REST
API, a metadata server and an OIDC JWKS, with fault injection), the sqlite3
file as the independent oracle for what was stored, and the fake's own
check, at every acknowledgement, that each acked messageId was already in
the table or in _dead_letters.

PUBSUB_TEST_MESSAGES sets the size of the large runs (default 20,000; the
issue's 100,000 by hand: PUBSUB_TEST_MESSAGES=100000 make integration).
"""
import base64
import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

from pylib.server import BIN, FLIGHTGEN, ROOT, base_env, free_port

FAKE = os.path.join(ROOT, "tests/fakes/pubsub_fake.py")
N = int(os.environ.get("PUBSUB_TEST_MESSAGES", "20000"))
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

    def publish(self, payloads):
        ids = []
        for i in range(0, len(payloads), 1000):
            msgs = [{"data": base64.b64encode(p).decode(), "attributes": {"n": str(i + k)}}
                    for k, p in enumerate(payloads[i:i + 1000])]
            ids += self.api("POST", TOPIC + ":publish", {"messages": msgs})["messageIds"]
        return ids


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


def test_sigkill_mid_run_loses_nothing(fake, tmp):
    """colibri killed mid-run: what it held unacked comes back after the ack
    deadline, and the store absorbs what it had stored but not acked."""
    fake.setup(ack_deadline=10)
    lines, _ = flights(N, seed=12)
    ids = fake.publish(lines)
    db = os.path.join(tmp, "kill.db")
    fake.admin("POST", "config", {"check_db": db})
    # slow acks widen the window between "stored" and "acked" that the kill lands in
    fake.admin("POST", "faults", {"rules": [{"op": "acknowledge", "delay_ms": 300}]})
    env = dict(COLIBRI_SUBSCRIBE="pubsub://" + SUB, PUBSUB_EMULATOR_HOST=fake.host)
    c = Colibri(db, os.path.join(tmp, "kill.log"), **env)
    try:
        wait_for(lambda: stored(db)[0] >= N // 4, 60 + N / 500, "a quarter stored", c)
        c.stop(signal.SIGKILL)
        before = fake.sub_stats()
        assert before["outstanding"] > 0, before    # it held messages it never acked
        assert stored(db)[0] < N
        fake.admin("DELETE", "faults")
        c = Colibri(db, os.path.join(tmp, "kill.log"), **env)
        wait_for(lambda: stored(db)[0] >= N, 90 + N / 300, "all stored after the restart", c)
        wait_for(lambda: fake.sub_stats().get("unacked", 1) == 0, 60, "every message acked", c)
        assert stored(db) == (N, 0)
        assert ids_in(db)[0] == set(ids)
        st = fake.stats()
        print({k: st.get(k) for k in ("published", "delivered", "redelivered", "expired", "acked", "ack_checks",
                                      "ack_violations")}, "stored before the kill:", before.get("acked"))
        assert st["redelivered"] > 0, st        # the killed process's messages came again
        assert st.get("ack_violations", 0) == 0, st["violations"]
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_slow_store_extends_ack_deadlines(fake, tmp):
    """A batch held longer than the ack deadline (the store is locked for 3x
    the deadline) is not redelivered: colibri extends its messages' deadlines."""
    fake.setup(ack_deadline=10)
    db = os.path.join(tmp, "slow.db")
    c = Colibri(db, os.path.join(tmp, "slow.log"), COLIBRI_SUBSCRIBE="pubsub://" + SUB,
                PUBSUB_EMULATOR_HOST=fake.host)
    try:
        fake.admin("POST", "config", {"check_db": db})
        lines, _ = flights(500, seed=13)
        first = fake.publish(lines[:10])
        wait_for(lambda: stored(db)[0] == 10, 30, "the first messages", c)
        lock = sqlite3.connect(db, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            rest = fake.publish(lines[10:])
            wait_for(lambda: fake.sub_stats()["delivered"] >= 500, 30, "colibri pulled the rest", c)
            time.sleep(30)                      # three ack deadlines
            assert fake.sub_stats()["acked"] == 10
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        wait_for(lambda: stored(db)[0] == 500, 60, "the rest stored after the outage", c)
        wait_for(lambda: fake.sub_stats().get("unacked", 1) == 0, 30, "every message acked", c)
        s = fake.sub_stats()
        assert s.get("expired", 0) == 0 and s.get("redelivered", 0) == 0, s
        assert s.get("extended", 0) >= 490, s
        assert ids_in(db)[0] == set(first + rest)
        assert fake.stats().get("ack_violations", 0) == 0
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_shutdown_gives_back_what_it_could_not_store(fake, tmp):
    """SIGTERM while the store is locked: nothing is acked, the held messages
    are nacked at once (not left to their deadline), and a second run stores them."""
    fake.setup(ack_deadline=60)
    db = os.path.join(tmp, "nack.db")
    env = dict(COLIBRI_SUBSCRIBE="pubsub://" + SUB, PUBSUB_EMULATOR_HOST=fake.host)
    c = Colibri(db, os.path.join(tmp, "nack.log"), **env)
    lines, _ = flights(300, seed=14)
    try:
        wait_for(lambda: c.get("/readyz")[0] == 200, 20, "ready", c)
        lock = sqlite3.connect(db, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            ids = fake.publish(lines)
            wait_for(lambda: fake.sub_stats()["delivered"] >= 300, 30, "colibri pulled them", c)
            t0 = time.time()
            # subscriber.c gives up on the batch after a 5 s budget of backoff sleeps (each
            # store attempt also waits out SQLite's 5 s busy timeout): well over Cloud Run's 10 s
            assert c.stop(timeout=120) == 0
            assert time.time() - t0 < 120
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        s = fake.sub_stats()
        # >= : a message nacked by the dropped batch may be pulled once more before close gives it back
        assert s.get("acked", 0) == 0 and s.get("nacked", 0) >= 300 and s["outstanding"] == 0, s
        c = Colibri(db, os.path.join(tmp, "nack.log"), **env)
        wait_for(lambda: stored(db)[0] == 300, 30, "stored by the second run", c)
        assert ids_in(db)[0] == set(ids)
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_dead_letters_also_published_to_the_dlq_topic(fake, tmp):
    """COLIBRI_DLQ_TOPIC: each rejected message is published there (its data as
    received, the reason and id as attributes) before its batch is acked."""
    fake.setup(ack_deadline=10)
    fake.api("PUT", f"projects/{PROJECT}/topics/flights-dlq")
    dlq_sub = f"projects/{PROJECT}/subscriptions/dlq-reader"
    fake.api("PUT", dlq_sub, {"topic": f"projects/{PROJECT}/topics/flights-dlq"})
    lines, ok = flights(400, seed=15, malformed_pct=10)
    db = os.path.join(tmp, "dlq.db")
    ids = fake.publish(lines)
    bad = {i for i, good in zip(ids, ok) if not good}
    fake.admin("POST", "faults", {"rules": [{"op": "publish", "status": 503, "count": 3}]})
    c = Colibri(db, os.path.join(tmp, "dlq.log"), COLIBRI_SUBSCRIBE="pubsub://" + SUB,
                PUBSUB_EMULATOR_HOST=fake.host, COLIBRI_DLQ_TOPIC="flights-dlq")
    try:
        wait_for(lambda: sum(stored(db)) == 400, 60, "all stored", c)
        assert fake.stats()["faults_publish"] == 3      # the dead-letter publish was retried
        fake.admin("DELETE", "faults")
        got = fake.api("POST", dlq_sub + ":pull", {"maxMessages": 1000, "returnImmediately": True})
        msgs = [m["message"] for m in got.get("receivedMessages", [])]
        assert {m["attributes"]["colibri-id"] for m in msgs} == bad and len(msgs) == len(bad) > 0
        by_id = dict(zip(ids, lines))
        for m in msgs:
            assert base64.b64decode(m["data"]) == by_id[m["attributes"]["colibri-id"]]
            assert m["attributes"]["colibri-reason"]
        assert c.stop() == 0
    finally:
        c.stop(signal.SIGKILL)


def test_missing_subscription_is_a_clear_error(fake, tmp):
    fake.api("PUT", TOPIC)
    db = os.path.join(tmp, "missing.db")
    env = base_env(COLIBRI_STORE="sqlite:" + db, COLIBRI_SUBSCRIBE="pubsub://" + SUB,
                   PUBSUB_EMULATOR_HOST=fake.host, COLIBRI_LOG_FORMAT="text")
    r = subprocess.run([BIN, "check-config"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "not found" in r.stderr and SUB in r.stderr, r.stderr
    r = subprocess.run([BIN, "serve", "--listen", f"127.0.0.1:{free_port()}"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "not found" in r.stderr, r.stderr
    bad = base_env(COLIBRI_STORE="sqlite:" + db, COLIBRI_SUBSCRIBE="pubsub://projects/p/topics/t",
                   PUBSUB_EMULATOR_HOST=fake.host)
    r = subprocess.run([BIN, "check-config"], env=bad, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "pubsub://projects/PROJECT/subscriptions/NAME" in r.stderr, r.stderr


def test_check_config_describes_the_subscription(fake, tmp):
    fake.setup(ack_deadline=42)
    env = base_env(COLIBRI_STORE="sqlite:" + os.path.join(tmp, "cc.db"), COLIBRI_SUBSCRIBE="pubsub://" + SUB,
                   PUBSUB_EMULATOR_HOST=fake.host)
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


@pytest.fixture
def push_colibri(fake, tmp):
    db = os.path.join(tmp, "push.db")
    c = Colibri(db, os.path.join(tmp, "push.log"), COLIBRI_PUSH_AUDIENCE=AUDIENCE,
                COLIBRI_PUSH_JWKS_URL=fake.url + "/oauth2/v3/certs", COLIBRI_PUSH_SERVICE_ACCOUNT=PUSHER)
    c.db = db
    yield c
    c.stop(signal.SIGKILL)


def token(fake, **claims):
    base = {"aud": AUDIENCE, "email": PUSHER}
    base.update(claims)
    return fake.admin("POST", "oidc/token", base)["token"]


def test_push_end_to_end_from_the_fake(fake, push_colibri):
    """The fake pushes every message of a push subscription (OIDC token
    included) to colibri: valid ones are stored, malformed ones dead-lettered,
    all acknowledged with 204 and none retried."""
    c = push_colibri
    fake.setup(ack_deadline=10, push={"pushEndpoint": c.url + "/pubsub/push",
                                      "oidcToken": {"serviceAccountEmail": PUSHER, "audience": AUDIENCE}})
    fake.admin("POST", "config", {"check_db": c.db})
    lines, ok = flights(300, seed=21, malformed_pct=5)
    ids = fake.publish(lines)
    wait_for(lambda: fake.sub_stats().get("push_ok", 0) >= 300, 60, "300 pushes acknowledged", c)
    rows, dead = stored(c.db)
    assert (rows, dead) == (sum(ok), 300 - sum(ok)) and dead > 0
    got_rows, got_dead = ids_in(c.db)
    assert got_rows == {i for i, good in zip(ids, ok) if good}
    assert got_dead == {i for i, good in zip(ids, ok) if not good}
    s = fake.sub_stats()
    assert s.get("push_failed", 0) == 0 and s["unacked"] == 0, s
    assert fake.stats().get("ack_violations", 0) == 0
    assert sqlite3.connect(c.db).execute("SELECT DISTINCT _source FROM flights").fetchall() == [("push",)]
    assert metric(c, "colibri_http_requests_total", route="/pubsub/push", code="204") >= 300


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
    c = Colibri(db, os.path.join(tmp, "open.log"))
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
    c = Colibri(db, os.path.join(tmp, "nokeys.log"), COLIBRI_PUSH_AUDIENCE=AUDIENCE,
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


def test_the_fakes_ack_oracle_catches_an_early_ack(fake, tmp):
    """The check the pull tests rely on can fail: an ack of a message that is
    not in the table (nor in _dead_letters) is recorded as a violation."""
    fake.setup()
    db = os.path.join(tmp, "oracle.db")
    sqlite3.connect(db).executescript("CREATE TABLE flights (_id TEXT PRIMARY KEY);"
                                      "CREATE TABLE _dead_letters (id TEXT PRIMARY KEY);"
                                      "INSERT INTO flights VALUES ('x');")
    fake.admin("POST", "config", {"check_db": db})
    ids = fake.publish([b"{}", b"{}"])
    sqlite3.connect(db).execute("INSERT INTO _dead_letters VALUES (?)", (ids[0],)).connection.commit()
    got = fake.api("POST", SUB + ":pull", {"maxMessages": 10, "returnImmediately": True})["receivedMessages"]
    fake.api("POST", SUB + ":acknowledge", {"ackIds": [m["ackId"] for m in got]})
    st = fake.stats()
    assert st["ack_checks"] == 2 and st["ack_violations"] == 1 and st["violations"] == [ids[1]], st
