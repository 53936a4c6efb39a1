"""GET /data over real HTTP against 100,000 generated rows, checked against
the sqlite3 shell on the same database file."""
import csv
import io
import json
import re
import urllib.parse
from datetime import datetime, timezone

import pytest

from pylib.server import sql


def micros(rfc3339):
    dt = datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return int((dt - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds() * 1_000_000)


def page_through(server, query, limit=1000):
    """Every row of a query, following next_cursor; checks Link agrees with it."""
    rows, cursor, pages = [], None, 0
    while True:
        q = f"{query}&limit={limit}" if query else f"limit={limit}"
        if cursor:
            q += "&cursor=" + urllib.parse.quote(cursor)
        r = server.get("/data?" + q)
        assert r.status == 200, r.body
        body = r.json()
        rows += body["data"]
        cursor = body["next_cursor"]
        pages += 1
        if cursor is None:
            assert "Link" not in r.headers
            return rows
        assert f"cursor={cursor}>" in r.headers["Link"] and 'rel="next"' in r.headers["Link"]
        assert len(body["data"]) == limit
        assert pages < 10_000


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_paging_yields_every_row_once_in_strict_order(server, dataset, order):
    rows = page_through(server, f"order={order}&fields=_id,event_time")
    ids = [r["_id"] for r in rows]
    assert len(ids) == 100_000
    assert len(set(ids)) == 100_000
    keys = [(micros(r["event_time"]), r["_id"]) for r in rows]
    expected = sorted(keys, reverse=(order == "desc"))
    assert keys == expected
    assert all(a != b for a, b in zip(keys, keys[1:]))
    assert ids == sql(dataset, f"SELECT _id FROM flights ORDER BY event_time {order}, _id {order}")


def pick(db, query):
    return sql(db, query)[0]


def filter_cases(db):
    """(query string, equivalent WHERE clause) for every operator and column type."""
    carrier = pick(db, "SELECT carrier FROM flights GROUP BY carrier ORDER BY count(*) DESC LIMIT 1")
    origins = sql(db, "SELECT origin FROM flights GROUP BY origin ORDER BY count(*) DESC LIMIT 3")
    fid = pick(db, "SELECT flight_id FROM flights LIMIT 1 OFFSET 500")
    prefix = fid[:4]
    ts_mid = pick(db, "SELECT scheduled_departure FROM flights ORDER BY scheduled_departure LIMIT 1 OFFSET 50000")
    ts_iso = datetime.fromtimestamp(int(ts_mid) / 1e6, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    day = pick(db, "SELECT flight_date FROM flights ORDER BY flight_date LIMIT 1 OFFSET 30000")
    ev = pick(db, "SELECT event_time FROM flights ORDER BY event_time LIMIT 1 OFFSET 20000")
    ev_iso = datetime.fromtimestamp(int(ev) / 1e6, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ev2 = pick(db, "SELECT event_time FROM flights ORDER BY event_time LIMIT 1 OFFSET 60000")
    ev2_iso = datetime.fromtimestamp(int(ev2) / 1e6, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    one_id = pick(db, "SELECT _id FROM flights LIMIT 1 OFFSET 777")
    carriers = sql(db, "SELECT carrier FROM flights GROUP BY carrier ORDER BY count(*) DESC LIMIT 2")
    q = urllib.parse.quote
    in_carriers = "carrier IN (" + ",".join(f"'{c}'" for c in carriers) + ")"
    return [
        (f"carrier={carrier}", f"carrier = '{carrier}'"),
        (f"carrier__ne={carrier}", f"carrier <> '{carrier}'"),
        ("flight_number__gt=5000", "flight_number > 5000"),
        ("delay_minutes__gte=30", "delay_minutes >= 30"),
        ("delay_minutes__lt=5", "delay_minutes < 5"),
        ("passengers__lte=100", "passengers <= 100"),
        ("distance_km__gt=1500.5", "distance_km > 1500.5"),
        ("distance_km__lte=800", "distance_km <= 800"),
        (f"scheduled_departure__gte={q(ts_iso)}", f"scheduled_departure >= {ts_mid}"),
        (f"scheduled_departure__lt={q(ts_iso)}", f"scheduled_departure < {ts_mid}"),
        (f"flight_date={day}", f"flight_date = '{day}'"),
        (f"flight_date__gt={day}", f"flight_date > '{day}'"),
        (f"origin__in={','.join(origins)}", "origin IN (" + ",".join(f"'{o}'" for o in origins) + ")"),
        ("flight_number__in=1,2,3,800,801,802,803", "flight_number IN (1,2,3,800,801,802,803)"),
        (f"flight_id__prefix={prefix}", f"substr(flight_id, 1, {len(prefix)}) = '{prefix}'"),
        ("actual_departure__isnull=true", "actual_departure IS NULL"),
        ("actual_departure__isnull=false", "actual_departure IS NOT NULL"),
        ("on_time=true", "on_time = 1"),
        ("on_time__ne=true", "on_time <> 1"),
        ("status=cancelled", "status = 'cancelled'"),
        (f"since={q(ev_iso)}&until={q(ev2_iso)}", f"event_time >= {ev} AND event_time < {ev2}"),
        (f"_id={q(one_id)}", f"_id = '{one_id}'"),
        # x-cluster columns: one index walk per value, or per value found in the index
        (f"carrier__in={carriers[0]},{carriers[1]},{carriers[0]}", in_carriers),
        (f"carrier__in={','.join(carriers)}&destination__prefix=M", f"{in_carriers} AND substr(destination, 1, 1) = 'M'"),
        ("destination__prefix=M", "substr(destination, 1, 1) = 'M'"),
        ("origin__gte=B&origin__lt=D&delay_minutes__gt=60", "origin >= 'B' AND origin < 'D' AND delay_minutes > 60"),
        (f"status__in=diverted,cancelled&origin__in={','.join(origins)}",
         "status IN ('diverted','cancelled') AND origin IN (" + ",".join(f"'{o}'" for o in origins) + ")"),
        (f"carrier={carrier}&delay_minutes__gt=10&origin__in={','.join(origins)}",
         f"carrier = '{carrier}' AND delay_minutes > 10 AND origin IN (" + ",".join(f"'{o}'" for o in origins) + ")"),
    ]


def test_every_filter_matches_the_sqlite3_shell(server, dataset):
    for query, where in filter_cases(dataset):
        for order in ("desc", "asc"):
            got = [r["_id"] for r in page_through(server, f"{query}&order={order}&fields=_id")]
            want = sql(dataset, f"SELECT _id FROM flights WHERE {where} ORDER BY event_time {order}, _id {order}")
            assert got == want, f"{query} ({order}): {len(got)} rows, sqlite3 says {len(want)}"
            assert want or query.startswith("status=cancelled"), f"{query} matched nothing: a weak case"


def test_values_are_typed(server):
    row = server.get("/data?limit=1&actual_departure__isnull=false&distance_km__isnull=false").json()["data"][0]
    assert isinstance(row["flight_number"], int)
    assert isinstance(row["distance_km"], float) or isinstance(row["distance_km"], int)
    assert isinstance(row["on_time"], (bool, type(None)))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", row["event_time"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", row["flight_date"])
    assert row["_source"] == "load"


def test_fields_and_formats_agree(server):
    fields = "event_id,carrier,flight_number,distance_km,on_time,event_time,actual_departure"
    j = server.get(f"/data?limit=50&fields={fields}")
    assert j.headers["Content-Type"] == "application/json"
    rows = j.json()["data"]
    assert list(rows[0].keys()) == fields.split(",")

    nd = server.get(f"/data?limit=50&fields={fields}&format=ndjson")
    assert nd.headers["Content-Type"] == "application/x-ndjson"
    assert [json.loads(line) for line in nd.body.decode().splitlines()] == rows
    assert "Link" in nd.headers

    c = server.get(f"/data?limit=50&fields={fields}&format=csv")
    assert c.headers["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(c.body.decode(), newline="")))
    assert table[0] == fields.split(",")
    assert len(table) == 51
    for row, rec in zip(rows, table[1:]):
        assert rec[0] == row["event_id"]
        assert rec[2] == str(row["flight_number"])
        assert rec[4] == ("" if row["on_time"] is None else str(row["on_time"]).lower())
        assert rec[6] == (row["actual_departure"] or "")


def test_get_by_id(server, dataset):
    one = sql(dataset, "SELECT _id, event_id FROM flights LIMIT 1 OFFSET 1234")[0].split("|")
    r = server.get("/data/" + urllib.parse.quote(one[0], safe=""))
    assert r.status == 200
    assert r.json()["_id"] == one[0] and r.json()["event_id"] == one[1]
    missing = server.get("/data/no-such-row")
    assert missing.status == 404
    assert missing.json()["error"]["code"] == "not_found"


def forge(cursor):
    flipped = "A" if cursor[10] != "A" else "B"
    return cursor[:10] + flipped + cursor[11:]


BAD_REQUESTS = [
    ("/data?nosuchcolumn=1", 400, "nosuchcolumn"),
    ("/data?carrier__like=LA", 400, "like"),
    ("/data?flight_number=12abc", 400, "flight_number"),
    ("/data?flight_number__gt=1.5", 400, "flight_number"),
    ("/data?limit=0", 400, "limit"),
    ("/data?limit=1001", 400, "limit"),
    ("/data?limit=ten", 400, "limit"),
    ("/data?order=sideways", 400, "order"),
    ("/data?format=xml", 400, "format"),
    ("/data?since=yesterday", 400, "since"),
    ("/data?carrier=%zz", 400, "%"),
    ("/data?carrier=%4", 400, "%"),
    ("/data?fields=carrier,nope", 400, "nope"),
    ("/data?on_time__gt=true", 400, "on_time"),
    ("/data?cursor=AAAA", 400, "cursor"),
    ("/data?cursor=not-base64!", 400, "cursor"),
    ("/data/", 404, None),
    ("/nowhere", 404, None),
    ("/data?x=" + "a" * 24_000, 414, None),   # past 16 KiB, within the 32 KiB head buffer
]


@pytest.mark.parametrize("path,status,mention", BAD_REQUESTS)
def test_bad_requests_get_the_json_error_envelope(server, path, status, mention):
    r = server.get(path)
    assert r.status == status
    assert r.headers["Content-Type"] == "application/json"
    err = r.json()["error"]
    assert err["status"] == status and err["code"] and err["message"]
    if mention:
        assert mention in err["message"]
    assert server.get("/healthz").status == 200


def test_forged_truncated_and_foreign_cursors_are_refused(server):
    first = server.get("/data?limit=10&carrier__ne=ZZ").json()
    cursor = first["next_cursor"]
    assert server.get("/data?limit=10&carrier__ne=ZZ&cursor=" + cursor).status == 200
    for bad in (forge(cursor), cursor[:-3], cursor[:20]):
        r = server.get("/data?limit=10&carrier__ne=ZZ&cursor=" + bad)
        assert r.status == 400 and "cursor" in r.json()["error"]["message"]
    # the same cursor with another filter or order belongs to another query
    assert server.get("/data?limit=10&carrier__ne=YY&cursor=" + cursor).status == 400
    assert server.get("/data?limit=10&carrier__ne=ZZ&order=asc&cursor=" + cursor).status == 400
    # limit, fields and format may change between pages
    assert server.get("/data?limit=3&fields=_id&format=csv&carrier__ne=ZZ&cursor=" + cursor).status == 200


def test_post_to_data_is_405_with_allow(server):
    r = server.get("/data", method="POST", data=b"{}")
    assert r.status == 405
    assert r.headers["Allow"] == "GET, HEAD"
    assert r.json()["error"]["status"] == 405


def test_request_id_is_echoed_or_made(server):
    assert server.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"] == "abc-123"
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert server.get("/healthz", headers={"traceparent": tp}).headers["X-Request-Id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert re.fullmatch(r"[0-9a-f]{32}", server.get("/healthz").headers["X-Request-Id"])


def test_readyz_and_openapi(server):
    assert server.get("/readyz").json() == {"status": "ready", "store": "sqlite"}
    doc = server.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    props = doc["components"]["schemas"]["Row"]["properties"]
    assert props["flight_number"]["type"] == "integer" and props["flight_number"]["format"] == "int64"
    names = {p["name"] for p in doc["paths"]["/data"]["get"]["parameters"]}
    assert {"limit", "cursor", "order", "since", "until", "fields", "format",
            "carrier", "carrier__prefix", "delay_minutes__gte", "actual_departure__isnull"} <= names
    assert "on_time__gt" not in names


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_gzip_when_asked_same_bytes_otherwise(server, fmt):
    """Accept-Encoding: gzip gets the same body gzip'd, with Vary; q=0 and tiny bodies do not."""
    import gzip
    path = f"/data?limit=50&format={fmt}"
    plain = server.get(path)
    z = server.get(path, headers={"Accept-Encoding": "gzip, deflate"})
    assert plain.status == z.status == 200
    assert plain.headers.get("Content-Encoding") is None
    assert z.headers["Content-Encoding"] == "gzip"
    assert plain.headers["Vary"] == z.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(z.body) == plain.body and len(z.body) < len(plain.body) / 2
    assert int(z.headers["Content-Length"]) == len(z.body)
    for refused in ("gzip;q=0", "identity", "gzip;q=0, *"):
        r = server.get(path, headers={"Accept-Encoding": refused})
        assert r.headers.get("Content-Encoding") is None and r.body == plain.body, refused
    assert server.get(path, headers={"Accept-Encoding": "*"}).headers["Content-Encoding"] == "gzip"
    tiny = server.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert tiny.headers.get("Content-Encoding") is None and "Vary" not in tiny.headers
