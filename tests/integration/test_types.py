"""The types of issue 18 end to end on SQLite (docs/types.md): `colibri load` of a nested
payments-like schema, then GET /data answers checked against an independent oracle (Python's
Decimal, json and csv over the source rows): values in BigQuery's JSON representation, dead
letters with their reasons, dotted and __contains filters, exact NUMERIC ranges, fields= with
dotted names, CSV flattening, paging through a dotted filter, and /openapi.json.
"""
import csv
import io
import json
import random
from decimal import Decimal

import pytest

from pylib.server import BIN, Server, base_env  # noqa: F401
import subprocess

SCHEMA = [
    {"name": "payment_id", "type": "STRING", "mode": "REQUIRED"},
    {"name": "created_at", "type": "TIMESTAMP", "mode": "REQUIRED"},
    {"name": "amount", "type": "NUMERIC", "mode": "REQUIRED"},
    {"name": "currency", "type": "STRING", "x-cluster": True},
    {"name": "tags", "type": "STRING", "mode": "REPEATED"},
    {"name": "card", "type": "RECORD", "fields": [
        {"name": "brand", "type": "STRING", "mode": "REQUIRED"},
        {"name": "last4", "type": "STRING"},
        {"name": "expiry", "type": "DATE"}]},
    {"name": "items", "type": "RECORD", "mode": "REPEATED", "fields": [
        {"name": "sku", "type": "STRING"}, {"name": "qty", "type": "INT64"},
        {"name": "price", "type": "NUMERIC"}]},
    {"name": "raw", "type": "JSON"},
    {"name": "fingerprint", "type": "BYTES"},
    {"name": "settled_at", "type": "DATETIME"},
    {"name": "cutoff", "type": "TIME"},
    {"name": "location", "type": "GEOGRAPHY"},
]
BRANDS = ["VISA", "AMEX", "MC"]
TAGS = ["priority", "eu", "refund", "manual"]


def canon(d):
    """BigQuery's canonical NUMERIC text of a Decimal."""
    s = format(d.normalize(), "f")
    return "0" if s in ("0", "-0") else s


def make_rows(n, seed=5):
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        amount = Decimal(rnd.randint(-10**6, 10**6)) / Decimal(10 ** rnd.randint(0, 9))
        r = {"payment_id": f"p{i:04d}", "created_at": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
             "amount": str(amount) if i % 2 else float(amount) if abs(amount) < 1000 and i % 3 == 0 else str(amount),
             "tags": rnd.sample(TAGS, rnd.randint(0, 3))}
        if i % 5:
            r["card"] = {"brand": rnd.choice(BRANDS), "last4": f"{rnd.randint(0, 9999):04d}"}
            if i % 3:
                r["card"]["expiry"] = f"202{rnd.randint(6, 9)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}"
        if i % 4 == 0:
            r["items"] = [{"sku": f"S{k}", "qty": rnd.randint(1, 5), "price": f"{rnd.randint(1, 999)}.{rnd.randint(0, 99):02d}"}
                          for k in range(rnd.randint(1, 3))]
        if i % 7 == 0:
            r["raw"] = {"note": "x, \"y\"", "n": [1, 2]}
            r["fingerprint"] = "aGVsbG8="
            r["settled_at"] = "2026-01-02 10:00:00"
            r["cutoff"] = "17:30:00.25"
            r["location"] = "point(-70.6 -33.45)"
        rows.append(r)
    return rows


BAD = [
    ({"payment_id": "b1", "created_at": "2026-01-01T05:00:00Z", "amount": "1.0000000001"},
     "field 'amount': NUMERIC takes at most 9 fractional digits"),
    ({"payment_id": "b2", "created_at": "2026-01-01T05:00:00Z", "amount": "1", "card": {"last4": "1"}},
     "missing required field 'card.brand'"),
    ({"payment_id": "b3", "created_at": "2026-01-01T05:00:00Z", "amount": "1", "tags": ["a", None]},
     "field 'tags[1]': null element in an array"),
    ({"payment_id": "b4", "created_at": "2026-01-01T05:00:00Z", "amount": "1", "items": [{"qty": "x"}]},
     "field 'items[0].qty': expected INT64"),
    ({"payment_id": "b5", "created_at": "2026-01-01T05:00:00Z", "amount": "1", "location": "POINT(1 95)"},
     "field 'location': expected GEOGRAPHY (WKT): latitude out of range"),
    ({"payment_id": "b6", "created_at": "2026-01-01T05:00:00Z", "amount": "1", "fingerprint": "aGVsbG8"},
     "field 'fingerprint': expected BYTES (base64)"),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("types")
    schema = d / "payments.json"
    schema.write_text(json.dumps(SCHEMA))
    rows = make_rows(240)
    src = d / "rows.ndjson"
    with open(src, "w") as f:
        for r in rows + [b for b, _ in BAD]:
            f.write(json.dumps(r) + "\n")
    db = str(d / "p.db")
    env = dict(COLIBRI_SCHEMA=str(schema), COLIBRI_EVENT_TIME="created_at")
    r = subprocess.run([BIN, "load", str(src)], env=base_env(COLIBRI_STORE="sqlite:" + db, **env),
                       capture_output=True, text=True)
    s = Server(db, **env)
    yield s, rows, r
    assert s.stop() == 0


def page_all(s, qs):
    out, cur = [], None
    while True:
        body = s.get(f"/data?order=asc&limit=37&{qs}" + (f"&cursor={cur}" if cur else "")).json()
        out += body["data"]
        cur = body["next_cursor"]
        if not cur:
            return out


def ids(s, qs):
    return [r["payment_id"] for r in page_all(s, "fields=payment_id&" + qs)]


def test_bad_messages_are_dead_letters_with_reasons(data):
    _, rows, load = data
    assert f"{len(rows)} rows stored" in load.stderr and f"{len(BAD)} rejected" in load.stderr
    for i, (_, why) in enumerate(BAD):
        assert f"line {len(rows) + i + 1}: {why}" in load.stderr


def test_values_in_bigquery_json_representation(data):
    s, rows, _ = data
    got = page_all(s, "")
    assert [g["payment_id"] for g in got] == [r["payment_id"] for r in rows]
    for g, r in zip(got, rows):
        assert g["amount"] == canon(Decimal(str(r["amount"])))
        assert g["tags"] == r["tags"]
        card = r.get("card")
        assert g["card"] == (None if card is None else
                             {"brand": card["brand"], "last4": card["last4"], "expiry": card.get("expiry")})
        assert list(g["card"] or {}) == ([] if card is None else ["brand", "last4", "expiry"])
        assert g["items"] == [{"sku": it["sku"], "qty": it["qty"], "price": canon(Decimal(it["price"]))}
                              for it in r.get("items", [])]
        if "raw" in r:
            assert g["raw"] == json.dumps(r["raw"], separators=(",", ":"))
            assert (g["fingerprint"], g["settled_at"], g["cutoff"], g["location"]) == (
                "aGVsbG8=", "2026-01-02T10:00:00.000000", "17:30:00.250000", "POINT(-70.6 -33.45)")
        else:
            assert g["raw"] is g["fingerprint"] is g["settled_at"] is g["location"] is None


@pytest.mark.parametrize("qs,pred", [
    ("card.brand=VISA", lambda r: r.get("card", {}).get("brand") == "VISA"),
    ("card.brand__ne=VISA", lambda r: "card" in r and r["card"]["brand"] != "VISA"),
    ("card.brand__in=AMEX,MC", lambda r: r.get("card", {}).get("brand") in ("AMEX", "MC")),
    ("card.last4__lt=0500", lambda r: "card" in r and r["card"]["last4"] < "0500"),
    ("card.expiry__gte=2028-01-01", lambda r: r.get("card", {}).get("expiry", "") >= "2028-01-01"),
    ("card.expiry__isnull=true", lambda r: not r.get("card", {}).get("expiry")),
    ("card__isnull=true", lambda r: "card" not in r),
    ("tags__contains=eu", lambda r: "eu" in r["tags"]),
    ("tags__contains=eu&card.brand=MC", lambda r: "eu" in r["tags"] and r.get("card", {}).get("brand") == "MC"),
    ("amount__lt=0", lambda r: Decimal(str(r["amount"])) < 0),
    ("amount__gte=9.9&amount__lte=1000", lambda r: Decimal("9.9") <= Decimal(str(r["amount"])) <= 1000),
    ("amount__gt=-0.000001", lambda r: Decimal(str(r["amount"])) > Decimal("-0.000001")),
    ("fingerprint=aGVsbG8%3D", lambda r: r.get("fingerprint") == "aGVsbG8="),
    ("raw__isnull=false", lambda r: "raw" in r),
    ("settled_at__gt=2026-01-02T09:59:59.999999", lambda r: "settled_at" in r),
    ("cutoff__lte=17:30:00.25", lambda r: "cutoff" in r),
])
def test_filters_match_the_oracle(data, qs, pred):
    s, rows, _ = data
    want = [r["payment_id"] for r in rows if pred(r)]
    assert want, qs             # every filter selects something...
    assert len(want) < len(rows), qs                # ...and not everything
    assert ids(s, qs) == want


def test_numeric_equality_is_exact(data):
    s, rows, _ = data
    r = next(r for r in rows if isinstance(r["amount"], str) and "." in r["amount"])
    d = Decimal(r["amount"])
    for text in (canon(d), canon(d) + "000" if "." in canon(d) else canon(d) + ".000"):
        assert r["payment_id"] in ids(s, f"amount={text}")


def test_fields_with_dotted_names_and_csv(data):
    s, rows, _ = data
    got = s.get("/data?order=asc&limit=1000&fields=payment_id,card.brand,items.price").json()["data"]
    for g, r in zip(got, rows):
        assert list(g) == ["payment_id", "card", "items"]
        assert g["card"] == (None if "card" not in r else {"brand": r["card"]["brand"]})
        assert g["items"] == [{"price": canon(Decimal(it["price"]))} for it in r.get("items", [])]
    text = s.get("/data?order=asc&limit=1000&fields=payment_id,tags,card,raw,fingerprint&format=csv").body.decode()
    js = s.get("/data?order=asc&limit=1000&fields=payment_id,tags,card,raw,fingerprint").json()["data"]
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["payment_id", "tags", "card", "raw", "fingerprint"]
    for line, j in zip(table[1:], js):
        assert json.loads(line[1]) == j["tags"] and (line[2] == "" if j["card"] is None else json.loads(line[2]) == j["card"])
        assert line[3] == (j["raw"] or "") and line[4] == (j["fingerprint"] or "")


@pytest.mark.parametrize("qs,mention", [
    ("tags=eu", "use tags__contains"), ("card=x", "is a RECORD"), ("items.sku=S1", "unknown parameter"),
    ("amount=1e3", "plain decimal"), ("location=POINT(1%202)", "isnull only"), ("fields=card.nope", "unknown column"),
])
def test_what_does_not_apply_is_a_400(data, qs, mention):
    s, _, _ = data
    r = s.get("/data?" + qs)
    assert r.status == 400 and mention in r.json()["error"]["message"]


def test_openapi_describes_every_type(data):
    s, _, _ = data
    doc = s.get("/openapi.json").json()
    props = doc["components"]["schemas"]["Row"]["properties"]
    assert props["amount"]["type"] == "string" and "pattern" in props["amount"]
    assert props["fingerprint"]["format"] == "byte"
    assert props["card"]["type"] == "object" and list(props["card"]["properties"]) == ["brand", "last4", "expiry"]
    assert props["items"]["type"] == "array" and props["items"]["items"]["properties"]["qty"]["type"] == "integer"
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "description": ""}
    names = {p["name"] for p in doc["paths"]["/data"]["get"]["parameters"]}
    assert {"card.brand", "card.last4__in", "card.expiry__gte", "tags__contains", "amount__lt"} <= names
    assert not {"tags", "card", "items.sku", "location__gt", "fingerprint__gt"} & names
