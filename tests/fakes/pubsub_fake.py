#!/usr/bin/env python3
"""pubsub_fake.py — a small fake of Google Cloud Pub/Sub's REST API (v1), for
black-box tests. Standard library only (RS256 keys for push tokens come from
the `cryptography` package when it is installed, else from the openssl CLI).

What it models, after https://cloud.google.com/pubsub/docs/reference/rest:
  PUT    /v1/projects/P/topics/T                          create a topic (409 if it exists)
  GET    /v1/projects/P/topics/T
  DELETE /v1/projects/P/topics/T
  POST   /v1/projects/P/topics/T:publish                  {"messages":[{"data","attributes","orderingKey"}]}
  PUT    /v1/projects/P/subscriptions/S                   {"topic","ackDeadlineSeconds","pushConfig"}
  GET    /v1/projects/P/subscriptions/S
  DELETE /v1/projects/P/subscriptions/S
  POST   /v1/projects/P/subscriptions/S:pull              {"maxMessages","returnImmediately"}
  POST   /v1/projects/P/subscriptions/S:acknowledge       {"ackIds"}
  POST   /v1/projects/P/subscriptions/S:modifyAckDeadline {"ackIds","ackDeadlineSeconds"} (0 = nack)
  POST   /v1/projects/P/subscriptions/S:modifyPushConfig  {"pushConfig"}
Semantics: a message published to a topic goes to every subscription that
exists then; it is outstanding from delivery until its ack deadline, then
delivered again with a new ackId (an ack with the old one is ignored, as
Google does); a pull with returnImmediately false waits up to pull_wait_s for
a message; a push subscription POSTs the documented envelope
{"message":{"attributes","data","messageId","message_id","publishTime",
"publish_time"},"subscription"} to its endpoint, one message at a time, with
an OIDC token (iss https://accounts.google.com, aud, email, RS256, kid) in
Authorization when pushConfig.oidcToken is set; 102/200/201/202/204 ack it,
anything else (or a timeout) redelivers it after an exponential backoff.
Errors use Google's envelope {"error":{"code","message","status"}}; an unknown
field in a publish, pull, acknowledge or modifyAckDeadline body is a 400, as
Google's REST front end (protojson) answers.

Also served, on the same port:
  GET /computeMetadata/v1/instance/service-accounts/default/token  (Metadata-Flavor: Google)
      a GCE metadata server: {"access_token","expires_in","token_type"}
  GET /oauth2/v3/certs     the JWKS of the push-token signing keys
Authentication: auth "none" (what PUBSUB_EMULATOR_HOST clients expect:
http, the Authorization header ignored) or "token": every API call needs a
Bearer token issued by the metadata endpoint above and still valid on the
server (token_ttl_s, which may be shorter than the expires_in announced to
the client: a token "expiring mid-run"), else 401 UNAUTHENTICATED.

Admin (not Google's API), for tests:
  GET  /admin/stats                     counters, per subscription too
  POST /admin/faults {"rules":[{"op","status","count","probability","delay_ms","retry_after"}]}
       op: publish pull acknowledge modifyAckDeadline getSubscription createTopic
           createSubscription token push * ; status 0 = only delay (a slow response)
  DELETE /admin/faults
  POST /admin/config {"pull_wait_s","auth","token_ttl_s","token_expires_in_s",
                      "check_db","check_table","push_backoff_max_s"}
       check_db: an SQLite file; every ack (pull or push) is checked against it:
       each acked messageId must already be in check_table._id or in
       _dead_letters.id, else it is recorded as an ack violation
  POST /admin/revoke                    every access token issued so far stops working
  POST /admin/oidc/token {claims…, "sign_with":"current"|"foreign", "kid", "alg"}  → {"token"}
  POST /admin/oidc/rotate {"drop_old"}  a new signing key (and kid)
What it does not model: StreamingPull/gRPC, ordering keys, exactly-once
delivery, filters, dead-letter policies, retry policies (a subscription that
asks for one of these is refused with 501 UNIMPLEMENTED: tests of them run
against tests/fakes/pstest-rest, Google's pstest), seek/snapshots,
schemas, message retention/expiry, flow control of push (one request at a
time per subscription), IAM (any valid token may do anything).

Run: python3 pubsub_fake.py [--port 0] [--auth none|token] [--pull-wait 5]
It prints {"port": N} on one line once it listens on 127.0.0.1.
"""
import argparse
import base64
import binascii
import collections
import hashlib
import json
import os
import random
import re
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$")
PROJECT_RE = re.compile(r"^[A-Za-z0-9\-.:]{1,100}$")
PUSH_OK = {102, 200, 201, 202, 204}
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
                503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
# subscription settings whose behaviour the fake does not model: refused rather than ignored, so
# that no test passes against the fake by silently getting an ordinary subscription
UNMODELLED = ("deadLetterPolicy", "enableMessageOrdering", "retryPolicy", "filter", "enableExactlyOnceDelivery")
MAX_PUBLISH_MESSAGES = 1000
MAX_PUBLISH_BYTES = 10 * 1000 * 1000
MAX_PULL = 1000


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def rfc3339_nanos(ns):
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%09dZ" % frac


class ApiError(Exception):
    def __init__(self, code, message, retry_after=None):
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after


# ---- RS256 keys for push tokens -------------------------------------------------

class RsaKey:
    """An RSA key pair that signs with RS256: cryptography if installed, else openssl."""

    def __init__(self):
        self.kid = secrets.token_hex(20)
        try:
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding, rsa
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self._sign = lambda data: self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
            nums = self._key.public_key().public_numbers()
            self.n, self.e = nums.n, nums.e
        except ImportError:
            self._dir = tempfile.mkdtemp(prefix="pubsub-fake-key-")
            self._pem = os.path.join(self._dir, "key.pem")
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                            "-out", self._pem], check=True, capture_output=True)
            out = subprocess.run(["openssl", "rsa", "-in", self._pem, "-noout", "-modulus"], check=True,
                                 capture_output=True, text=True).stdout
            self.n, self.e = int(out.strip().split("=", 1)[1], 16), 65537
            self._sign = lambda data: subprocess.run(["openssl", "dgst", "-sha256", "-sign", self._pem],
                                                     input=data, check=True, capture_output=True).stdout

    def jwk(self):
        def enc(i):
            return b64url(i.to_bytes((i.bit_length() + 7) // 8, "big"))
        return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid, "n": enc(self.n), "e": enc(self.e)}

    def sign_jwt(self, claims, kid=None, alg="RS256"):
        head = {"alg": alg, "kid": kid or self.kid, "typ": "JWT"}
        signing_input = (b64url(json.dumps(head, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        sig = self._sign(signing_input.encode()) if alg == "RS256" else b""
        return signing_input + "." + b64url(sig)


# ---- state ---------------------------------------------------------------------

class Message:
    __slots__ = ("id", "data", "attributes", "publish_time", "deliveries", "acked", "ack_id", "deadline",
                 "not_before", "push_attempt")

    def __init__(self, mid, data, attributes, publish_time):
        self.id, self.data, self.attributes, self.publish_time = mid, data, attributes, publish_time
        self.deliveries, self.acked, self.ack_id, self.deadline = 0, False, None, 0.0
        self.not_before, self.push_attempt = 0.0, 0

    def resource(self):
        m = {"data": self.data, "messageId": self.id, "publishTime": self.publish_time}
        if self.attributes:
            m["attributes"] = self.attributes
        return m


class Subscription:
    def __init__(self, name, topic, ack_deadline, push_config):
        self.name, self.topic, self.ack_deadline, self.push_config = name, topic, ack_deadline, push_config or {}
        self.messages = {}                      # id -> Message, until acked
        self.available = collections.deque()    # ids ready for delivery
        self.outstanding = {}                   # ackId -> Message
        self.acked_ids = set()
        self.stats = collections.Counter()
        self.pusher = None

    def resource(self):
        return {"name": self.name, "topic": self.topic, "pushConfig": self.push_config,
                "ackDeadlineSeconds": self.ack_deadline, "messageRetentionDuration": "604800s",
                "expirationPolicy": {"ttl": "2678400s"}, "state": "ACTIVE"}


class Fake:
    def __init__(self, auth="none", pull_wait_s=5.0):
        self.cv = threading.Condition()
        self.topics = {}            # name -> [subscription names]
        self.subs = {}
        self.next_id = int(time.time() * 1000) * 1000
        self.stats = collections.Counter()
        self.faults = []
        self.cfg = {"auth": auth, "pull_wait_s": pull_wait_s, "token_ttl_s": 3600, "token_expires_in_s": 3599,
                    "check_db": None, "check_table": "flights", "push_backoff_max_s": 2.0}
        self.tokens = {}            # token -> server-side expiry (monotonic)
        self.violations = []
        self.keys = [RsaKey()]
        self.foreign_key = None
        self.stop = threading.Event()
        self._db = None
        self._db_lock = threading.Lock()
        threading.Thread(target=self._reaper, daemon=True).start()

    # -- ack deadlines -----------------------------------------------------------
    def _reaper(self):
        while not self.stop.wait(0.05):
            now = time.monotonic()
            with self.cv:
                woke = False
                for sub in self.subs.values():
                    expired = [a for a, m in sub.outstanding.items() if m.deadline <= now]
                    for a in expired:
                        m = sub.outstanding.pop(a)
                        m.ack_id = None
                        sub.available.append(m.id)
                        sub.stats["expired"] += 1
                        self.stats["expired"] += 1
                        woke = True
                if woke:
                    self.cv.notify_all()

    def _deliver(self, sub, m, now):
        """Lease m under a fresh ackId; the caller holds cv."""
        m.deliveries += 1
        if m.deliveries > 1:
            sub.stats["redelivered"] += 1
            self.stats["redelivered"] += 1
        sub.stats["delivered"] += 1
        self.stats["delivered"] += 1
        m.ack_id = "%s-%d-%s" % (m.id, m.deliveries, secrets.token_urlsafe(12))
        m.deadline = now + sub.ack_deadline
        sub.outstanding[m.ack_id] = m
        return m.ack_id

    def _take_available(self, sub, limit, now, push=False):
        out = []
        skipped = []
        while sub.available and len(out) < limit:
            mid = sub.available.popleft()
            m = sub.messages.get(mid)
            if m is None or m.acked or m.ack_id is not None:
                continue
            if push and m.not_before > now:
                skipped.append(mid)
                continue
            out.append(m)
        sub.available.extendleft(reversed(skipped))
        return out

    def _ack(self, sub, m):
        """The caller holds cv."""
        sub.outstanding.pop(m.ack_id, None)
        m.acked, m.ack_id = True, None
        sub.messages.pop(m.id, None)
        sub.acked_ids.add(m.id)
        sub.stats["acked"] += 1
        self.stats["acked"] += 1

    # -- the ack-after-store oracle ------------------------------------------------
    def check_stored(self, ids):
        path = self.cfg.get("check_db")
        if not path or not ids:
            return
        with self._db_lock:
            if self._db is None or self._db[0] != path:
                conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True, check_same_thread=False, timeout=30)
                self._db = (path, conn)
            conn = self._db[1]
            table = self.cfg.get("check_table") or "flights"
            found = set()
            ids = list(ids)
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                for q in ('SELECT _id FROM "%s" WHERE _id IN (%s)' % (table, marks),
                          "SELECT id FROM _dead_letters WHERE id IN (%s)" % marks):
                    try:
                        found.update(r[0] for r in conn.execute(q, chunk))
                    except sqlite3.OperationalError:
                        pass    # table not created yet: nothing is stored
            missing = [i for i in ids if i not in found]
            self.stats["ack_checks"] += len(ids)
            if missing:
                self.stats["ack_violations"] += len(missing)
                self.violations.extend(missing[:1000 - len(self.violations)] if len(self.violations) < 1000 else [])

    # -- faults --------------------------------------------------------------------
    def fault_for(self, op):
        """(status, delay_s, retry_after) of the first matching rule, consuming one of its count."""
        with self.cv:
            for r in self.faults:
                if r.get("op", "*") not in ("*", op):
                    continue
                if r.get("count") is not None and r["count"] <= 0:
                    continue
                if random.random() >= float(r.get("probability", 1.0)):
                    continue
                if r.get("count") is not None:
                    r["count"] -= 1
                self.stats["faults_injected"] += 1
                self.stats["faults_" + op] += 1
                return int(r.get("status", 0)), float(r.get("delay_ms", 0)) / 1000.0, r.get("retry_after")
        return 0, 0.0, None

    # -- auth ------------------------------------------------------------------------
    def issue_token(self):
        tok = "ya29.fake-" + secrets.token_urlsafe(24)
        with self.cv:
            self.tokens[tok] = time.monotonic() + float(self.cfg["token_ttl_s"])
            self.stats["tokens_issued"] += 1
        return {"access_token": tok, "expires_in": int(self.cfg["token_expires_in_s"]), "token_type": "Bearer"}

    def check_auth(self, header):
        if self.cfg["auth"] == "none":
            return
        tok = header[7:] if header and header.startswith("Bearer ") else None
        with self.cv:
            exp = self.tokens.get(tok)
            ok = exp is not None and exp > time.monotonic()
            if not ok:
                self.stats["auth_failures"] += 1
        if not ok:
            raise ApiError(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                                "login cookie or other valid authentication credential.")

    def push_token(self, sub):
        oidc = sub.push_config.get("oidcToken")
        if not oidc:
            return None
        now = int(time.time())
        claims = {"aud": oidc.get("audience") or sub.push_config.get("pushEndpoint"),
                  "azp": "1" + "0" * 20, "email": oidc.get("serviceAccountEmail", ""), "email_verified": True,
                  "exp": now + 3600, "iat": now, "iss": "https://accounts.google.com", "sub": "1" + "0" * 20}
        return self.keys[-1].sign_jwt(claims)

    # -- resources -------------------------------------------------------------------
    def create_topic(self, name):
        with self.cv:
            if name in self.topics:
                raise ApiError(409, "Resource already exists in the project (resource=%s)." % name.split("/")[-1])
            self.topics[name] = []
        return {"name": name}

    def get_topic(self, name):
        with self.cv:
            if name not in self.topics:
                raise ApiError(404, "Resource not found (resource=%s)." % name.split("/")[-1])
        return {"name": name}

    def delete_topic(self, name):
        with self.cv:
            if self.topics.pop(name, None) is None:
                raise ApiError(404, "Resource not found (resource=%s)." % name.split("/")[-1])
            for s in self.subs.values():
                if s.topic == name:
                    s.topic = "_deleted-topic_"
        return {}

    def create_subscription(self, name, body):
        topic = body.get("topic")
        if not isinstance(topic, str):
            raise ApiError(400, "Invalid resource name given (name=%s)." % topic)
        dl = body.get("ackDeadlineSeconds", 10) or 10
        if not isinstance(dl, int) or not 10 <= dl <= 600:
            raise ApiError(400, "Invalid ackDeadlineSeconds: must be between 10 and 600.")
        push = body.get("pushConfig") or {}
        unmodelled = [k for k in UNMODELLED if body.get(k)]
        if unmodelled:
            raise ApiError(501, "pubsub_fake.py does not model %s; use tests/fakes/pstest-rest (Google's pstest)"
                           % ", ".join(unmodelled))
        with self.cv:
            if name in self.subs:
                raise ApiError(409, "Resource already exists in the project (resource=%s)." % name.split("/")[-1])
            if topic not in self.topics:
                raise ApiError(404, "Resource not found (resource=%s)." % topic.split("/")[-1])
            sub = Subscription(name, topic, dl, push)
            self.subs[name] = sub
            self.topics[topic].append(name)
            self._start_pusher(sub)
            return sub.resource()

    def get_subscription(self, name):
        with self.cv:
            return self._sub(name).resource()

    def delete_subscription(self, name):
        with self.cv:
            sub = self.subs.pop(self._sub(name).name)
            if sub.topic in self.topics:
                self.topics[sub.topic].remove(name)
            self.cv.notify_all()
        return {}

    def modify_push_config(self, name, body):
        with self.cv:
            sub = self._sub(name)
            sub.push_config = body.get("pushConfig") or {}
            self._start_pusher(sub)
        return {}

    def _sub(self, name):
        sub = self.subs.get(name)
        if sub is None:
            raise ApiError(404, "Resource not found (resource=%s)." % name.split("/")[-1])
        return sub

    # -- messages --------------------------------------------------------------------
    def publish(self, topic, body):
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise ApiError(400, "The value for message_count is too small. You passed 0 in the request, "
                                "but the minimum value is 1.")
        if len(msgs) > MAX_PUBLISH_MESSAGES:
            raise ApiError(400, "The value for message_count is too large. You passed %d in the request, "
                                "but the maximum value is 1000." % len(msgs))
        size = 0
        for m in msgs:
            data, attrs = m.get("data", ""), m.get("attributes") or {}
            if not data and not attrs:
                raise ApiError(400, "Some messages are empty: each message must contain non-empty data, "
                                    "or at least one attribute.")
            try:
                size += len(base64.b64decode(data, validate=True))
            except (binascii.Error, ValueError, TypeError):
                raise ApiError(400, "Invalid value at 'messages[0].data' (TYPE_BYTES), Base64 decoding failed.")
        if size > MAX_PUBLISH_BYTES:
            raise ApiError(400, "Request payload size exceeds the limit: 10000000 bytes.")
        ids = []
        with self.cv:
            if topic not in self.topics:
                raise ApiError(404, "Resource not found (resource=%s)." % topic.split("/")[-1])
            for m in msgs:
                self.next_id += 1
                mid = str(self.next_id)
                pt = rfc3339_nanos(time.time_ns())
                for sname in self.topics[topic]:
                    sub = self.subs[sname]
                    sub.messages[mid] = Message(mid, m.get("data", ""), m.get("attributes") or {}, pt)
                    sub.available.append(mid)
                ids.append(mid)
            self.stats["published"] += len(ids)
            self.cv.notify_all()
        return {"messageIds": ids}

    def pull(self, name, body):
        n = body.get("maxMessages")
        if not isinstance(n, int) or n <= 0:
            raise ApiError(400, "The value for max_messages is too small. You passed 0 in the request, "
                                "but the minimum value is 1.")
        n = min(n, MAX_PULL)
        wait = 0 if body.get("returnImmediately") else float(self.cfg["pull_wait_s"])
        until = time.monotonic() + wait
        with self.cv:
            sub = self._sub(name)
            while True:
                now = time.monotonic()
                got = self._take_available(sub, n, now)
                if got or now >= until or self.stop.is_set() or self.subs.get(name) is not sub:
                    break
                self.cv.wait(until - now)
            out = [{"ackId": self._deliver(sub, m, now), "message": m.resource()} for m in got]
            sub.stats["pulls"] += 1
        return {"receivedMessages": out} if out else {}

    def acknowledge(self, name, body):
        ids = body.get("ackIds")
        if not isinstance(ids, list) or not ids:
            raise ApiError(400, "No ack ids specified.")
        acked = []
        with self.cv:
            sub = self._sub(name)
            for a in ids:
                if not isinstance(a, str) or a.count("-") < 2:
                    raise ApiError(400, "You have passed an invalid ack ID to the service (ack_id=%s)." % a)
            for a in ids:
                m = sub.outstanding.get(a)
                if m is None:
                    sub.stats["late_acks"] += 1     # expired or already acked: ignored, as Google does
                    continue
                acked.append(m)
            sub.stats["ack_requests"] += 1
        # the oracle runs before the ack takes effect, outside the lock (it reads SQLite)
        self.check_stored([m.id for m in acked])
        with self.cv:
            for m in acked:
                if m.ack_id is not None and sub.outstanding.get(m.ack_id) is m:
                    self._ack(sub, m)
        return {}

    def modify_ack_deadline(self, name, body):
        ids, secs = body.get("ackIds"), body.get("ackDeadlineSeconds")
        if not isinstance(ids, list) or not ids:
            raise ApiError(400, "No ack ids specified.")
        if not isinstance(secs, int) or not 0 <= secs <= 600:
            raise ApiError(400, "Invalid ack deadline given: must be between 0 and 600 seconds.")
        now = time.monotonic()
        with self.cv:
            sub = self._sub(name)
            for a in ids:
                m = sub.outstanding.get(a)
                if m is None:
                    continue
                if secs == 0:
                    sub.outstanding.pop(a)
                    m.ack_id = None
                    sub.available.append(m.id)
                    sub.stats["nacked"] += 1
                else:
                    m.deadline = now + secs
                    sub.stats["extended"] += 1
            sub.stats["modack_requests"] += 1
            self.cv.notify_all()
        return {}

    # -- push ------------------------------------------------------------------------
    def _start_pusher(self, sub):
        if sub.push_config.get("pushEndpoint") and sub.pusher is None:
            sub.pusher = threading.Thread(target=self._push_loop, args=(sub,), daemon=True)
            sub.pusher.start()

    def _push_loop(self, sub):
        while not self.stop.is_set():
            with self.cv:
                if self.subs.get(sub.name) is not sub or not sub.push_config.get("pushEndpoint"):
                    sub.pusher = None
                    return
                now = time.monotonic()
                got = self._take_available(sub, 1, now, push=True)
                if not got:
                    self.cv.wait(0.05)
                    continue
                m = got[0]
                ack_id = self._deliver(sub, m, now)
                endpoint = sub.push_config["pushEndpoint"]
                envelope = {"message": dict(m.resource(), message_id=m.id, publish_time=m.publish_time),
                            "subscription": sub.name}
                timeout = sub.ack_deadline
            token = self.push_token(sub)
            status, delay, _ = self.fault_for("push")
            if delay:
                time.sleep(delay)
            code = status or self._post(endpoint, envelope, token, timeout)
            sub.stats["push_attempts"] += 1
            if code in PUSH_OK:
                self.check_stored([m.id])
                with self.cv:
                    if sub.outstanding.get(ack_id) is m:
                        self._ack(sub, m)
                    sub.stats["push_ok"] += 1
                    m.push_attempt = 0
            else:
                with self.cv:
                    sub.stats["push_failed"] += 1
                    sub.stats["push_status_%s" % code] += 1
                    if sub.outstanding.pop(ack_id, None) is m:
                        m.ack_id = None
                        m.push_attempt += 1
                        backoff = min(0.1 * 2 ** (m.push_attempt - 1), float(self.cfg["push_backoff_max_s"]))
                        m.not_before = time.monotonic() + backoff
                        sub.available.append(m.id)

    @staticmethod
    def _post(url, envelope, token, timeout):
        headers = {"Content-Type": "application/json", "User-Agent": "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"}
        if token:
            headers["Authorization"] = "Bearer " + token
        req = urllib.request.Request(url, data=json.dumps(envelope).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                r.read()
                return r.status
        except urllib.error.HTTPError as e:
            e.read()
            return e.code
        except OSError:
            return 0

    # -- admin -------------------------------------------------------------------------
    def snapshot(self):
        with self.cv:
            subs = {}
            for name, s in self.subs.items():
                subs[name] = dict(s.stats, outstanding=len(s.outstanding), unacked=len(s.messages),
                                  acked_distinct=len(s.acked_ids), ack_deadline=s.ack_deadline)
            return dict(self.stats, violations=list(self.violations[:100]), subscriptions=subs,
                        faults=[dict(r) for r in self.faults], config=dict(self.cfg))

    def oidc_token(self, body):
        body = dict(body)
        sign_with = body.pop("sign_with", "current")
        kid = body.pop("kid", None)
        alg = body.pop("alg", "RS256")
        now = int(time.time())
        claims = {"aud": "", "azp": "1" + "0" * 20, "email": "", "email_verified": True, "exp": now + 3600,
                  "iat": now, "iss": "https://accounts.google.com", "sub": "1" + "0" * 20}
        claims.update({k: v for k, v in body.items() if v is not None})
        for k in [k for k, v in body.items() if v is None]:
            claims.pop(k, None)
        if sign_with == "foreign":
            if self.foreign_key is None:
                self.foreign_key = RsaKey()
            return self.foreign_key.sign_jwt(claims, kid=kid or self.keys[-1].kid, alg=alg)
        return self.keys[-1].sign_jwt(claims, kid=kid, alg=alg)


# ---- HTTP ------------------------------------------------------------------------------

RES_RE = re.compile(r"^/v1/(projects/([^/]+)/(topics|subscriptions)/([^/:]+))(?::([A-Za-z]+))?$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pubsub-fake/1"

    def log_message(self, fmt, *args):     # quiet
        pass

    def _send(self, code, obj=None, text=None, headers=()):
        body = (text if text is not None else json.dumps(obj if obj is not None else {})).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8" if text is None else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, e):
        hdrs = [("Retry-After", str(e.retry_after))] if e.retry_after is not None else []
        self._send(e.code, {"error": {"code": e.code, "message": e.message,
                                      "status": STATUS_NAMES.get(e.code, "UNKNOWN")}}, headers=hdrs)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, "Invalid JSON payload received.")
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid JSON payload received. Expected an object.")
        return body

    def do_GET(self):
        self._dispatch("GET")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def _dispatch(self, method):
        fake = self.server.fake
        path = self.path.split("?", 1)[0]
        try:
            if path.startswith("/admin/"):
                return self._admin(method, path)
            if path.startswith("/computeMetadata/"):
                return self._metadata(path)
            if path == "/oauth2/v3/certs" and method == "GET":
                return self._send(200, {"keys": [k.jwk() for k in fake.keys]})
            m = RES_RE.match(path)
            if not m:
                raise ApiError(404, "The requested URL %s was not found on this server." % path)
            name, project, kind, short, verb = m.groups()
            op = self._op(method, kind, verb)
            body = self._body() if method in ("POST", "PUT", "PATCH") else {}
            fake.stats["requests_" + op] += 1
            status, delay, retry_after = fake.fault_for(op)
            if delay:
                time.sleep(delay)
            if status:
                raise ApiError(status, {429: "Quota exceeded (fault injected).",
                                        503: "The service was unable to fulfill your request. Please try again. "
                                             "(fault injected)"}.get(status, "fault injected"), retry_after)
            fake.check_auth(self.headers.get("Authorization"))
            if not PROJECT_RE.match(project) or not NAME_RE.match(short) or short.startswith("goog"):
                raise ApiError(400, "Invalid resource name given (name=%s). Refer to "
                                    "https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names" % name)
            self._send(200, self._api(op, name, body))
        except ApiError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _op(method, kind, verb):
        table = {("PUT", "topics", None): "createTopic", ("GET", "topics", None): "getTopic",
                 ("DELETE", "topics", None): "deleteTopic", ("POST", "topics", "publish"): "publish",
                 ("PUT", "subscriptions", None): "createSubscription",
                 ("GET", "subscriptions", None): "getSubscription",
                 ("DELETE", "subscriptions", None): "deleteSubscription",
                 ("POST", "subscriptions", "pull"): "pull", ("POST", "subscriptions", "acknowledge"): "acknowledge",
                 ("POST", "subscriptions", "modifyAckDeadline"): "modifyAckDeadline",
                 ("POST", "subscriptions", "modifyPushConfig"): "modifyPushConfig"}
        op = table.get((method, kind, verb))
        if op is None:
            raise ApiError(404 if verb else 405, "Method not found.")
        return op

    # the request fields of each method colibri calls (the REST front end answers 400 to any other:
    # protojson); the tests' own calls use no others either
    FIELDS = {"publish": {"messages"}, "pull": {"maxMessages", "returnImmediately"},
              "acknowledge": {"ackIds"}, "modifyAckDeadline": {"ackIds", "ackDeadlineSeconds"}}
    MESSAGE_FIELDS = {"data", "attributes", "orderingKey", "messageId", "publishTime"}

    def _api(self, op, name, body):
        f = self.server.fake
        unknown = set(body) - self.FIELDS.get(op, set(body))
        if op == "publish" and isinstance(body.get("messages"), list):
            for m in body["messages"]:
                unknown |= set(m) - self.MESSAGE_FIELDS if isinstance(m, dict) else set()
        if unknown:
            raise ApiError(400, 'Invalid JSON payload received. Unknown name "%s": Cannot find field.'
                           % sorted(unknown)[0])
        if op == "createTopic":
            return f.create_topic(name)
        if op == "getTopic":
            return f.get_topic(name)
        if op == "deleteTopic":
            return f.delete_topic(name)
        if op == "publish":
            return f.publish(name, body)
        if op == "createSubscription":
            return f.create_subscription(name, body)
        if op == "getSubscription":
            return f.get_subscription(name)
        if op == "deleteSubscription":
            return f.delete_subscription(name)
        if op == "pull":
            return f.pull(name, body)
        if op == "acknowledge":
            return f.acknowledge(name, body)
        if op == "modifyAckDeadline":
            return f.modify_ack_deadline(name, body)
        return f.modify_push_config(name, body)

    def _metadata(self, path):
        f = self.server.fake
        if self.headers.get("Metadata-Flavor") != "Google":
            return self._send(403, text="Missing Metadata-Flavor:Google header.\n")
        status, delay, retry_after = f.fault_for("token")
        if delay:
            time.sleep(delay)
        if status:
            raise ApiError(status, "metadata server fault injected", retry_after)
        if path == "/computeMetadata/v1/instance/service-accounts/default/token":
            return self._send(200, f.issue_token(), headers=[("Metadata-Flavor", "Google")])
        if path == "/computeMetadata/v1/project/project-id":
            return self._send(200, text="fake-project", headers=[("Metadata-Flavor", "Google")])
        if path == "/computeMetadata/v1/instance/service-accounts/default/email":
            return self._send(200, text="colibri@fake-project.iam.gserviceaccount.com",
                              headers=[("Metadata-Flavor", "Google")])
        return self._send(404, text="not found\n")

    def _admin(self, method, path):
        f = self.server.fake
        body = self._body() if method in ("POST", "PUT") else {}
        if path == "/admin/stats" and method == "GET":
            return self._send(200, f.snapshot())
        if path == "/admin/faults" and method == "POST":
            with f.cv:
                f.faults = [dict(r) for r in body.get("rules", [])]
            return self._send(200, {"rules": f.faults})
        if path == "/admin/faults" and method == "DELETE":
            with f.cv:
                f.faults = []
            return self._send(200, {})
        if path == "/admin/config" and method == "POST":
            unknown = set(body) - set(f.cfg)
            if unknown:
                raise ApiError(400, "unknown settings: %s" % ", ".join(sorted(unknown)))
            with f.cv:
                f.cfg.update(body)
            return self._send(200, f.cfg)
        if path == "/admin/revoke" and method == "POST":
            with f.cv:
                f.tokens.clear()
                f.stats["revocations"] += 1
            return self._send(200, {})
        if path == "/admin/oidc/token" and method == "POST":
            return self._send(200, {"token": f.oidc_token(body)})
        if path == "/admin/oidc/rotate" and method == "POST":
            with f.cv:
                f.keys = ([] if body.get("drop_old") else f.keys) + [RsaKey()]
            return self._send(200, {"kid": f.keys[-1].kid})
        raise ApiError(404, "no such admin route")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve(port=0, auth="none", pull_wait_s=5.0, host="127.0.0.1"):
    """Start in a background thread; returns (server, fake). server.shutdown() stops it."""
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError("the fake listens on loopback only")
    srv = Server((host, port), Handler)
    srv.fake = Fake(auth=auth, pull_wait_s=pull_wait_s)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.fake


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=int(os.environ.get("PUBSUB_FAKE_PORT", "0")))
    ap.add_argument("--auth", choices=["none", "token"], default="none")
    ap.add_argument("--pull-wait", type=float, default=5.0, help="longest a pull waits for messages, seconds")
    a = ap.parse_args()
    srv, fake = serve(a.port, a.auth, a.pull_wait)
    print(json.dumps({"port": srv.server_address[1]}), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop.set()
        srv.shutdown()


if __name__ == "__main__":
    main()
