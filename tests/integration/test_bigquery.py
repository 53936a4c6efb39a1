"""The BigQuery store, black-box.

Equivalence: the same generated rows loaded with `colibri load` into SQLite and
into the BigQuery emulator (bqemulator, scripts/bq-emulator-up) give
byte-identical GET /data responses — bodies, Link headers and cursors — for a
battery of queries covering every parameter, operator, column type and both
orders, followed to the last page; GET /data/{id} too. Twice: on the flat
schema/flights.json and on the nested example schema/examples/payments.json
(records, arrays, NUMERIC, BYTES, JSON, DATETIME, TIME; without its BIGNUMERIC
and GEOGRAPHY columns, which the emulator cannot hold: EMULATOR_GAPS).

Faults: against tests/fakes/bigquery_faults.py (BigQuery REST + metadata
server), 429/503 bursts are retried, rows BigQuery stops are resent, rows it
calls invalid are dead-lettered and never resent, jobs that are not complete
are polled, and tokens that expire are refreshed.

Set COLIBRI_SKIP_BQ_EMULATOR=1 to skip the emulator tests where PyPI is not
reachable (the fault tests need nothing but Python).
"""
import json
import os
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from pylib.server import (BIN, PAYMENTS, PAYMENTS_ENV, PAYMENTS_GEN, ROOT, Response, base_env, free_port,
                          generate, load, sql)

from pylib.emulator import bigquery_faults

SCRIPTS = os.path.join(ROOT, "scripts")
SECRET = "equivalence-test-secret"
INGESTED = 1767225600000000          # 2026-01-01T00:00:00Z: both stores get this _ingested_at


class Colibri:
    """colibri serve on a free loopback port with the given store URL."""

    def __init__(self, store, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [BIN, "serve"], env=base_env(COLIBRI_STORE=store, COLIBRI_LISTEN=f"127.0.0.1:{self.port}",
                                         COLIBRI_CURSOR_SECRET=SECRET, **env),
            stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if self.get("/healthz").status == 200:
                    return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("colibri did not start:\n" + self.log)

    def get(self, path):
        req = urllib.request.Request(self.url + path)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.log = self.proc.stderr.read()
        self.proc.stderr.close()
        return self.proc.wait(timeout=15)


def bq_load(path, emulator, table="test.ds.flights", **env):
    return subprocess.run([BIN, "load", path], capture_output=True, text=True, timeout=300,
                          env=base_env(COLIBRI_STORE="bigquery:" + table, BIGQUERY_EMULATOR_HOST=emulator, **env))


def bq_dml(emulator, query):
    req = urllib.request.Request(f"http://{emulator}/bigquery/v2/projects/test/queries", method="POST",
                                 data=json.dumps({"query": query, "useLegacySql": False}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        body = json.loads(r.read())
    assert not body.get("errors"), body
    return body


# ---------------------------------------------------------------- the emulator

@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    if os.environ.get("COLIBRI_SKIP_BQ_EMULATOR") == "1":
        pytest.skip("COLIBRI_SKIP_BQ_EMULATOR=1")
    env = dict(os.environ, BQ_EMULATOR_DIR=str(tmp_path_factory.mktemp("bqemu")))
    up = subprocess.run([os.path.join(SCRIPTS, "bq-emulator-up")], env=env, capture_output=True,
                        text=True, timeout=900)
    assert up.returncode == 0, up.stderr
    addr = up.stdout.strip().splitlines()[-1]
    yield addr
    subprocess.run([os.path.join(SCRIPTS, "bq-emulator-down")], env=env, timeout=60, check=True)


# Rows whose strings and numbers test the wire formats: escapes, non-ASCII, a value past
# 2^53, a float that needs 17 digits, a negative delay, equal event times (tie broken by _id).
EXTRA = [
    {"event_id": "x-1", "event_time": "2026-01-01T00:05:00.000001Z", "flight_id": "XX1-2026-01-01",
     "flight_date": "2026-01-01", "carrier": "XX", "flight_number": 1, "origin": "SCL",
     "destination": "LIM", "scheduled_departure": "2026-01-01T06:00:00Z", "status": "delayed",
     "tail_number": "Ñandú \"q\" \\ 日本 😀", "aircraft": "tab\there", "passengers": 9007199254740993,
     "distance_km": 0.30000000000000004, "delay_minutes": -7, "on_time": True},
    {"event_id": "x-2", "event_time": "2026-01-01T00:05:00.000001Z", "flight_id": "XX2-2026-01-01",
     "flight_date": "1999-12-31", "carrier": "XX", "flight_number": 9999, "origin": "SCL",
     "destination": "LIM", "scheduled_departure": "1970-01-01T00:00:00Z", "status": "cancelled",
     "tail_number": "comma,and\nnewline", "distance_km": 1e-7, "capacity": 0, "on_time": False},
    {"event_id": "x-3", "event_time": "2026-01-01T00:05:00.000001Z", "flight_id": "XX3-2026-01-01",
     "flight_date": "2026-01-01", "carrier": "XY", "flight_number": 2, "origin": "SCL",
     "destination": "LIM", "scheduled_departure": "2026-01-01T06:00:00.123456Z", "status": "landed",
     "distance_km": 12345678.9, "delay_minutes": 0},
]


@pytest.fixture(scope="module")
def stores(emulator, tmp_path_factory):
    """The same rows in SQLite and in the emulator; returns (sqlite db path, emulator address)."""
    d = tmp_path_factory.mktemp("equiv")
    src = generate(str(d / "flights.ndjson"), 2000, seed=11)
    with open(src, "a") as f:
        for r in EXTRA:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    db = str(d / "flights.db")
    r = load(db, src)
    assert r.returncode == 0, r.stderr
    r = bq_load(src, emulator)
    assert r.returncode == 0, r.stderr
    assert "2003 rows stored" in r.stderr
    # the one column that records when a row was loaded differs by construction: pin it on both
    subprocess.run(["sqlite3", db, f"UPDATE flights SET _ingested_at = {INGESTED}"], check=True)
    bq_dml(emulator, f"UPDATE `test.ds.flights` SET `_ingested_at` = TIMESTAMP_MICROS({INGESTED}) WHERE TRUE")
    return db, emulator


@pytest.fixture(scope="module")
def servers(stores):
    db, emulator = stores
    lite = Colibri("sqlite:" + db)
    bq = Colibri("bigquery:test.ds.flights", BIGQUERY_EMULATOR_HOST=emulator)
    yield lite, bq
    assert lite.stop() == 0
    assert bq.stop() == 0, bq.log


def test_default_window_bounds_get_data_without_since(stores):
    """COLIBRI_BQ_DEFAULT_WINDOW_H: without since, BigQuery reads only the last N hours (the test
    rows are from 2026-01-01, older than an hour); an explicit since is taken as it is."""
    _, emulator = stores
    bq = Colibri("bigquery:test.ds.flights", BIGQUERY_EMULATOR_HOST=emulator, COLIBRI_BQ_DEFAULT_WINDOW_H="1")
    try:
        assert bq.get("/data?limit=5").json()["data"] == []
        assert len(bq.get("/data?limit=5&since=2026-01-01T00:00:00Z").json()["data"]) == 5
    finally:
        assert bq.stop() == 0, bq.log


def battery(db):
    """At least 30 queries: every parameter, operator and type, both orders (added by the test)."""
    one = lambda q: sql(db, q)[0]  # noqa: E731
    carrier = one("SELECT carrier FROM flights GROUP BY carrier ORDER BY count(*) DESC, carrier LIMIT 1")
    origins = sql(db, "SELECT origin FROM flights GROUP BY origin ORDER BY count(*) DESC, origin LIMIT 3")
    fid = one("SELECT flight_id FROM flights ORDER BY _id LIMIT 1 OFFSET 500")
    ev = [int(x) for x in sql(db, "SELECT event_time FROM flights ORDER BY event_time LIMIT 2 OFFSET 400")]
    ev2 = int(one("SELECT event_time FROM flights ORDER BY event_time LIMIT 1 OFFSET 1500"))
    sched = int(one("SELECT scheduled_departure FROM flights ORDER BY scheduled_departure LIMIT 1 OFFSET 900"))
    day = one("SELECT flight_date FROM flights ORDER BY flight_date LIMIT 1 OFFSET 1000")
    dist = one("SELECT distance_km FROM flights WHERE distance_km IS NOT NULL ORDER BY _id LIMIT 1 OFFSET 77")
    an_id = one("SELECT _id FROM flights ORDER BY _id LIMIT 1 OFFSET 1234")

    def iso(us):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(us // 1_000_000)) + ".%06dZ" % (us % 1_000_000)

    q = urllib.parse.quote
    return [
        "",                                                        # defaults: every column
        "limit=1",
        "limit=1000",
        f"carrier={carrier}",
        f"carrier__ne={carrier}",
        f"origin__in={','.join(origins)}",
        "flight_number__gt=5000",
        "flight_number__gte=9999",
        "flight_number__in=1,2,3,800,801,802,9999",
        "delay_minutes__lt=0",
        "delay_minutes__lte=5",
        "delay_minutes__isnull=true",
        "delay_minutes__isnull=false&delay_minutes__gte=60",
        f"distance_km={dist}",
        "distance_km__gt=1500.5",
        "distance_km__lte=0.30000000000000004",
        "on_time=true",
        "on_time__ne=true",
        "on_time__isnull=true",
        f"scheduled_departure__gte={q(iso(sched))}",
        f"scheduled_departure__lt={q(iso(sched))}",
        f"flight_date={day}",
        f"flight_date__gt={day}",
        f"flight_date__lte=1999-12-31",
        f"flight_id__prefix={fid[:4]}",
        "flight_id__prefix=XX",
        "tail_number__prefix=" + q("Ñandú"),
        "tail_number=" + q("Ñandú \"q\" \\ 日本 😀"),
        "status__in=cancelled,diverted",
        "actual_departure__isnull=false",
        f"since={q(iso(ev[0]))}",
        f"until={q(iso(ev2))}",
        f"since={q(iso(ev[1]))}&until={q(iso(ev2))}",
        f"event_time__gte={q(iso(ev[0]))}&event_time__lt={q(iso(ev2))}",
        f"_id={q(an_id)}",
        f"_id__prefix=load:a",
        "_source=load&_published_at__isnull=true",
        f"_ingested_at={q(iso(INGESTED))}",
        f"carrier={carrier}&delay_minutes__gt=10&origin__in={','.join(origins)}",
        "fields=event_id,event_time,passengers,distance_km,on_time,flight_date",
        "fields=_id&status=landed",
        "fields=tail_number,aircraft,carrier&carrier__in=XX,XY",
        "format=ndjson&fields=event_id,tail_number,distance_km",
        "format=csv&fields=event_id,tail_number,aircraft,on_time,actual_departure,distance_km",
        "format=csv",
        "fare__gte=500.5&fields=event_id,fare,segments",
        "fare__isnull=true&fields=event_id,status,fare",
        "fare__lt=100&format=csv&fields=event_id,fare,segments",
    ]


def follow(server, query, limit):
    """Every response body of a query, following next_cursor (or the Link header for ndjson/csv)."""
    bodies, path = [], f"/data?{query}&limit={limit}" if query else f"/data?limit={limit}"
    while path:
        r = server.get(path)
        assert r.status == 200, (path, r.body)
        bodies.append((r.body, r.headers.get("Link"), r.headers.get("Content-Type")))
        link = r.headers.get("Link")
        path = link[1:link.index(">")] if link else None
        assert len(bodies) < 500
    return bodies


def test_battery_is_large_enough(stores):
    qs = battery(stores[0])
    assert len(qs) * 2 >= 30
    assert len(set(qs)) == len(qs)


def assert_identical(lite, bq, queries, order):
    """Every page of every query, in that order, is the same bytes (body, Link, Content-Type) on
    both; a query that matches nothing is a weak case and fails too."""
    empty = []
    for i, query in enumerate(queries):
        limit = (37, 250, 1000)[i % 3] if "limit=" not in query else None
        q = f"{query}&order={order}" if query else f"order={order}"
        if limit is None:   # the query sets its own limit: one page only
            a, b = lite.get("/data?" + q), bq.get("/data?" + q)
            assert a.status == b.status == 200, (q, a.body[:300], b.body[:300])
            assert a.body == b.body, f"{q}: bodies differ"
            assert a.headers.get("Link") == b.headers.get("Link")
            continue
        want = follow(lite, q, limit)
        got = follow(bq, q, limit)
        assert len(got) == len(want), f"{q}: {len(got)} pages on BigQuery, {len(want)} on SQLite"
        for n, (w, g) in enumerate(zip(want, got)):
            assert g == w, f"{q}: page {n + 1} differs:\nsqlite:   {w[0][:600]!r}\nbigquery: {g[0][:600]!r}"
        if want[0][0] == b'{"data":[],"next_cursor":null}\n':
            empty.append(q)
    assert not empty, f"queries that matched nothing are weak cases: {empty}"


def assert_ids_identical(lite, bq, ids):
    """GET /data/{id} of each id, and of one that does not exist, is the same on both."""
    for i in ids:
        path = "/data/" + urllib.parse.quote(i, safe="")
        a, b = lite.get(path), bq.get(path)
        assert a.status == b.status == 200
        assert a.body == b.body
    a, b = lite.get("/data/no-such-row"), bq.get("/data/no-such-row")
    assert a.status == b.status == 404
    assert a.body == b.body


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_get_data_is_byte_identical_on_both_backends(servers, stores, order):
    assert_identical(*servers, battery(stores[0]), order)


def test_get_by_id_is_byte_identical(servers, stores):
    ids = sql(stores[0], "SELECT _id FROM flights ORDER BY _id LIMIT 5 OFFSET 100")
    ids += sql(stores[0], "SELECT _id FROM flights WHERE event_id LIKE 'x-%'")
    assert_ids_identical(*servers, ids)


def test_cursors_are_interchangeable(servers):
    """A cursor from one backend continues the same query on the other."""
    lite, bq = servers
    first = lite.get("/data?limit=50&carrier__ne=ZZ&fields=_id").json()
    a = lite.get("/data?limit=50&carrier__ne=ZZ&fields=_id&cursor=" + first["next_cursor"])
    b = bq.get("/data?limit=50&carrier__ne=ZZ&fields=_id&cursor=" + first["next_cursor"])
    assert a.status == b.status == 200 and a.body == b.body


def test_bigquery_table_is_partitioned_and_clustered(stores):
    _, emulator = stores
    with urllib.request.urlopen(f"http://{emulator}/bigquery/v2/projects/test/datasets/ds/tables/flights") as r:
        t = json.loads(r.read())
    assert t["timePartitioning"] == {"type": "DAY", "field": "event_time"} or \
        (t["timePartitioning"]["type"] == "DAY" and t["timePartitioning"]["field"] == "event_time")
    assert t["clustering"]["fields"] == ["carrier", "origin", "destination", "status"]
    names = [f["name"] for f in t["schema"]["fields"]]
    assert names[-4:] == ["_id", "_source", "_published_at", "_ingested_at"]
    with urllib.request.urlopen(f"http://{emulator}/bigquery/v2/projects/test/datasets/ds/tables/_dead_letters") as r:
        d = json.loads(r.read())
    assert [f["name"] for f in d["schema"]["fields"]] == ["id", "source", "reason", "payload", "at"]


# ---------------------------------------------------------------- the nested example, payments

# What bqemulator 1.4.0 (DuckDB 1.5.6) cannot hold (docs/types.md, "The BigQuery emulator: what it
# lacks"); test_emulator_type_gaps checks that each gap is still there.
EMULATOR_GAPS = {
    "fee": "BIGNUMERIC: the emulator cannot create the column (DuckDB DECIMAL(76, 38): width must be 1-38)",
    "location": "GEOGRAPHY: the emulator cannot insert a value (DuckDB's spatial extension is not installable "
                "for DuckDB 1.5, nothing is downloaded at run time)",
}

BYTES_PARAM_GAP = ("BYTES filters: the emulator binds a BYTES query parameter as its base64 text, not the bytes "
                   "it encodes, so `col = @p` never matches (`col = FROM_BASE64(@p)` with a STRING parameter "
                   "would, on the emulator and on BigQuery)")


def emulator_decodes_bytes_params(emulator):
    """True once `b = @p` with a BYTES parameter (base64, as the API documents) matches the bytes."""
    _emu(emulator, "POST", "/datasets", {"datasetReference": {"projectId": "test", "datasetId": "gaps"}})
    status, body = _emu(emulator, "POST", "/queries", {
        "query": "SELECT COUNT(*) FROM UNNEST([FROM_BASE64('AAEC/w==')]) AS b WHERE b = @p", "useLegacySql": False,
        "parameterMode": "NAMED", "queryParameters": [
            {"name": "p", "parameterType": {"type": "BYTES"}, "parameterValue": {"value": "AAEC/w=="}}]})
    assert status == 200, body
    return body["rows"][0]["f"][0]["v"] == "1"


# Rows for exactness at the edges, beside the generated ones (fee and location are dropped on both stores)
PAY_EXTRA = [
    {"payment_id": "x-1", "created_at": "2026-01-01T00:05:00.000001Z", "merchant_id": "m_x", "status": "captured",
     "amount": "12345678901234567890.123456789", "currency": "USD", "tags": ["a", "b"],
     "card": {"brand": "VISA", "last4": "0001"}, "customer": {"id": "c-1", "address": {"country": "CL",
                                                                                       "city": "Ñuñoa \"q\" \\ 😀"}},
     "items": [{"sku": "s,1", "qty": "9223372036854775807", "price": "99999999999999999999999999999.999999999"}],
     "raw": {"k": [1, 2.5, None, "é"], "n": {"m": True}}, "fingerprint": "AAEC/w==",
     "settled_at": "2026-01-02 17:00:00.5", "cutoff": "23:59:59.999999"},
    {"payment_id": "x-2", "created_at": "2026-01-01T00:05:00.000001Z", "merchant_id": "m_x", "status": "failed",
     "amount": "12345678901234567890.123456788", "currency": "USD", "tags": None, "items": [],
     "raw": "text", "fingerprint": "", "settled_on": "2026-01-02", "settled_at": "0001-01-01T00:00:00",
     "cutoff": "00:00:00"},
    {"payment_id": "x-3", "created_at": "2026-01-01T00:05:00.000001Z", "merchant_id": "m_x", "status": "refunded",
     "amount": "1.10", "currency": "EUR", "card": {"brand": "AMEX", "expiry": "2027-01-31"},
     "customer": {"id": "c-3", "email": "a@example.com"}, "raw": [1, "two"]},
    {"payment_id": "x-4", "created_at": "2026-01-01T00:05:00.000001Z", "merchant_id": "m_x", "status": "captured",
     "amount": "-0.000000001", "currency": "EUR", "tags": ["a"], "items": [{"sku": None}, {"qty": 0}]},
]


def emulator_schema(tmp):
    """schema/examples/payments.json without the columns the emulator cannot hold; same table name."""
    cols = [c for c in json.load(open(PAYMENTS)) if c["name"] not in EMULATOR_GAPS]
    path = os.path.join(tmp, "payments.json")
    with open(path, "w") as f:
        json.dump(cols, f)
    return path


@pytest.fixture(scope="module")
def pay_stores(emulator, tmp_path_factory):
    """The same payments in SQLite and in the emulator: (sqlite db, emulator, schema path)."""
    d = tmp_path_factory.mktemp("payequiv")
    schema = emulator_schema(str(d))
    env = dict(PAYMENTS_ENV, COLIBRI_SCHEMA=schema)
    src = generate(str(d / "payments.ndjson"), 1500, seed=12, extra=PAYMENTS_GEN)
    with open(src, "a") as f:
        for r in PAY_EXTRA:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    db = str(d / "payments.db")
    r = load(db, src, **env)
    assert r.returncode == 0, r.stderr
    r = bq_load(src, emulator, table="test.ds.payments", **env)
    assert r.returncode == 0, r.stderr
    assert "1504 rows stored" in r.stderr, r.stderr
    subprocess.run(["sqlite3", db, f"UPDATE payments SET _ingested_at = {INGESTED}"], check=True)
    bq_dml(emulator, f"UPDATE `test.ds.payments` SET `_ingested_at` = TIMESTAMP_MICROS({INGESTED}) WHERE TRUE")
    return db, emulator, env


@pytest.fixture(scope="module")
def pay_servers(pay_stores):
    db, emulator, env = pay_stores
    lite = Colibri("sqlite:" + db, **env)
    bq = Colibri("bigquery:test.ds.payments", BIGQUERY_EMULATOR_HOST=emulator, **env)
    yield lite, bq
    assert lite.stop() == 0
    assert bq.stop() == 0, bq.log


def pay_battery(db):
    """Queries over every type and operator of the nested schema (both orders added by the test)."""
    one = lambda q: sql(db, q)[0]  # noqa: E731
    last4 = sql(db, "SELECT json_extract(card, '$.last4') FROM payments WHERE json_extract(card, '$.last4') "
                    "IS NOT NULL ORDER BY _id LIMIT 3 OFFSET 40")
    amount = one("SELECT amount FROM payments WHERE payment_id LIKE 'pay_%' ORDER BY _id LIMIT 1 OFFSET 700")
    merchant = one("SELECT merchant_id FROM payments GROUP BY merchant_id ORDER BY count(*) DESC, merchant_id LIMIT 1")
    q = urllib.parse.quote
    return [
        "",
        "limit=1",
        "limit=1000",
        "card.brand=VISA",
        "card.brand__ne=VISA",
        f"card.last4__in={','.join(last4)}",
        "card.last4__isnull=true",
        "card.expiry__gte=2030-01-01",
        "card.expiry__lt=2027-06-30&card.brand__in=VISA,AMEX",
        "card__isnull=true",
        "customer.address.country=CL",
        "customer.address.country__in=JP,BR",
        "customer.address.city__prefix=" + q("S"),
        "customer.address.city=" + q("Ñuñoa \"q\" \\ 😀"),
        "customer.email__isnull=false",
        "customer__isnull=false&customer.address__isnull=true",
        "tags__contains=3ds",
        "tags__contains=international&status=settled",
        "tags__contains=a",
        "amount=1.10",
        "amount__gt=9.9",
        "amount__lte=100&currency__in=USD,EUR,GBP,CHF",
        "amount__gte=12345678901234567890.123456788",
        "amount__gt=12345678901234567890.123456788",
        "amount__lt=0",
        f"amount={amount}",
        f"amount__in=1.1,{amount},-0.000000001",
        "currency=JPY&amount__gt=100000",
        "currency=KWD&amount__lt=50.5",
        "settled_at__gte=2026-01-02T18:00:00",
        "settled_at__lt=2026-01-02T19:00:00.5&settled_at__gte=2026-01-02T17:00:00.5",
        "settled_at__isnull=true",
        "settled_on=2026-01-02",
        "cutoff__lt=17:00:00",
        "cutoff=20:00:00.5",
        "cutoff__gte=23:59:59.999999",
        "raw__isnull=true",
        "status__in=refunded,disputed",
        f"merchant_id={merchant}",
        "merchant_id__prefix=m_00",
        "since=2026-01-01T00:05:00Z&until=2026-01-01T00:10:00Z",
        "fields=payment_id,card,tags&tags__contains=promo",
        "fields=payment_id,card.brand",
        "fields=payment_id,customer.address.country,card.last4,card.brand&card.brand__in=AMEX,JCB",
        "format=csv&fields=payment_id,customer.address.city,amount",
        "fields=payment_id,amount,items,raw,fingerprint,settled_at,cutoff",
        "format=ndjson&fields=payment_id,amount,card,items,raw",
        "format=csv&fields=payment_id,amount,card,customer,items,tags,raw,fingerprint,settled_at,cutoff",
        "format=csv",
    ]


def test_payments_battery_is_large_enough(pay_stores):
    qs = pay_battery(pay_stores[0])
    assert len(qs) * 2 >= 90 and len(set(qs)) == len(qs)


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_get_data_is_byte_identical_on_both_backends_for_nested_payments(pay_servers, pay_stores, order):
    """Every page of every query over the nested schema (records, arrays, NUMERIC, BYTES, JSON,
    DATETIME, TIME) is byte-identical; BIGNUMERIC and GEOGRAPHY are left out (EMULATOR_GAPS)."""
    assert_identical(*pay_servers, pay_battery(pay_stores[0]), order)


def test_get_by_id_is_byte_identical_for_nested_payments(pay_servers, pay_stores):
    ids = sql(pay_stores[0], "SELECT _id FROM payments ORDER BY _id LIMIT 5 OFFSET 100")
    ids += sql(pay_stores[0], "SELECT _id FROM payments WHERE payment_id LIKE 'x-%'")
    assert len(ids) == 5 + len(PAY_EXTRA)
    assert_ids_identical(*pay_servers, ids)


def test_bigquery_payments_table_is_nested(pay_stores):
    """The table is made from the nested schema: records with their fields, modes, partitioned
    on created_at and clustered on the x-cluster columns."""
    _, emulator, env = pay_stores
    with urllib.request.urlopen(f"http://{emulator}/bigquery/v2/projects/test/datasets/ds/tables/payments") as r:
        t = json.loads(r.read())
    assert t["timePartitioning"]["type"] == "DAY" and t["timePartitioning"]["field"] == "created_at"
    assert t["clustering"]["fields"] == ["merchant_id", "status", "currency"]
    f = {c["name"]: c for c in t["schema"]["fields"]}
    assert f["tags"]["mode"] == "REPEATED" and f["tags"]["type"] == "STRING"
    assert f["card"]["type"] in ("RECORD", "STRUCT") and [c["name"] for c in f["card"]["fields"]] == \
        ["brand", "last4", "expiry"]
    assert f["card"]["fields"][0]["mode"] == "REQUIRED"
    assert f["items"]["mode"] == "REPEATED" and f["items"]["fields"][2]["type"] == "NUMERIC"
    address = [c for c in f["customer"]["fields"] if c["name"] == "address"][0]
    assert [c["name"] for c in address["fields"]] == ["country", "city", "postal_code"]
    assert {f["raw"]["type"], f["fingerprint"]["type"], f["settled_at"]["type"], f["cutoff"]["type"]} == \
        {"JSON", "BYTES", "DATETIME", "TIME"}


def _emu(emulator, method, path, body=None):
    req = urllib.request.Request(f"http://{emulator}/bigquery/v2/projects/test{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.parametrize("col", sorted(EMULATOR_GAPS))
def test_emulator_type_gaps(emulator, col):
    """Each column the equivalence suite leaves out is still one the emulator cannot hold; when a
    newer emulator takes it, this fails: put the column back into the suite."""
    col_type = {c["name"]: c["type"] for c in json.load(open(PAYMENTS))}[col]
    value = {"BIGNUMERIC": "1.5", "GEOGRAPHY": "POINT(1 2)"}[col_type]
    table = f"gap_{col}_{os.getpid()}"
    _emu(emulator, "POST", "/datasets", {"datasetReference": {"projectId": "test", "datasetId": "gaps"}})
    status, _ = _emu(emulator, "POST", "/datasets/gaps/tables", {
        "tableReference": {"projectId": "test", "datasetId": "gaps", "tableId": table},
        "schema": {"fields": [{"name": "v", "type": col_type, "mode": "NULLABLE"}]}})
    if status == 200:
        status, body = _emu(emulator, "POST", f"/datasets/gaps/tables/{table}/insertAll",
                            {"rows": [{"insertId": "1", "json": {"v": value}}]})
        if status == 200 and not body.get("insertErrors"):
            _, res = _emu(emulator, "POST", "/queries", {"query": f"SELECT v FROM `test.gaps.{table}`",
                                                         "useLegacySql": False})
            rows = res.get("rows", []) if isinstance(res, dict) else []
            assert not rows, f"the emulator now holds {col_type} ({rows}): {EMULATOR_GAPS[col]} is no longer true"
    print(f"\n[emulator gap] {col}: {EMULATOR_GAPS[col]}")


def test_bytes_filters_are_byte_identical(pay_servers, pay_stores):
    """BYTES filters (base64 text), the day the emulator decodes BYTES query parameters."""
    db, emulator, _ = pay_stores
    if not emulator_decodes_bytes_params(emulator):
        pytest.skip(BYTES_PARAM_GAP)
    fp = sql(db, "SELECT fingerprint FROM payments WHERE fingerprint IS NOT NULL ORDER BY _id LIMIT 1 OFFSET 99")[0]
    q = urllib.parse.quote
    assert_identical(*pay_servers, [f"fingerprint={q(fp)}", "fingerprint=" + q("AAEC/w=="),
                                    f"fingerprint__in={q(fp)},{q('AAEC/w==')}&fields=payment_id,fingerprint"], "desc")


def test_full_payments_schema_on_the_emulator(emulator, tmp_path):
    """The whole example, BIGNUMERIC and GEOGRAPHY included, the day the emulator takes them."""
    src = generate(str(tmp_path / "p.ndjson"), 50, seed=13, extra=PAYMENTS_GEN)
    r = bq_load(src, emulator, table="test.ds.payments_full", **PAYMENTS_ENV)
    if r.returncode != 0:
        pytest.skip("emulator gaps: " + "; ".join(EMULATOR_GAPS.values()) + f" (colibri load: {r.stderr[-300:]})")
    db = str(tmp_path / "p.db")
    assert load(db, src, **PAYMENTS_ENV).returncode == 0
    lite = Colibri("sqlite:" + db, **PAYMENTS_ENV)
    bq = Colibri("bigquery:test.ds.payments_full", BIGQUERY_EMULATOR_HOST=emulator, **PAYMENTS_ENV)
    try:
        for q in ("fields=payment_id,fee,location", "fee__gt=1&fields=payment_id,fee",
                  "location__isnull=true&fields=payment_id"):
            a, b = lite.get("/data?" + q), bq.get("/data?" + q)
            assert a.status == b.status == 200 and a.body == b.body, q
    finally:
        lite.stop()
        bq.stop()


def test_reload_is_idempotent_per_insert_id_on_the_fake(fake, tmp_path):
    """Resending the same rows adds nothing: insertId = _id (the emulator ignores insertId)."""
    src = generate(str(tmp_path / "f.ndjson"), 300, seed=5)
    for _ in range(2):
        r = fake_load(fake, src, "test.ds.idem")
        assert r.returncode == 0, r.stderr
    assert fake_stats(fake)["rows"]["ds.idem"] == 300


# ---------------------------------------------------------------- faults, on the fake

@pytest.fixture(scope="module")
def fake():
    api, meta = bigquery_faults.serve()
    yield f"127.0.0.1:{api.server_address[1]}", f"127.0.0.1:{meta.server_address[1]}"
    api.shutdown()
    meta.shutdown()


def fake_post(fake, path, body=None):
    req = urllib.request.Request(f"http://{fake[0]}{path}", method="POST", data=json.dumps(body or {}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def fake_stats(fake):
    with urllib.request.urlopen(f"http://{fake[0]}/_fake/stats", timeout=10) as r:
        return json.loads(r.read())


def fake_rows(fake, table):
    with urllib.request.urlopen(f"http://{fake[0]}/_fake/rows", timeout=10) as r:
        return json.loads(r.read()).get(table, [])


def fake_env(fake):
    """Against the fake as if it were Google: endpoint override with auth from the metadata fake."""
    return dict(COLIBRI_BIGQUERY_ENDPOINT=f"http://{fake[0]}", GCE_METADATA_HOST=fake[1],
                BIGQUERY_EMULATOR_HOST="", GOOGLE_APPLICATION_CREDENTIALS="")


def fake_load(fake, path, table="test.ds.flights", **env):
    return subprocess.run([BIN, "load", path], capture_output=True, text=True, timeout=300,
                          env=base_env(COLIBRI_STORE="bigquery:" + table, **fake_env(fake), **env))


@pytest.fixture
def clean_fake(fake):
    fake_post(fake, "/_fake/reset")
    return fake


def test_fake_schema_evolution_adds_nullable_columns_and_refuses_required_ones(clean_fake, tmp_path):
    """A table made by an older schema (no `fare`) gains the column when colibri starts with the
    current one (tables.patch); rows stored before read it as null, rows after carry it. A new
    REQUIRED column cannot be added to a table that has rows: colibri refuses to start and says
    which column and what to do."""
    fake = clean_fake
    flights = json.load(open(os.path.join(ROOT, "schema", "flights.json")))
    old = tmp_path / "old.json"
    old.write_text(json.dumps([c for c in flights if c["name"] != "fare"]))
    first = generate(str(tmp_path / "first.ndjson"), 20, seed=31)
    r = fake_load(fake, first, table="test.ds.evolve", COLIBRI_SCHEMA=str(old))
    assert r.returncode == 0, r.stderr

    second = generate(str(tmp_path / "second.ndjson"), 20, seed=32)
    r = fake_load(fake, second, table="test.ds.evolve", COLIBRI_LOG_LEVEL="info")
    assert r.returncode == 0, r.stderr
    assert "added 1 column(s) to ds.evolve" in r.stderr

    bq = Colibri("bigquery:test.ds.evolve", COLIBRI_BQ_CACHE_MS="0", **fake_env(fake))
    try:
        rows = json.loads(bq.get("/data?limit=100&fields=event_id,fare").body)["data"]
    finally:
        assert bq.stop() == 0
    fares = {row["event_id"]: row["fare"] for row in rows}
    want = {}
    for path in (first, second):
        for line in open(path):
            m = json.loads(line)
            want[m["event_id"]] = m.get("fare") if path == second else None
    assert len(fares) == 40 and fares == want
    assert any(v is not None for v in fares.values())

    required = tmp_path / "required.json"
    required.write_text(json.dumps(flights + [{"name": "gate", "type": "STRING", "mode": "REQUIRED"}]))
    r = fake_load(fake, second, table="test.ds.evolve", COLIBRI_SCHEMA=str(required))
    assert r.returncode != 0
    assert "has no column gate, which the schema requires" in r.stderr, r.stderr


def test_fake_429_503_bursts_are_retried(clean_fake, tmp_path):
    fake = clean_fake
    src = generate(str(tmp_path / "f.ndjson"), 1200, seed=3)
    fake_post(fake, "/_fake/faults", {"status": {"insertAll": [429, 503, 503, 500, 429],
                                                 "tables.get": [503, 429]}})
    # one batch of 1200 however slowly the lines are read (a slower build would flush by age)
    r = fake_load(fake, src, COLIBRI_BATCH_MAX="1200", COLIBRI_BATCH_MS="60000")
    assert r.returncode == 0, r.stderr
    st = fake_stats(fake)
    assert st["rows"]["ds.flights"] == 1200                       # all of them, once
    assert st["calls"]["insertAll"] == 3 + 5                      # 500+500+200 rows, plus 5 refused calls
    assert sorted(st["insert_rows"]) == [200, 500, 500]           # never more than 500 rows a request
    assert st["calls"]["tables.get"] >= 3


def test_fake_invalid_rows_are_dead_lettered_and_stopped_rows_resent(clean_fake, tmp_path):
    fake = clean_fake
    src = generate(str(tmp_path / "f.ndjson"), 40, seed=4)
    lines = open(src).read().splitlines()
    bad = [json.loads(lines[i])["event_id"] for i in (3, 17)]
    fake_post(fake, "/_fake/faults", {"bad_event_ids": bad})
    r = fake_load(fake, src)
    assert r.returncode == 0, r.stderr      # colibri accepted every line; BigQuery refused two
    st = fake_stats(fake)
    assert st["rows"]["ds.flights"] == 38
    # one request with all 40 (2 invalid, 38 stopped), one resend of the 38, then the dead letters
    assert st["insert_rows"] == [40, 38, 2]
    stored = {r["event_id"] for r in fake_rows(fake, "ds.flights")}
    assert not stored & set(bad)
    dead = fake_rows(fake, "ds._dead_letters")
    assert len(dead) == 2
    for d in dead:
        assert "BigQuery invalid at event_id" in d["reason"]
        assert json.loads(d["payload"])["json"]["event_id"] in bad
        assert d["id"].startswith("load:") and d["source"] == "load"


def test_fake_incomplete_job_is_polled_and_tokens_refreshed(clean_fake, tmp_path):
    fake = clean_fake
    src = generate(str(tmp_path / "f.ndjson"), 300, seed=6)
    db = str(tmp_path / "f.db")
    assert load(db, src).returncode == 0
    subprocess.run(["sqlite3", db, f"UPDATE flights SET _ingested_at = {INGESTED}"], check=True)
    assert fake_load(fake, src).returncode == 0
    # pin _ingested_at on the fake's copy too
    with bigquery_faults.STATE_LOCK:
        for row in bigquery_faults.STATE["tables"][("ds", "flights")]["rows"]:
            row["_ingested_at"] = "2026-01-01T00:00:00.000000Z"
    # the first token expires in 61 s (so it is refreshed 60 s early, i.e. now), later ones last an hour;
    # every token is refused after 25 calls, as if it had expired early
    fake_post(fake, "/_fake/faults", {"incomplete_polls": 2, "token_ttls": [61, 3600], "revoke_after": 25,
                                      "delay_ms": {"getQueryResults": 100}})
    lite = Colibri("sqlite:" + db)
    bq = Colibri("bigquery:test.ds.flights", COLIBRI_BQ_CACHE_MS="0", **fake_env(fake))
    try:
        time.sleep(1.2)             # the first token is now within 60 s of its expiry
        before = fake_stats(fake)
        for limit in (30, 300):
            want = follow(lite, "", limit)
            got = follow(bq, "", limit)
            assert got == want
        st = fake_stats(fake)
        queries = st["calls"]["query"] - before["calls"].get("query", 0)
        polls = st["calls"]["getQueryResults"] - before["calls"].get("getQueryResults", 0)
        # jobs.query said "not complete", so did two polls; the third poll brought the rows
        assert queries == 10 + 1 and polls == 3 * queries
        assert st["tokens_issued"] >= 3                           # the 61 s one, and refreshes after 401s
        assert st["unauthorized"] >= 1                            # a refused token was refreshed, not fatal
        assert len(st["tokens_seen"]) >= 3
    finally:
        lite.stop()
        assert bq.stop() == 0


def test_fake_identical_gets_within_ttl_cost_one_query(clean_fake, tmp_path):
    fake = clean_fake
    src = generate(str(tmp_path / "f.ndjson"), 100, seed=8)
    assert fake_load(fake, src).returncode == 0
    bq = Colibri("bigquery:test.ds.flights", COLIBRI_BQ_CACHE_MS="5000", **fake_env(fake))
    try:
        before = fake_stats(fake)["calls"].get("query", 0)
        bodies = {bq.get("/data?limit=10&fields=_id,event_time").body for _ in range(200)}
        assert len(bodies) == 1
        assert fake_stats(fake)["calls"]["query"] - before == 1
        bq.get("/data?limit=11&fields=_id,event_time")              # a different query is not served from cache
        assert fake_stats(fake)["calls"]["query"] - before == 2
    finally:
        assert bq.stop() == 0


def test_fake_failures_map_to_http_statuses(clean_fake, tmp_path):
    fake = clean_fake
    src = generate(str(tmp_path / "f.ndjson"), 10, seed=9)
    assert fake_load(fake, src).returncode == 0
    bq = Colibri("bigquery:test.ds.flights", COLIBRI_BQ_CACHE_MS="0", **fake_env(fake))
    try:
        assert bq.get("/readyz").status == 200
        fake_post(fake, "/_fake/faults", {"status": {"tables.get": [404]}})
        assert bq.get("/readyz").status == 503                     # the table is gone: not ready
        before = fake_stats(fake)["calls"].get("query", 0)
        fake_post(fake, "/_fake/faults", {"status": {"query": [400]}})
        r = bq.get("/data?limit=5")                                 # our SQL refused: never retried
        assert r.status == 500 and r.json()["error"]["status"] == 500
        assert fake_stats(fake)["calls"]["query"] - before == 1
        fake_post(fake, "/_fake/faults", {"status": {"query": [503] * 8}})
        r = bq.get("/data?limit=5")                                 # down for longer than the retries
        assert r.status == 503 and "Retry-After" in r.headers
        assert fake_stats(fake)["calls"]["query"] - before == 1 + 8
        assert bq.get("/data?limit=5").status == 200                # and back
    finally:
        assert bq.stop() == 0


def test_fake_no_emulator_and_no_metadata_fails_clearly(tmp_path):
    src = generate(str(tmp_path / "f.ndjson"), 1, seed=1)
    dead = free_port()
    r = subprocess.run([BIN, "load", src], capture_output=True, text=True, timeout=120,
                       env=base_env(COLIBRI_STORE="bigquery:test.ds.flights",
                                    COLIBRI_BIGQUERY_ENDPOINT=f"http://127.0.0.1:{dead}",
                                    GCE_METADATA_HOST=f"127.0.0.1:{dead}", COLIBRI_LOG_LEVEL="error"))
    assert r.returncode != 0
    assert "cannot open the BigQuery store" in r.stderr


def test_fake_sigterm_while_the_store_hangs(clean_fake, tmp_path):
    """A query that the store does not answer (20 s) is in progress when SIGTERM comes: colibri
    still exits 0 within Cloud Run's 10 s, leaving that request to the end of the process."""
    fake = clean_fake
    src = generate(str(tmp_path / "f.ndjson"), 10, seed=9)
    assert fake_load(fake, src).returncode == 0
    bq = Colibri("bigquery:test.ds.flights", COLIBRI_BQ_CACHE_MS="0", **fake_env(fake))
    try:
        fake_post(fake, "/_fake/faults", {"delay_ms": {"query": 20000}})
        outcome = {}

        def hang():
            try:
                outcome["status"] = bq.get("/data?limit=5").status
            except OSError as e:            # the process ends under it
                outcome["error"] = type(e).__name__
        hung = threading.Thread(target=hang, daemon=True)
        hung.start()
        time.sleep(1)
    finally:
        t0 = time.monotonic()
        rc = bq.stop()
        took = time.monotonic() - t0
        fake_post(fake, "/_fake/reset")
    print(f"\n[sigterm, store hangs] exit {rc} in {took:.1f} s")
    assert rc == 0 and took < 10, (rc, took, bq.log[-2000:])
    assert "abandoned" in bq.log
    hung.join(timeout=5)
    assert "error" in outcome, outcome      # abandoned: the connection closes, no answer is made up
