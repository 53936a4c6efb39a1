"""The contract: /openapi.json against the server that serves it.

schemathesis (PyPI, pinned, in a venv under ${COLIBRI_CACHE:-~/.cache/colibri},
made here on first use) reads the document and sends every operation generated
valid and invalid requests with every check on: no 5xx, statuses, headers,
content types and bodies as documented, invalid input refused, valid input
accepted (positive data acceptance), auth not ignored. It must find nothing.
CONTRACT_EXAMPLES (default 100) and CONTRACT_SEED (default 1) tune a run.

Then the semantics the document states: WWW-Authenticate on 401, timestamps
finer than microseconds, CSV's NULL, empty string and formula-like text."""
import csv
import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
import urllib.parse

import pytest

from pylib.server import BIN, ROOT, Server, base_env, load

ST_VERSION = "4.32.5"          # the same pin and venv as scripts/dast
CACHE = os.environ.get("COLIBRI_CACHE", os.path.expanduser("~/.cache/colibri"))
VENV = os.path.join(CACHE, f"venv-dast-{ST_VERSION}")
HERE = os.path.dirname(os.path.abspath(__file__))


def _works(exe):
    r = subprocess.run([exe, "--version"], capture_output=True, text=True)
    return r.returncode == 0 and ST_VERSION in r.stdout


def schemathesis():
    """The pinned schemathesis, installed once (under a lock: tests may run in parallel)."""
    exe = os.path.join(VENV, "bin", "schemathesis")
    done = os.path.join(VENV, ".installed")
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, f".venv-dast-{ST_VERSION}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (os.access(exe, os.X_OK) and (os.path.exists(done) or _works(exe))):
            shutil.rmtree(VENV, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
            subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
                            f"schemathesis=={ST_VERSION}"], check=True)
            open(done, "w").close()
    return exe


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    """2,000 generated rows: schemathesis reads pages, not the whole table."""
    from pylib.server import generate
    d = tmp_path_factory.mktemp("contract")
    db = str(d / "c.db")
    assert load(db, generate(str(d / "c.ndjson"), 2000, seed=1)).returncode == 0
    return db


def run_schemathesis(server, tmp_path, auth=None):
    exe = schemathesis()
    spec = tmp_path / "openapi.json"
    spec.write_bytes(server.get("/openapi.json").body)
    cmd = [exe, "run", str(spec), "--url", server.url, "--checks", "all",
           "--phases", "examples,coverage,fuzzing",
           "--max-examples", os.environ.get("CONTRACT_EXAMPLES", "100"),
           # one worker: with two threads, hypothesis's ast.parse of its filter lambdas hits CPython
           # 3.11's "AST constructor recursion depth mismatch" SystemError now and then
           # (python/cpython#106905), a crash of the tool, not a finding
           "--seed", os.environ.get("CONTRACT_SEED", "1"), "--workers", "1", "--request-timeout", "20",
           "--warnings", "off"]
    if auth:
        cmd += ["-H", f"Authorization: {auth}"]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="contract_hooks", CONTRACT_BASE=server.url,
               CONTRACT_AUTH=auth or "", PYTHONPATH=HERE, NO_COLOR="1")
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout[-12000:] + r.stderr[-4000:]
    assert "No issues found" in r.stdout, r.stdout[-4000:]
    return r.stdout


def test_schemathesis_finds_nothing_with_keys_push_and_metrics_key(small_db, tmp_path):
    """Every route there is: /data behind keys, /metrics behind its own, push on."""
    s = Server(small_db, COLIBRI_API_KEYS="contract-key", COLIBRI_METRICS_KEY="scrape", COLIBRI_PUSH="on")
    try:
        out = run_schemathesis(s, tmp_path, auth="Bearer contract-key")
        assert "Tested: 7" in out        # every operation, push included
    finally:
        assert s.stop() == 0


def test_schemathesis_finds_nothing_with_the_defaults(small_db, tmp_path):
    s = Server(small_db)
    try:
        run_schemathesis(s, tmp_path)
    finally:
        assert s.stop() == 0


def test_the_document_follows_the_configuration(small_db):
    s = Server(small_db, COLIBRI_API_KEYS="k", COLIBRI_PUSH="on", COLIBRI_METRICS_KEY="m")
    try:
        doc = s.get("/openapi.json").json()
    finally:
        assert s.stop() == 0
    data = doc["paths"]["/data"]["get"]
    assert set(data["responses"]) == {"200", "400", "401", "413", "414", "429", "431", "500", "503"}
    assert data["security"] == [{"bearerKey": []}, {"apiKey": []}]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerKey"] == {"type": "http", "scheme": "bearer", "description": schemes["bearerKey"]["description"]}
    assert schemes["apiKey"]["in"] == "header" and schemes["apiKey"]["name"] == "X-API-Key"
    assert doc["paths"]["/metrics"]["get"]["security"] == [{"metricsKey": []}]
    assert "404" in doc["paths"]["/data/{id}"]["get"]["responses"]
    push = doc["paths"]["/pubsub/push"]["post"]
    env = push["requestBody"]["content"]["application/json"]["schema"]
    assert env["required"] == ["message"] and env["properties"]["message"]["required"] == ["messageId"]
    assert set(push["responses"]) >= {"204", "400", "413", "503"}
    # fields= drops keys: a page's rows require none; GET /data/{id} gives every column
    schemas = doc["components"]["schemas"]
    assert "required" not in schemas["PartialRow"]
    assert len(schemas["Row"]["required"]) == len(schemas["Row"]["properties"])
    params = {p["name"]: p for p in data["parameters"]}
    assert params["fields"]["schema"]["uniqueItems"] is True and params["fields"]["explode"] is False
    assert params["carrier__in"]["schema"]["items"]["pattern"] == "^[^,\\u0000]+$"
    assert params["cursor"]["schema"]["minLength"] == 1
    assert "\\.[0-9]{1,6}" in params["since"]["schema"]["pattern"]
    for status in ("401", "429", "503"):
        resp = doc["components"]["responses"][{"401": "Unauthorized", "429": "TooManyRequests",
                                                "503": "Unavailable"}[status]]
        assert resp["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}

    plain = Server(small_db)
    try:
        doc = plain.get("/openapi.json").json()
    finally:
        assert plain.stop() == 0
    assert "/pubsub/push" not in doc["paths"] and doc["components"]["securitySchemes"] == {}
    assert "401" not in doc["paths"]["/data"]["get"]["responses"]


def test_401_says_how_to_authenticate(small_db):
    s = Server(small_db, COLIBRI_API_KEYS="k", COLIBRI_METRICS_KEY="m")
    try:
        none = s.get("/data?limit=1")
        assert none.status == 401 and none.headers["WWW-Authenticate"] == 'Bearer realm="colibri"'
        wrong = s.get("/data/x", headers={"X-API-Key": "nope"})
        assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="colibri", error="invalid_token"'
        assert s.get("/metrics").headers["WWW-Authenticate"] == 'Bearer realm="colibri-metrics"'
        assert "WWW-Authenticate" not in s.get("/data?limit=1", headers={"X-API-Key": "k"}).headers
    finally:
        assert s.stop() == 0


def test_timestamps_finer_than_microseconds_are_a_400(small_db):
    s = Server(small_db)
    try:
        row = s.get("/data?limit=1&fields=_id,event_time").json()["data"][0]
        t = row["event_time"]                  # 2026-...T..:..:..ssssssZ, microseconds
        assert s.get("/data?event_time=" + t).json()["data"][0]["_id"] == row["_id"]
        finer = t[:-1] + "1Z"                  # 7 digits: just after the row
        for name in ("event_time", "event_time__lt", "since", "until"):
            r = s.get(f"/data?{name}={finer}")
            assert r.status == 400, name
            assert "at most 6 fractional digits" in r.json()["error"]["message"]
        # until before since: an empty window, not an error
        r = s.get(f"/data?since={t}&until=2000-01-01T00:00:00Z")
        assert r.status == 200 and r.json()["data"] == []
    finally:
        assert s.stop() == 0


def test_csv_keeps_null_apart_from_empty_and_defuses_formulas(tmp_path):
    rows = [
        {"tail_number": "=HYPERLINK(\"http://x.test\",\"a\")", "aircraft": ""},
        {"tail_number": "+1", "aircraft": "@SUM(A1)"},
        {"tail_number": "-2", "aircraft": "\tTAB"},
        {"tail_number": None, "aircraft": "A320"},
    ]
    base = {"event_id": "e", "event_time": "2026-01-01T00:00:00Z", "flight_id": "LA1-2026-01-01",
            "flight_date": "2026-01-01", "carrier": "LA", "flight_number": 1, "origin": "SCL",
            "destination": "LIM", "scheduled_departure": "2026-01-01T00:00:00Z", "status": "scheduled",
            "delay_minutes": -5}
    src = tmp_path / "rows.ndjson"
    src.write_text("".join(json.dumps(dict(base, event_id=f"e{i}",
                                           event_time=f"2026-01-01T00:00:0{i}Z", **r)) + "\n"
                           for i, r in enumerate(rows)))
    db = str(tmp_path / "csv.db")
    assert load(db, str(src)).returncode == 0
    s = Server(db)
    try:
        body = s.get("/data?format=csv&order=asc&fields=event_id,tail_number,aircraft,delay_minutes").body.decode()
        js = s.get("/data?order=asc&fields=tail_number,aircraft").json()["data"]
    finally:
        assert s.stop() == 0
    lines = body.split("\r\n")
    assert lines[1] == 'e0,"\'=HYPERLINK(""http://x.test"",""a"")",""' + ",-5"
    assert lines[2] == "e1,\"'+1\",\"'@SUM(A1)\",-5"        # numbers stay numbers: -5 is not text
    assert lines[3] == "e2,\"'-2\",\"'\tTAB\",-5"
    assert lines[4] == "e3,,A320,-5"                         # NULL: nothing; "": a quoted empty string
    table = list(csv.reader(io.StringIO(body, newline="")))
    assert table[1][2] == "" and table[4][1] == ""
    assert js[0] == {"tail_number": rows[0]["tail_number"], "aircraft": ""}   # JSON keeps values as they are
    assert js[3]["tail_number"] is None


def test_readme_curl_examples_answer_as_written(small_db):
    """Every `curl -s 'http://127.0.0.1:8080/...'` line of README.md, against a server on
    another port: 2xx, and the body the README says (JSON, CSV or metrics)."""
    text = open(os.path.join(ROOT, "README.md")).read()
    cmds = [line.strip() for line in text.splitlines()
            if line.strip().startswith(("curl ", "$ curl ")) and "127.0.0.1:8080" in line]
    assert len(cmds) >= 7, cmds
    s = Server(small_db)
    try:
        port = s.url.rsplit(":", 1)[1]
        for cmd in cmds:
            cmd = cmd.lstrip("$ ").replace("127.0.0.1:8080", f"127.0.0.1:{port}")
            r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=30)
            expect_error = "limit=0" in cmd
            assert r.returncode == 0, (cmd, r.stderr)
            out = r.stdout
            assert out.strip(), cmd                      # every example prints something
            if "| grep" in cmd:
                continue
            if "format=csv" in cmd:
                assert out.splitlines()[0] == urllib.parse.parse_qs(cmd.split("?", 1)[1].split("'")[0])["fields"][0]
            elif "-si" in cmd:
                assert "rel=\"next\"" in out
            else:
                body = json.loads(out)
                if expect_error:
                    assert body["error"]["status"] == 400
                else:
                    assert isinstance(body["data"], list) and body["data"], cmd
    finally:
        assert s.stop() == 0
