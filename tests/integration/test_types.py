"""The BigQuery type system (issue 18, docs/types.md) on SQLite, black-box, with the nested
example schema schema/examples/payments.json.

One database holds generated payments (`flightgen --schema payments`, 4% malformed, with a
manifest naming the field each bad line must be refused for) and hand-written rows: one row
per round-trip case (each type's valid and boundary inputs and the exact text the API must
give back), and one line per invalid case (the field path the reason must name). Python is
the oracle: it parses the generated lines with Decimal and answers every filter itself.

Then: dotted filters, `__contains`, exact NUMERIC ranges beyond a double's precision,
`fields=` with dotted names, CSV flattening, the OpenAPI document (checked as test_contract.py
does: schemathesis with every check, and every page validated against the document's row
schema), records nested 15 levels deep (16 refused), and one path through a real Kafka broker.
"""
import csv
import io
import json
import os
import random
import re
import signal
import subprocess
import urllib.parse
from decimal import Decimal

import pytest

from pylib.server import (BIN, PAYMENTS, PAYMENTS_ENV, PAYMENTS_GEN, Server, base_env, generate, load,
                          sql)

GENERATED, SEED, MALFORMED_PCT = 3000, 21, 4
q = urllib.parse.quote

# A known limitation found by these tests: its test is xfail with this reason. (HELD_OUT: the
# generated kinds of a core bug kept out of the shared data, where it would hide every other
# check behind the one bug; none now.)
HELD_OUT = {}
HELD_OUT_CASE = None
REPEATED_OBJECT_KIND, REPEATED_OBJECT_CASE = "bad:array_type:items", ("items", {"sku": "a"})
BIG_INT_LITERAL = ("limitation: a NUMERIC given as a JSON integer literal beyond int64 (28812488471823812629631615) "
                   "is a dead letter 'message is not valid JSON: too big integer' (jsonread.c, as jansson), though it "
                   "is valid JSON; sent as a string it is exact")


def held_out(lines, kinds):
    """lines and kinds without the generated kinds in HELD_OUT."""
    keep = [i for i, k in enumerate(kinds) if k not in HELD_OUT]
    return [lines[i] for i in keep], [kinds[i] for i in keep]


class Raw(str):
    """A value written into the message as this JSON text, unchanged (1e2, not 100.0)."""


ABSENT = object()      # the key is left out of the message


def message(pid, **cols):
    """A payments line: the REQUIRED columns filled in, then cols (ABSENT drops a key)."""
    m = {"payment_id": pid, "created_at": "2026-03-01T10:00:00Z", "merchant_id": "m_test", "status": "captured",
         "amount": "1", "currency": "USD"}
    m.update(cols)
    parts = []
    for k, v in m.items():
        if v is ABSENT:
            continue
        parts.append(json.dumps(k) + ":" + (v if isinstance(v, Raw) else json.dumps(v, ensure_ascii=False)))
    return "{" + ",".join(parts) + "}"


AMEX = {"expiry": "2027-01-31", "brand": "AMEX", "last4": "0005"}
CUSTOMER = {"id": "c1", "address": {"city": "Ñuñoa \"q\" \\ 😀", "country": "CL"}}
ITEMS = [{"qty": "3", "price": 1.25, "sku": "x"}, {"sku": None}]
RAW = {"b": [1, 2.5, "x"], "a": {"z": None}, "s": "é"}
LONG = "99999999999999999999999999999.999999999"              # NUMERIC's largest value
BIG_LONG = "9" * 38 + "." + "9" * 38                            # BIGNUMERIC's, as docs/types.md counts its digits

# (column, value in the message, what GET /data must give back): each in a row of its own
ROUNDTRIP = [
    ("amount", "1.10", "1.1"),
    ("amount", 1.5, "1.5"),
    ("amount", Raw("1e2"), "100"),
    ("amount", "1.5e-3", "0.0015"),
    ("amount", "-0.000000001", "-0.000000001"),
    ("amount", "-0", "0"),
    ("amount", "100.000", "100"),
    ("amount", "0012.50", "12.5"),
    ("amount", "+7", "7"),
    ("amount", "1.50000000000", "1.5"),
    ("amount", LONG, LONG),
    ("amount", "-" + LONG, "-" + LONG),
    ("amount", "0.123456789", "0.123456789"),
    ("amount", "12345678901234567890.123456789", "12345678901234567890.123456789"),
    ("amount", "12345678901234567890.123456788", "12345678901234567890.123456788"),
    ("amount", Raw("9.9"), "9.9"),
    ("amount", "10", "10"),
    ("fee", "0.12345678901234567890123456789012345678", "0.12345678901234567890123456789012345678"),
    ("fee", BIG_LONG, BIG_LONG),
    ("fee", "-1e-38", "-0.00000000000000000000000000000000000001"),
    ("fee", None, None),
    ("tags", ["a", "b", "a"], ["a", "b", "a"]),
    ("tags", [], []),
    ("tags", None, []),
    ("tags", ABSENT, []),
    ("card", {"brand": "VISA"}, {"brand": "VISA", "last4": None, "expiry": None}),
    ("card", AMEX, {"brand": "AMEX", "last4": "0005", "expiry": "2027-01-31"}),
    ("card", None, None),
    ("customer", CUSTOMER,
     {"id": "c1", "email": None, "address": {"country": "CL", "city": "Ñuñoa \"q\" \\ 😀", "postal_code": None}}),
    ("customer", {"id": "c2", "address": None}, {"id": "c2", "email": None, "address": None}),
    ("items", ITEMS,
     [{"sku": "x", "qty": 3, "price": "1.25"}, {"sku": None, "qty": None, "price": None}]),
    ("items", [], []),
    ("raw", RAW, '{"b":[1,2.5,"x"],"a":{"z":null},"s":"é"}'),
    ("raw", Raw('{ "spaced" : [ 1 , 2 ] }'), '{"spaced":[1,2]}'),
    ("raw", Raw('{"rate":0.1}'), '{"rate":0.1}'),
    ("raw", [1, "two"], '[1,"two"]'),
    ("raw", "just text", '"just text"'),
    ("raw", 42, "42"),
    ("raw", True, "true"),
    ("raw", None, None),
    ("fingerprint", "AAEC/w==", "AAEC/w=="),
    ("fingerprint", "", ""),
    ("settled_on", "2026-03-02", "2026-03-02"),
    ("settled_at", "2026-03-02 17:00:00.5", "2026-03-02T17:00:00.500000"),
    ("settled_at", "2026-03-02T17:00:00", "2026-03-02T17:00:00.000000"),
    ("settled_at", "9999-12-31T23:59:59.999999", "9999-12-31T23:59:59.999999"),
    ("settled_at", "0001-01-01T00:00:00", "0001-01-01T00:00:00.000000"),
    ("cutoff", "17:00:00", "17:00:00.000000"),
    ("cutoff", "23:59:59.999999", "23:59:59.999999"),
    ("cutoff", "00:00:00.1", "00:00:00.100000"),
    ("location", "point(-70.5 -33.25)", "POINT(-70.5 -33.25)"),
    ("location", "POINT(1.50 2)", "POINT(1.5 2)"),
    ("location", "POINT(180 -90)", "POINT(180 -90)"),
    ("location", "LINESTRING(1 2,3 4)", "LINESTRING(1 2, 3 4)"),
    ("location", "POLYGON((0 0, 1 0, 1 1, 0 0))", "POLYGON((0 0, 1 0, 1 1, 0 0))"),
    ("location", "POINT EMPTY", "POINT EMPTY"),
]

# (column, value, the field path the reason must name, a phrase it must hold or None)
INVALID = [
    ("amount", "123456789012345678901234567890", "amount", "integer digits"),
    ("amount", "0.0000000001", "amount", "fractional digits"),
    ("amount", "1.2.3", "amount", None),
    ("amount", "abc", "amount", None),
    ("amount", "", "amount", None),
    ("amount", "1e", "amount", None),
    ("amount", True, "amount", None),
    ("amount", ABSENT, "amount", "missing"),
    ("fee", "0." + "1" * 39, "fee", "fractional digits"),
    ("fee", "1" * 39, "fee", "integer digits"),
    ("fingerprint", "AAEC/w=", "fingerprint", None),
    ("fingerprint", "AAEC/x==", "fingerprint", None),
    ("fingerprint", "not base64!", "fingerprint", None),
    ("fingerprint", 12, "fingerprint", None),
    ("location", "POINT(200 10)", "location", None),
    ("location", "POINT(10 95)", "location", None),
    ("location", "POINT(1 2", "location", None),
    ("location", "LINESTRING(1 1)", "location", None),
    ("location", "POLYGON((0 0, 1 0, 1 1, 0 0.5))", "location", None),
    ("location", "POLYGON((0 0, 1 0, 0 0))", "location", None),
    ("location", "POINT(a b)", "location", None),
    ("location", "CIRCLE(1 2)", "location", None),
    ("settled_at", "2026-01-01T10:00:00Z", "settled_at", None),
    ("settled_at", "2026-02-30T10:00:00", "settled_at", None),
    ("settled_at", "2026-01-01T10:00:00.1234567", "settled_at", None),
    ("cutoff", "24:00:00", "cutoff", None),
    ("cutoff", "12:60:00", "cutoff", None),
    ("cutoff", "7pm", "cutoff", None),
    ("card", {"last4": "4242"}, "card.brand", None),
    ("card", {"brand": "VISA", "expiry": "2027-02-30"}, "card.expiry", None),
    ("customer", {"id": "c", "address": {"city": "Lima"}}, "customer.address.country", None),
    ("customer", {"address": {"country": "CL"}}, "customer.id", None),
    ("customer", {"id": "c", "address": "CL"}, "customer.address", None),
    ("tags", ["a", None], "tags[1]", None),
    ("tags", [None], "tags[0]", None),
    ("tags", [["a"]], "tags[0]", None),
    ("items", [{"sku": "a"}, None], "items[1]", None),
    ("items", [{"sku": "a", "qty": "x"}], "items[0].qty", None),
    ("items", [{"sku": "a"}, {"sku": {"deep": 1}}], "items[1].sku", None),
    ("card", "VISA", "card", None),
    ("card", ["VISA"], "card", None),
    ("tags", "a", "tags", None),
    ("items", {"sku": "a"}, "items", None),
]


def signed_amounts(n=200, seed=5):
    """(amount as written in the message, its Decimal): signed, up to 29 integer digits and 9
    decimals; every other one a JSON number literal of all its digits (parsed exactly, never as a
    double)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        digits, frac = rnd.randint(1, 29), rnd.randint(0, 9)
        d = Decimal(f"{rnd.randint(-(10 ** (digits + frac) - 1), 10 ** (digits + frac) - 1)}e-{frac}")
        literal = i % 2 and not (frac == 0 and abs(d) >= 2 ** 63)       # BIG_INT_LITERAL: held out
        out.append((Raw(format(d, "f")) if literal else format(d, "f"), d))
    return out


AMOUNTS = signed_amounts()


def rt(col, value):
    """payment_id of the round-trip row of that case."""
    return next(f"rt-{i}" for i, (c, v, _) in enumerate(ROUNDTRIP) if c == col and v == value)


def canon(d):
    """The contract's canonical decimal text of a Decimal."""
    if d == 0:
        return "0"
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def load_lines(db, lines, tmp, name):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    return load(db, path, **PAYMENTS_ENV)


class Data:
    """The payments database: generated lines (with their manifest) + the hand-written cases."""

    def __init__(self, tmp):
        src = generate(os.path.join(tmp, "pay.ndjson"), GENERATED, seed=SEED,
                       extra=(*PAYMENTS_GEN, "--malformed-pct", str(MALFORMED_PCT),
                              "--manifest", os.path.join(tmp, "pay.manifest")))
        self.generated_lines = open(src, encoding="utf-8").read().splitlines()
        self.generated_kinds = open(os.path.join(tmp, "pay.manifest")).read().split()
        assert len(self.generated_lines) == len(self.generated_kinds) == GENERATED
        self.lines, self.kinds = held_out(self.generated_lines, self.generated_kinds)
        self.valid = [json.loads(line, parse_float=Decimal) for line, k in zip(self.lines, self.kinds) if k == "ok"]
        self.rt = [message(f"rt-{i}", **{col: value}) for i, (col, value, _) in enumerate(ROUNDTRIP)]
        self.bad = [message(f"bad-{i}", **{col: value}) for i, (col, value, _, _) in enumerate(INVALID)
                    if (col, value) != HELD_OUT_CASE]
        self.num = [message(f"num-{i}", amount=a) for i, (a, _) in enumerate(AMOUNTS)]
        self.all = self.lines + self.rt + self.num + self.bad
        self.db = os.path.join(tmp, "payments.db")
        self.load = load_lines(self.db, self.all, tmp, "all.ndjson")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return Data(str(tmp_path_factory.mktemp("types")))


@pytest.fixture(scope="module")
def server(data):
    s = Server(data.db, **PAYMENTS_ENV)
    yield s
    assert s.stop() == 0


def rows_of(server, query):
    """Every row of a query (JSON pages followed through next_cursor)."""
    out, cursor = [], None
    while True:
        path = f"/data?{query}&limit=1000" + (f"&cursor={q(cursor)}" if cursor else "")
        r = server.get(path)
        assert r.status == 200, (query, r.body[:500])
        body = r.json()
        out += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return out
        assert len(out) < 100_000


def one(server, pid, extra=""):
    r = server.get(f"/data?payment_id={q(pid)}{extra}")
    assert r.status == 200, r.body[:500]
    rows = r.json()["data"]
    assert len(rows) == 1, (pid, rows)
    return rows[0], r.body


# ---------------------------------------------------------------- ingestion

def test_load_stores_the_valid_and_dead_letters_the_rest_exactly(data):
    bad_lines = [i for i, k in enumerate(data.kinds) if k != "ok"]
    assert data.load.returncode == 1, data.load.stderr[-2000:]
    want_rows = len(data.valid) + len(data.rt) + len(data.num)
    want_dead = len(bad_lines) + len(data.bad)
    assert f"{want_rows} rows stored" in data.load.stderr and f"{want_dead} rejected" in data.load.stderr, \
        data.load.stderr[-2000:]
    assert sql(data.db, "SELECT count(*) FROM payments") == [str(want_rows)]
    assert sql(data.db, "SELECT count(*) FROM _dead_letters") == [str(want_dead)]
    for i in bad_lines:
        assert f"line {i + 1}: " in data.load.stderr
    for n in range(len(data.bad)):
        assert f"line {len(data.lines) + len(data.rt) + len(data.num) + n + 1}: " in data.load.stderr
    # every malformed kind of the generator is there, and each was refused for the right field
    kinds = {k.split(":")[1] for k in data.kinds if k != "ok"}
    assert kinds >= {"numeric_range", "numeric_scale", "bignumeric_scale", "base64", "wkt", "record_required",
                     "array_null", "record_type", "array_type", "item_type", "datetime", "time"}, kinds
    reasons = dict(sql_pairs(data.db, "SELECT payload, reason FROM _dead_letters"))
    for i in bad_lines:
        kind = data.kinds[i].split(":")
        reason = reasons[data.lines[i]]
        if len(kind) == 3:
            assert f"'{kind[2]}'" in reason, (kind, reason)
        if kind[1] in ("numeric_range",):
            assert "integer digits" in reason, reason
        if kind[1] in ("numeric_scale", "bignumeric_scale"):
            assert "fractional digits" in reason, reason


def sql_pairs(db, query):
    """(a, b) rows from the sqlite3 shell, as JSON (text with newlines or '|' stays whole)."""
    out = subprocess.run(["sqlite3", "-batch", "-json", db, query], capture_output=True, text=True, check=True)
    return [tuple(r.values()) for r in json.loads(out.stdout or "[]")]


@pytest.mark.parametrize("n", [n for n, (c, v, _, _) in enumerate(INVALID) if (c, v) != HELD_OUT_CASE],
                         ids=[f"{c}={v!r}"[:60] for c, v, _, _ in INVALID if (c, v) != HELD_OUT_CASE])
def test_invalid_value_is_a_dead_letter_naming_the_field(data, n):
    col, value, path, phrase = INVALID[n]
    got = sql_pairs(data.db, "SELECT reason, payload FROM _dead_letters WHERE payload LIKE "
                             f"'{{\"payment_id\":\"bad-{n}\",%'")
    assert len(got) == 1, got
    reason, payload = got[0]
    assert payload == message(f"bad-{n}", **{col: value})       # kept as it came
    assert f"'{path}'" in reason, reason
    if phrase:
        assert phrase in reason, reason
    assert sql(data.db, f"SELECT count(*) FROM payments WHERE payment_id = 'bad-{n}'") == ["0"]


def test_repeated_record_refuses_an_object(data, tmp_path):
    """A REPEATED RECORD given one object (not an array of them), generated and by hand, is a
    dead letter that names the column, as BigQuery refuses it."""
    lines = [line for line, k in zip(data.generated_lines, data.generated_kinds) if k == REPEATED_OBJECT_KIND]
    lines.append(message("held-out", **{REPEATED_OBJECT_CASE[0]: REPEATED_OBJECT_CASE[1]}))
    assert len(lines) > 1
    r = load_lines(str(tmp_path / "obj.db"), lines, str(tmp_path), "obj.ndjson")
    assert r.returncode == 1 and "0 rows stored" in r.stderr and f"{len(lines)} rejected" in r.stderr, r.stderr
    assert r.stderr.count("field 'items'") == len(lines), r.stderr


# ---------------------------------------------------------------- values out

@pytest.mark.parametrize("n", range(len(ROUNDTRIP)), ids=[f"{c}={v!r}"[:60] for c, v, _ in ROUNDTRIP])
def test_value_round_trips_to_the_contract_representation(server, n):
    col, _, want = ROUNDTRIP[n]
    row, body = one(server, f"rt-{n}")
    assert row[col] == want and type(row[col]) is type(want), (col, row[col], want)
    if isinstance(want, dict):
        assert list(row[col]) == list(want), "record fields in schema order"
    if isinstance(want, str):   # the exact bytes: a JSON string, not a number
        assert (f'"{col}":' + json.dumps(want, ensure_ascii=False)).encode() in body
    # every record is whole and every repeated column an array, whatever the row left out
    assert row["tags"] == [] or col == "tags"
    assert row["items"] == [] or col == "items"
    if row["card"] is not None:
        assert list(row["card"]) == ["brand", "last4", "expiry"]


@pytest.mark.xfail(reason=BIG_INT_LITERAL)
def test_integer_literals_past_int64_are_exact(tmp_path):
    values = ["28812488471823812629631615", "-9223372036854775809", "99999999999999999999999999999"]
    db = str(tmp_path / "big.db")
    r = load_lines(db, [message(f"big-{i}", amount=Raw(v)) for i, v in enumerate(values)], str(tmp_path), "big.ndjson")
    assert r.returncode == 0, r.stderr
    assert sql(db, "SELECT amount FROM payments ORDER BY payment_id") == values


def test_signed_amounts_come_back_exact_and_canonical(server):
    rows = {r["payment_id"]: r["amount"] for r in rows_of(server, "payment_id__prefix=num-&fields=payment_id,amount")}
    assert rows == {f"num-{i}": canon(d) for i, (_, d) in enumerate(AMOUNTS)}


def expected_row(m):
    """What the API must serve for a generated message (a dict parsed with Decimal)."""
    def dec(v):
        return None if v is None else canon(Decimal(str(v)))
    card = m.get("card")
    cust = m.get("customer")
    addr = cust.get("address") if cust else None
    return {
        "amount": dec(m["amount"]), "fee": dec(m.get("fee")), "tags": m.get("tags") or [],
        "card": None if card is None else {k: card.get(k) for k in ("brand", "last4", "expiry")},
        "customer": None if cust is None else {
            "id": cust["id"], "email": cust.get("email"),
            "address": None if addr is None else {k: addr.get(k) for k in ("country", "city", "postal_code")}},
        "items": [{"sku": i.get("sku"), "qty": i.get("qty"), "price": dec(i.get("price"))} for i in m.get("items") or []],
        "fingerprint": m.get("fingerprint"), "settled_on": m.get("settled_on"),
        "settled_at": None if m.get("settled_at") is None else
        (m["settled_at"].replace(" ", "T") + ("." if "." not in m["settled_at"] else "")).ljust(26, "0"),
        "cutoff": None if m.get("cutoff") is None else (m["cutoff"] + ("." if "." not in m["cutoff"] else "")).ljust(15, "0"),
        "location": m.get("location"),
    }


def test_generated_rows_come_back_as_the_contract_says(server, data):
    rows = {r["payment_id"]: r for r in rows_of(server, "payment_id__prefix=pay_")}
    assert len(rows) == len(data.valid)
    for m in data.valid:
        got = rows[m["payment_id"]]
        want = expected_row(m)
        assert {k: got[k] for k in want} == want, m["payment_id"]
        raw = m.get("raw")
        if raw is None:
            assert got["raw"] is None
        else:   # the same JSON value, as minified text
            assert isinstance(got["raw"], str) and json.loads(got["raw"], parse_float=Decimal) == raw
            assert not re.search(r'[\[{,:] |\s[\]},:]', got["raw"]), got["raw"]


# ---------------------------------------------------------------- filters

def ids_of(server, query):
    rows = rows_of(server, query + "&fields=payment_id")
    ids = [r["payment_id"] for r in rows]
    assert len(ids) == len(set(ids))
    return set(ids)


def generated(data, pred):
    return {m["payment_id"] for m in data.valid if pred(m)}


def rt_ids(pred):
    return {f"rt-{i}" for i, (col, value, want) in enumerate(ROUNDTRIP) if pred(col, value, want)}


def amount_of(col, value, want):
    """The amount of a round-trip row (1 unless the case sets it)."""
    return Decimal(want) if col == "amount" else Decimal(1)


def test_dotted_filters_reach_into_records(server, data):
    card = lambda m, k: (m.get("card") or {}).get(k)  # noqa: E731
    assert ids_of(server, "card.brand=AMEX&payment_id__prefix=pay_") == generated(data, lambda m: card(m, "brand") == "AMEX")
    last4 = sorted({card(m, "last4") for m in data.valid if card(m, "last4")})[:3]
    assert ids_of(server, f"card.last4__in={','.join(last4)}&payment_id__prefix=pay_") == \
        generated(data, lambda m: card(m, "last4") in last4)
    assert ids_of(server, "card.expiry__gte=2030-01-01&payment_id__prefix=pay_") == \
        generated(data, lambda m: (card(m, "expiry") or "") >= "2030-01-01")
    assert ids_of(server, "card.last4__isnull=true&card__isnull=false&payment_id__prefix=pay_") == \
        generated(data, lambda m: m.get("card") is not None and card(m, "last4") is None)
    country = lambda m: ((m.get("customer") or {}).get("address") or {}).get("country")  # noqa: E731
    assert ids_of(server, "customer.address.country=CL&payment_id__prefix=pay_") == generated(data, lambda m: country(m) == "CL")
    assert ids_of(server, "customer.address.city__prefix=" + q("Z") + "&payment_id__prefix=pay_") == \
        generated(data, lambda m: (((m.get("customer") or {}).get("address") or {}).get("city") or "").startswith("Z"))
    assert ids_of(server, "card.brand=VISA&status=settled&payment_id__prefix=pay_") == \
        generated(data, lambda m: card(m, "brand") == "VISA" and m["status"] == "settled")
    assert ids_of(server, "customer.address.city=" + q("Ñuñoa \"q\" \\ 😀")) == {rt("customer", CUSTOMER)}


def test_contains_matches_rows_whose_array_holds_the_value(server, data):
    for tag in ("high_risk", "international", "3ds"):
        want = generated(data, lambda m: tag in (m.get("tags") or []))
        assert want and ids_of(server, f"tags__contains={tag}&payment_id__prefix=pay_") == want
    assert ids_of(server, "tags__contains=a") == {rt("tags", ["a", "b", "a"])}
    assert ids_of(server, "tags__contains=nothing-has-this") == set()



@pytest.mark.parametrize("op,value,pred", [
    ("", "1.10", lambda a: a == Decimal("1.1")),
    ("", "1.1", lambda a: a == Decimal("1.1")),
    ("", "100", lambda a: a == 100),
    ("ne", "1", lambda a: a != 1),
    ("lt", "10", lambda a: a < 10),
    ("gt", "9.9", lambda a: a > Decimal("9.9")),
    ("gte", "9.90", lambda a: a >= Decimal("9.9")),
    ("lte", "-0.000000001", lambda a: a <= Decimal("-0.000000001")),
    ("gt", "12345678901234567890.123456788", lambda a: a > Decimal("12345678901234567890.123456788")),
    ("gte", "12345678901234567890.123456789", lambda a: a >= Decimal("12345678901234567890.123456789")),
    ("lt", "12345678901234567890.123456789", lambda a: a < Decimal("12345678901234567890.123456789")),
    ("in", "9.9,10,100.000", lambda a: a in (Decimal("9.9"), 10, 100)),
    ("gt", "-0.5", lambda a: a > Decimal("-0.5")),
    ("lt", "-0.000001", lambda a: a < Decimal("-0.000001")),
    ("gte", "-999.123456789", lambda a: a >= Decimal("-999.123456789")),
])
def test_numeric_filters_compare_exactly(server, data, op, value, pred):
    param = f"amount__{op}" if op else "amount"
    want = generated(data, lambda m: pred(Decimal(str(m["amount"])))) | rt_ids(lambda c, v, w: pred(amount_of(c, v, w))) \
        | {f"num-{i}" for i, (_, d) in enumerate(AMOUNTS) if pred(d)}
    assert ids_of(server, f"{param}={q(value)}") == want, (param, value)
    assert want, "a filter that matches nothing is a weak case"


def test_filters_on_the_other_types(server, data):
    fee = Decimal("0.12345678901234567890123456789012345678")
    assert ids_of(server, f"fee__gte={fee}&fee__lt=1") == \
        generated(data, lambda m: m.get("fee") is not None and fee <= Decimal(m["fee"]) < 1) | {rt("fee", "0.12345678901234567890123456789012345678")}
    assert ids_of(server, "fee__lt=0") == {rt("fee", "-1e-38")}
    fp = data.valid[3]["fingerprint"]
    assert ids_of(server, f"fingerprint={q(fp)}") == generated(data, lambda m: m.get("fingerprint") == fp)
    assert ids_of(server, "fingerprint=" + q("AAEC/w==")) == {rt("fingerprint", "AAEC/w==")}
    assert ids_of(server, "settled_at__gte=2026-01-02T18:00:00&settled_at__lt=2026-01-02T19:00:00.5") == \
        {pid for pid, r in ((m["payment_id"], expected_row(m)) for m in data.valid)
         if r["settled_at"] and "2026-01-02T18:00:00" <= r["settled_at"] < "2026-01-02T19:00:00.500000"}
    assert ids_of(server, "cutoff__lt=17:00:00&payment_id__prefix=pay_") == \
        generated(data, lambda m: m["cutoff"] < "17:00:00")
    assert ids_of(server, "settled_on=2026-01-03&payment_id__prefix=pay_") == \
        generated(data, lambda m: m.get("settled_on") == "2026-01-03")
    assert ids_of(server, "raw__isnull=true&payment_id__prefix=pay_") == generated(data, lambda m: m.get("raw") is None)
    assert ids_of(server, "location__isnull=false&payment_id__prefix=pay_") == \
        generated(data, lambda m: m.get("location") is not None)


@pytest.mark.parametrize("query", [
    "amount=abc", "amount__gt=1.2.3", "amount__prefix=1", "amount=" + "1" * 30, "fee__lt=0." + "1" * 39,
    "raw=x", "raw__gt=1", "location=" + q("POINT(1 2)"), "card=x", "tags=a", "tags__contains=" + q("x") + "&tags__gt=a",
    "card.nope=1", "card.brand.x=1", "nope.brand=1", "fingerprint=" + q("not base64!"), "settled_at=2026-01-01T10:00:00Z",
    "cutoff__gt=25:00:00", "amount__contains=1", "card.expiry=2027-02-30",
])
def test_bad_filters_are_400_naming_the_parameter(server, query):
    r = server.get("/data?" + query)
    assert r.status == 400, (query, r.body[:300])
    err = r.json()["error"]
    assert err["code"] == "invalid_parameter"
    name = urllib.parse.unquote(query.split("=")[0]).split("__")[0]
    assert name in err["message"], (query, err)


# ---------------------------------------------------------------- fields=, CSV

def test_fields_takes_dotted_names(server, data):
    amex = rt("card", AMEX)
    row, _ = one(server, amex, "&fields=payment_id,card.brand")
    assert row == {"payment_id": amex, "card": {"brand": "AMEX"}}
    row, _ = one(server, rt("customer", CUSTOMER), "&fields=customer.address.country,amount")
    assert row == {"customer": {"address": {"country": "CL"}}, "amount": "1"}
    rows = rows_of(server, "fields=payment_id,card.brand,card.last4&card.brand=AMEX&payment_id__prefix=pay_")
    assert rows and all(list(r) == ["payment_id", "card"] and list(r["card"]) == ["brand", "last4"] for r in rows)
    want = {m["payment_id"]: {"brand": "AMEX", "last4": m["card"].get("last4")} for m in data.valid
            if (m.get("card") or {}).get("brand") == "AMEX"}
    assert {r["payment_id"]: r["card"] for r in rows} == want
    assert server.get("/data?fields=card.nope").status == 400
    # through a REPEATED record: each element cut down
    rows = rows_of(server, "fields=payment_id,items.price&payment_id__prefix=pay_")
    assert {r["payment_id"]: r["items"] for r in rows} == \
        {m["payment_id"]: [{"price": canon(Decimal(i["price"]))} for i in m.get("items") or []] for m in data.valid}


def json_value_bytes(body, col):
    """The exact bytes of col's value in a one-row, one-column JSON page."""
    head, tail = b'{"data":[{"' + col.encode() + b'":', b'}],"next_cursor":null}\n'
    assert body.startswith(head) and body.endswith(tail), body[:200]
    return body[len(head):-len(tail)]


@pytest.mark.parametrize("col,value", [("customer", CUSTOMER), ("card", AMEX), ("items", ITEMS), ("tags", ["a", "b", "a"]),
                                       ("raw", RAW), ("amount", "1.10"), ("fingerprint", "AAEC/w=="),
                                       ("settled_at", "2026-03-02 17:00:00.5"), ("location", "point(-70.5 -33.25)")])
def test_csv_cells_are_the_json_text(server, col, value):
    pid = rt(col, value)
    j = server.get(f"/data?payment_id={pid}&fields={col}")
    c = server.get(f"/data?payment_id={pid}&fields={col}&format=csv")
    assert c.status == 200 and c.headers["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(c.body.decode("utf-8"), newline="")))
    assert table[0] == [col] and len(table) == 2
    value = json_value_bytes(j.body, col)
    cell = table[1][0].encode("utf-8")
    if value.startswith(b'"'):       # a JSON string: the cell is its text
        assert cell == json.loads(value).encode("utf-8")
    else:                            # records and arrays: the same bytes as in the JSON response
        assert cell == value
    if b'"' in cell or b"," in cell:
        assert b'"' + cell.replace(b'"', b'""') + b'"' in c.body       # quoted as RFC 4180 says


def test_csv_of_a_whole_page_parses_back(server):
    c = server.get("/data?format=csv&limit=200&payment_id__prefix=pay_&fields=payment_id,card,items,tags,raw,amount")
    j = server.get("/data?limit=200&payment_id__prefix=pay_&fields=payment_id,card,items,tags,raw,amount").json()["data"]
    table = list(csv.DictReader(io.StringIO(c.body.decode("utf-8"), newline="")))
    assert len(table) == len(j) == 200
    for cells, row in zip(table, j):
        assert cells["payment_id"] == row["payment_id"] and cells["amount"] == row["amount"]
        for col in ("card", "items", "tags"):
            assert (json.loads(cells[col]) if cells[col] else None) == row[col]
        assert (cells["raw"] or None) == row["raw"]


# ---------------------------------------------------------------- OpenAPI

def test_openapi_describes_every_type(server):
    doc = server.get("/openapi.json").json()
    row = resolve(doc, doc["components"]["schemas"]["Row"])
    props = row["properties"]
    for col in ("amount", "fee"):
        assert props[col]["type"] == "string", props[col]
        pat = re.compile(props[col]["pattern"])
        for ok in ("12.5", "-0.000000001", "100", "12345678901234567890.123456789"):
            assert pat.search(ok), (col, ok, pat.pattern)
        for bad in ("abc", "", "1.2.3", "--1"):
            assert not pat.search(bad), (col, bad, pat.pattern)
    assert props["fingerprint"]["type"] == "string" and props["fingerprint"]["format"] == "byte"
    assert props["card"]["type"] == "object" and list(props["card"]["properties"]) == ["brand", "last4", "expiry"]
    assert props["card"]["properties"]["expiry"]["format"] == "date"
    address = props["customer"]["properties"]["address"]
    assert address["type"] == "object" and list(address["properties"]) == ["country", "city", "postal_code"]
    assert props["tags"]["type"] == "array" and props["tags"]["items"]["type"] == "string"
    items = props["items"]["items"]
    assert props["items"]["type"] == "array" and list(items["properties"]) == ["sku", "qty", "price"]
    assert items["properties"]["qty"]["type"] == "integer" and items["properties"]["price"]["type"] == "string"
    params = {p["name"] for p in doc["paths"]["/data"]["get"]["parameters"]}
    assert {"card.brand", "card.last4__in", "customer.address.country", "tags__contains", "amount__gte",
            "amount__lt", "fingerprint", "raw__isnull", "settled_at__gte", "cutoff__lt"} <= params, sorted(params)
    assert not {"raw__gt", "raw", "location__lt", "tags__gt", "card", "amount__prefix", "items.sku"} & params


def resolve(doc, schema):
    """schema with every $ref into the document replaced by its target (recursively)."""
    if isinstance(schema, list):
        return [resolve(doc, s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        target = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return resolve(doc, {**target, **{k: v for k, v in schema.items() if k != "$ref"}})
    return {k: resolve(doc, v) for k, v in schema.items()}


def as_json_schema(schema):
    """OpenAPI 3.0's schema dialect as JSON Schema: nullable: true allows null."""
    if isinstance(schema, list):
        return [as_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: as_json_schema(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def test_every_row_validates_against_the_document(server):
    jsonschema = pytest.importorskip("jsonschema")
    doc = server.get("/openapi.json").json()
    validator = jsonschema.Draft202012Validator(as_json_schema(resolve(doc, doc["components"]["schemas"]["Row"])))
    rows = rows_of(server, "order=asc")
    assert len(rows) > 2000
    for r in rows:
        errors = list(validator.iter_errors(r))
        assert not errors, (r["payment_id"], [e.message for e in errors[:3]])


def test_schemathesis_finds_nothing_on_the_nested_schema(data, tmp_path):
    from test_contract import run_schemathesis
    s = Server(data.db, **PAYMENTS_ENV)
    try:
        run_schemathesis(s, tmp_path)
    finally:
        assert s.stop() == 0


# ---------------------------------------------------------------- nesting depth

def nested_schema(depth):
    """A schema whose record r1 holds r2 ... r<depth>, the last one holding a STRING leaf."""
    inner = [{"name": "leaf", "type": "STRING", "mode": "NULLABLE"}]
    for d in range(depth, 0, -1):
        inner = [{"name": f"r{d}", "type": "RECORD", "mode": "NULLABLE", "fields": inner}]
    return [{"name": "id", "type": "STRING", "mode": "REQUIRED"},
            {"name": "event_time", "type": "TIMESTAMP", "mode": "REQUIRED"}] + inner


def nested_value(depth, leaf):
    v = {"leaf": leaf}
    for d in range(depth, 1, -1):
        v = {f"r{d}": v}
    return v


def test_records_nest_15_levels_and_not_16(tmp_path):
    """BigQuery's limit: a RECORD column holds records 15 levels deep (r1 is the first level)."""
    for depth in (15, 16):
        schema = tmp_path / f"deep{depth}" / "nested.json"
        schema.parent.mkdir()
        schema.write_text(json.dumps(nested_schema(depth)))
        db = str(tmp_path / f"deep{depth}.db")
        msg = {"id": "a", "event_time": "2026-01-01T00:00:00Z", "r1": nested_value(depth, "bottom")}
        src = tmp_path / f"deep{depth}.ndjson"
        src.write_text(json.dumps(msg) + "\n" + json.dumps({**msg, "id": "b", "r1": nested_value(depth, {"x": 1})}) + "\n")
        r = load(db, str(src), COLIBRI_SCHEMA=str(schema))
        if depth == 16:
            assert r.returncode != 0 and "15" in r.stderr, r.stderr
            assert not os.path.exists(db) or sql(db, "SELECT count(*) FROM sqlite_master WHERE name='nested'") == ["0"]
            continue
        assert r.returncode == 1, r.stderr                 # b's leaf is an object: refused
        assert "'r1." + ".".join(f"r{d}" for d in range(2, 16)) + ".leaf'" in r.stderr, r.stderr
        s = Server(db, COLIBRI_SCHEMA=str(schema))
        try:
            path = "r1." + ".".join(f"r{d}" for d in range(2, 16)) + ".leaf"
            got = s.get(f"/data?{path}=bottom&fields=id,r1").json()["data"]
            assert got == [{"id": "a", "r1": nested_value(15, "bottom")}]
            assert s.get(f"/data?{path}=other").json()["data"] == []
            assert s.get("/data?id=a").json()["data"][0]["r1"] == nested_value(15, "bottom")
        finally:
            assert s.stop() == 0


def test_check_config_takes_the_payments_schema(tmp_path):
    r = subprocess.run([BIN, "check-config"], capture_output=True, text=True, timeout=60,
                       env=base_env(COLIBRI_STORE="sqlite:" + str(tmp_path / "c.db"), **PAYMENTS_ENV))
    assert r.returncode == 0, r.stderr
    assert re.search(r"schema: \S+/schema/examples/payments.json, table payments, 17 columns", r.stdout), r.stdout


# ---------------------------------------------------------------- Kafka

def test_kafka_ingests_payments_and_dead_letters_each_kind(tmp_path):
    from pylib.broker import Broker, Colibri, Dataset, dlq_messages, parse_id, query, topic_index, wait_counts
    b = Broker()
    b.up()
    try:
        ds = Dataset(str(tmp_path), 4000, seed=23, malformed_pct=5, extra=PAYMENTS_GEN)
        ds.lines, ds.kinds = held_out(ds.lines, ds.kinds)
        ds.ok = {i for i, k in enumerate(ds.kinds) if k == "ok"}
        ds.bad = {i for i, k in enumerate(ds.kinds) if k != "ok"}
        topic = b.create_topic("payments", 2)
        ds.produce(b.bootstrap, topic)
        db = str(tmp_path / "k.db")
        c = Colibri(db, f"kafka://{b.bootstrap}/{topic}?group=pay", str(tmp_path / "colibri.log"), **PAYMENTS_ENV)
        try:
            wait_counts(db, len(ds.ok), len(ds.bad), timeout=300, alive=[c], table="payments")
            status, body = c.get("/data?limit=1000&fields=payment_id,amount,card,items&order=asc")
            assert status == 200
        finally:
            assert c.kill(signal.SIGTERM)[0] == 0, c.log_tail()
        index = topic_index(b.bootstrap, topic)
        for _id, reason, payload in query(db, "SELECT id, reason, payload FROM _dead_letters"):
            i = int(index[parse_id(_id, topic)])
            kind = ds.kinds[i].split(":")
            assert kind[0] == "bad" and payload == ds.lines[i]
            if len(kind) == 3:
                assert f"'{kind[2]}'" in reason, (kind, reason)
        line_of = {pid: int(index[parse_id(_id, topic)]) for pid, _id in query(db, "SELECT payment_id, _id FROM payments")}
        assert sorted(line_of.values()) == sorted(ds.ok)
        page = json.loads(body)["data"]
        assert len(page) == 1000
        for row in page:
            want = expected_row(json.loads(ds.lines[line_of[row["payment_id"]]], parse_float=Decimal))
            assert {k: row[k] for k in ("amount", "card", "items")} == {k: want[k] for k in ("amount", "card", "items")}
        assert len(dlq_messages(b.bootstrap, topic + ".dlq")) == len(ds.bad)
    finally:
        b.down(wipe=True)
