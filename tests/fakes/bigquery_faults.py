"""A small fake of the BigQuery REST API (v2) and of the GCE metadata server,
for the fault paths no emulator produces. Standard library only.

What it implements, shaped as Google documents it:
  datasets.insert        POST /bigquery/v2/projects/P/datasets                 (409 if it exists)
  tables.get / insert    GET|POST /bigquery/v2/projects/P/datasets/D/tables[/T]
  tables.patch           PATCH    .../tables/T                                  (schema only)
  tabledata.insertAll    POST     .../tables/T/insertAll
      skipInvalidRows=false (colibri's mode): if any row is invalid nothing is
      inserted; invalid rows get insertErrors reason "invalid", every other row
      reason "stopped". insertId deduplicates (exactly, where BigQuery is best effort).
      A row is invalid when a REQUIRED field is missing, a value does not parse as
      its column's type (records and REPEATED arrays field by field), a field is
      unknown, or its event_id was marked bad.
  jobs.query             POST /bigquery/v2/projects/P/queries
  jobs.getQueryResults   GET  /bigquery/v2/projects/P/queries/JOB
      Only the SELECTs colibri writes without filters: SELECT `a`, `b` FROM `p.d.t`
      WHERE TRUE [AND (`et` < @p0 OR (`et` = @p0 AND `_id` < @p1))] ORDER BY `et` DESC|ASC,
      `_id` DESC|ASC LIMIT n, and ... WHERE `_id` = @p0 LIMIT 1. Anything else is
      refused with 400 invalidQuery, so a test cannot pass on semantics the fake lacks.
      Rows come back as f/v cells (records {"f":[...]}, arrays [{"v":...}]); TIMESTAMP as
      int64 µs (formatOptions.useInt64Timestamp), also inside records.
  metadata token         GET /computeMetadata/v1/instance/service-accounts/default/token
      (needs "Metadata-Flavor: Google"); the API checks the Bearer token it issued.

Faults, set with POST /_fake/faults (JSON, merged into the current settings):
  {"status": {"insertAll": [429, 503, ...], "query": [...], "getQueryResults": [...],
              "tables.get": [...]}}           next answers of that method, in order
  {"incomplete_polls": N}                     each job answers jobComplete:false N times
  {"bad_event_ids": ["..."]}                  rows BigQuery will call invalid
  {"delay_ms": {"query": 1500}}               slow answers
  {"revoke_after": N}                         after N API calls a token gets 401 (expired)
  {"token_ttls": [61, 3600]}                  expires_in of successive tokens (last repeats)
GET /_fake/stats: calls per method, rows per insertAll request, tokens issued/seen,
401s sent, rows per table. POST /_fake/reset clears everything.

Run: python3 bigquery_faults.py [--port N] [--metadata-port M]; prints
"api 127.0.0.1:N" and "metadata 127.0.0.1:M" and serves until killed.
"""
import argparse
import base64
import json
import re
import sys
import threading
import time
import uuid
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
STATE_LOCK = threading.Lock()


def new_state():
    return {
        "datasets": set(),
        "tables": {},          # (d, t) -> {"schema": [...], "rows": [json], "ids": set()}
        "jobs": {},            # job id -> {"rows": [...], "polls_left": n, "fields": [...]}
        "faults": {"status": {}, "incomplete_polls": 0, "bad_event_ids": [], "delay_ms": {},
                   "revoke_after": 0, "token_ttls": [3600]},
        "stats": {"calls": {}, "insert_rows": [], "tokens_issued": 0, "tokens_seen": [],
                  "unauthorized": 0, "token_requests": 0, "query_sql": []},
        "tokens": {},          # token -> calls made with it
    }


STATE = new_state()


def google_error(code, reason, message):
    status = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
              404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED",
              500: "INTERNAL", 503: "UNAVAILABLE"}.get(code, "UNKNOWN")
    return {"error": {"code": code, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason}],
                      "status": status}}


FAULT_BODIES = {
    400: ("invalidQuery", "Syntax error: Unexpected end of script at [1:1]"),
    404: ("notFound", "Not found: Table test:ds.flights was not found in location US"),
    429: ("rateLimitExceeded", "Exceeded rate limits: too many api requests per user per method "
          "for this user_method. For more information, see "
          "https://cloud.google.com/bigquery/docs/troubleshoot-quotas"),
    500: ("backendError", "An internal error occurred and the request could not be completed."),
    503: ("backendError", "Error encountered during execution. Retrying may solve the problem."),
    403: ("rateLimitExceeded", "Exceeded rate limits: too many table update operations for this table."),
}


def ts_micros(text):
    """RFC 3339 / BigQuery canonical timestamp text → µs since the epoch."""
    t = text.strip().replace(" UTC", "+00:00").replace("Z", "+00:00").replace(" ", "T", 1)
    m = re.match(r"^(.*?)(\.\d+)?([+-]\d\d:\d\d)?$", t)
    base, frac, tz = m.group(1), m.group(2) or "", m.group(3) or "+00:00"
    dt = datetime.fromisoformat(base + tz)
    us = int((frac[1:] + "000000")[:6]) if frac else 0
    delta = dt - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + us


DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def valid_field(f, v):
    """v (not None) as insertAll JSON for schema field f: modes, records and every scalar type."""
    if f.get("mode") == "REPEATED":
        return isinstance(v, list) and all(e is not None and valid_field(dict(f, mode="NULLABLE"), e) for e in v)
    if f["type"] in ("RECORD", "STRUCT"):
        if not isinstance(v, dict):
            return False
        sub = {g["name"]: g for g in f["fields"]}
        return (all(k in sub and (x is None or valid_field(sub[k], x)) for k, x in v.items())
                and all(v.get(g["name"]) is not None for g in f["fields"] if g.get("mode") == "REQUIRED"))
    return valid_value(f["type"], v)


def valid_value(typ, v):
    try:
        if typ in ("NUMERIC", "BIGNUMERIC"):
            return not isinstance(v, bool) and bool(DECIMAL.fullmatch(str(v)))
        if typ in ("BYTES",):
            return isinstance(v, str) and base64.b64encode(base64.b64decode(v, validate=True)).decode() == v
        if typ in ("JSON", "DATETIME", "TIME", "GEOGRAPHY"):
            return isinstance(v, str)
        if typ in ("STRING",):
            return isinstance(v, str)
        if typ in ("INT64", "INTEGER"):
            return (isinstance(v, int) and not isinstance(v, bool)) or bool(re.fullmatch(r"-?\d+", str(v)))
        if typ in ("FLOAT64", "FLOAT"):
            float(v)
            return not isinstance(v, bool)
        if typ in ("BOOL", "BOOLEAN"):
            return isinstance(v, bool) or str(v).lower() in ("true", "false")
        if typ == "TIMESTAMP":
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return True
            us = ts_micros(v)
            return -62135596800_000_000 <= us <= 253402300799_999_999
        if typ == "DATE":
            date.fromisoformat(v)
            return True
    except (ValueError, TypeError, AttributeError):
        return False
    return False


def field_cell(f, v):
    """A stored value of schema field f as the f/v wire form: arrays [{"v":..}], records {"f":[..]}."""
    if f.get("mode") == "REPEATED":
        return [{"v": field_cell(dict(f, mode="NULLABLE"), e)} for e in v or []]
    if v is not None and f["type"] in ("RECORD", "STRUCT"):
        return {"f": [{"v": field_cell(g, v.get(g["name"]))} for g in f["fields"]]}
    return cell(f["type"], v)


def cell(typ, v):
    """A stored (insertAll JSON) scalar as the f/v wire form with useInt64Timestamp."""
    if v is None:
        return None
    if typ == "TIMESTAMP":
        if isinstance(v, (int, float)):
            return str(int(v * 1_000_000))   # insertAll numbers are seconds
        return str(ts_micros(v))
    if typ in ("BOOL", "BOOLEAN"):
        return "true" if (v is True or str(v).lower() == "true") else "false"
    if typ in ("FLOAT64", "FLOAT"):
        return repr(float(v))
    return str(v)


def sort_key(typ, v):
    if v is None:
        return (0, 0)
    if typ == "TIMESTAMP":
        return (1, int(cell(typ, v)))
    return (1, v)


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-bigquery"

    def log_message(self, *args):
        pass

    # ---- plumbing
    def reply(self, code, body, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return json.loads(raw) if raw else {}

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PATCH(self):
        self.route("PATCH")

    # ---- routing
    def route(self, method):
        url = urlsplit(self.path)
        path, qs = url.path, parse_qs(url.query)
        if path.startswith("/_fake/"):
            return self.control(method, path)
        if path.startswith("/computeMetadata/"):
            return self.metadata(path)
        m = re.fullmatch(r"/bigquery/v2/projects/([^/]+)(/.*)", path)
        if not m:
            return self.reply(404, google_error(404, "notFound", f"Not found: {path}"))
        rest = m.group(2)
        if rest == "/datasets" and method == "POST":
            name = "datasets.insert"
        elif re.fullmatch(r"/datasets/[^/]+/tables", rest) and method == "POST":
            name = "tables.insert"
        elif re.fullmatch(r"/datasets/[^/]+/tables/[^/]+", rest):
            name = {"GET": "tables.get", "PATCH": "tables.patch"}.get(method, "?")
        elif re.fullmatch(r"/datasets/[^/]+/tables/[^/]+/insertAll", rest) and method == "POST":
            name = "insertAll"
        elif rest == "/queries" and method == "POST":
            name = "query"
        elif re.fullmatch(r"/queries/[^/]+", rest) and method == "GET":
            name = "getQueryResults"
        else:
            return self.reply(404, google_error(404, "notFound", f"Not found: {method} {path}"))
        if not self.authorized():
            return
        with STATE_LOCK:   # calls that got past authentication, faults included
            calls = STATE["stats"]["calls"]
            calls[name] = calls.get(name, 0) + 1
            queue = STATE["faults"]["status"].get(name) or []
            fault = queue.pop(0) if queue else None
            delay = STATE["faults"]["delay_ms"].get(name, 0)
        if delay:
            time.sleep(delay / 1000)
        if fault:
            reason, msg = FAULT_BODIES.get(fault, ("backendError", "injected"))
            self.body()
            return self.reply(fault, google_error(fault, reason, msg))
        getattr(self, "api_" + name.replace(".", "_"))(rest, qs)

    def authorized(self):
        """With tokens in play, the API checks the Bearer token the metadata fake issued."""
        with STATE_LOCK:
            if not STATE["stats"]["tokens_issued"]:
                return True   # no auth configured (emulator-style)
            auth = self.headers.get("Authorization", "")
            tok = auth[7:] if auth.startswith("Bearer ") else None
            n = STATE["tokens"].get(tok)
            revoke = STATE["faults"]["revoke_after"]
            ok = n is not None and not (revoke and n >= revoke)
            if ok:
                STATE["tokens"][tok] = n + 1
                if tok not in STATE["stats"]["tokens_seen"]:
                    STATE["stats"]["tokens_seen"].append(tok)
            else:
                STATE["stats"]["unauthorized"] += 1
        if not ok:
            self.body()
            self.reply(401, google_error(401, "authError", "Request had invalid authentication credentials. "
                                         "Expected OAuth 2 access token, login cookie or other valid "
                                         "authentication credential."),
                       [("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')])
        return ok

    # ---- metadata server
    def metadata(self, path):
        if self.headers.get("Metadata-Flavor") != "Google":
            return self.reply(403, None)
        if path != "/computeMetadata/v1/instance/service-accounts/default/token":
            return self.reply(404, None)
        with STATE_LOCK:
            STATE["stats"]["token_requests"] += 1
            ttls = STATE["faults"]["token_ttls"]
            i = STATE["stats"]["tokens_issued"]
            ttl = ttls[min(i, len(ttls) - 1)]
            tok = f"ya29.fake-{i + 1}-{uuid.uuid4().hex[:8]}"
            STATE["stats"]["tokens_issued"] = i + 1
            STATE["tokens"][tok] = 0
        self.reply(200, {"access_token": tok, "expires_in": ttl, "token_type": "Bearer"})

    # ---- control
    def control(self, method, path):
        global STATE
        if path == "/_fake/stats":
            with STATE_LOCK:
                st = dict(STATE["stats"])
                st["rows"] = {f"{d}.{t}": len(v["rows"]) for (d, t), v in STATE["tables"].items()}
            return self.reply(200, st)
        if path == "/_fake/rows":
            with STATE_LOCK:
                return self.reply(200, {f"{d}.{t}": v["rows"] for (d, t), v in STATE["tables"].items()})
        if path == "/_fake/reset" and method == "POST":
            with STATE_LOCK:
                STATE = new_state()
            return self.reply(200, {})
        if path == "/_fake/faults" and method == "POST":
            f = self.body()
            with STATE_LOCK:
                for k, v in f.items():
                    if k in ("status", "delay_ms"):
                        STATE["faults"][k].update(v)
                    else:
                        STATE["faults"][k] = v
            return self.reply(200, STATE["faults"])
        return self.reply(404, None)

    # ---- datasets and tables
    def api_datasets_insert(self, rest, qs):
        b = self.body()
        ds = b["datasetReference"]["datasetId"]
        with STATE_LOCK:
            if ds in STATE["datasets"]:
                return self.reply(409, google_error(409, "duplicate", f"Already Exists: Dataset {ds}"))
            STATE["datasets"].add(ds)
        self.reply(200, {"kind": "bigquery#dataset", "id": ds, "datasetReference": b["datasetReference"]})

    def api_tables_insert(self, rest, qs):
        b = self.body()
        ds = rest.split("/")[2]
        ref = b["tableReference"]
        key = (ds, ref["tableId"])
        with STATE_LOCK:
            if ds not in STATE["datasets"]:
                return self.reply(404, google_error(404, "notFound", f"Not found: Dataset {ds}"))
            if key in STATE["tables"]:
                return self.reply(409, google_error(409, "duplicate", f"Already Exists: Table {ref['tableId']}"))
            fields = b["schema"]["fields"]
            if "clustering" in b and len(b["clustering"]["fields"]) > 4:
                return self.reply(400, google_error(400, "invalid", "Too many clustering fields"))
            STATE["tables"][key] = {"schema": fields, "rows": [], "ids": set(), "meta": b}
        self.reply(200, dict(b, kind="bigquery#table", id=f"{ds}.{ref['tableId']}"))

    def table(self, rest):
        parts = rest.split("/")
        return STATE["tables"].get((parts[2], parts[4])), parts[2], parts[4]

    def api_tables_get(self, rest, qs):
        with STATE_LOCK:
            t, ds, name = self.table(rest)
            if not t:
                return self.reply(404, google_error(404, "notFound", f"Not found: Table {ds}.{name}"))
            meta = dict(t["meta"], schema={"fields": t["schema"]}, numRows=str(len(t["rows"])))
        self.reply(200, meta)

    def api_tables_patch(self, rest, qs):
        b = self.body()
        with STATE_LOCK:
            t, ds, name = self.table(rest)
            if not t:
                return self.reply(404, google_error(404, "notFound", f"Not found: Table {ds}.{name}"))
            t["schema"] = b["schema"]["fields"]
        self.reply(200, {"schema": {"fields": t["schema"]}})

    def api_insertAll(self, rest, qs):
        b = self.body()
        rows = b.get("rows", [])
        with STATE_LOCK:
            t, ds, name = self.table(rest)
            if not t:
                return self.reply(404, google_error(404, "notFound", f"Not found: Table {ds}.{name}"))
            STATE["stats"]["insert_rows"].append(len(rows))
            if len(rows) > 50000:
                return self.reply(400, google_error(400, "invalid", "too many rows present in the request"))
            fields = {f["name"]: f for f in t["schema"]}
            bad = set(STATE["faults"]["bad_event_ids"])
            errors = []
            for i, r in enumerate(rows):
                j = r.get("json", {})
                why = None
                for k, v in j.items():
                    if k not in fields:
                        if not b.get("ignoreUnknownValues"):
                            why = (k, f"no such field: {k}.")
                    elif v is not None and not valid_field(fields[k], v):
                        why = (k, f"Cannot convert value to {fields[k]['type'].lower()}: {v}")
                for f in fields.values():
                    if f.get("mode") == "REQUIRED" and j.get(f["name"]) is None:
                        why = (f["name"], f"Missing required field: {f['name']}.")
                if j.get("event_id") in bad:
                    why = ("event_id", f"Cannot convert value to string: {j['event_id']}")
                if why:
                    errors.append({"index": i, "errors": [{"reason": "invalid", "location": why[0],
                                                           "debugInfo": "", "message": why[1]}]})
            if errors and not b.get("skipInvalidRows"):
                bad_idx = {e["index"] for e in errors}
                errors += [{"index": i, "errors": [{"reason": "stopped", "location": "", "debugInfo": "",
                                                    "message": ""}]}
                           for i in range(len(rows)) if i not in bad_idx]
                errors.sort(key=lambda e: e["index"])
                return self.reply(200, {"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": errors})
            bad_idx = {e["index"] for e in errors}
            for i, r in enumerate(rows):
                if i in bad_idx:
                    continue
                iid = r.get("insertId")
                if iid and iid in t["ids"]:
                    continue
                if iid:
                    t["ids"].add(iid)
                t["rows"].append(r["json"])
        resp = {"kind": "bigquery#tableDataInsertAllResponse"}
        if errors:
            resp["insertErrors"] = errors
        self.reply(200, resp)

    # ---- queries
    SELECT = re.compile(
        r"SELECT (?P<cols>`\w+`(?:, `\w+`)*) FROM `(?P<p>[^`]+)\.(?P<d>\w+)\.(?P<t>[\w-]+)` WHERE "
        r"(?:TRUE(?P<cur> AND \(`(?P<et>\w+)` (?P<op>[<>]) @(?P<c1>\w+) OR \(`(?P=et)` = @(?P=c1) AND "
        r"`_id` (?P=op) @(?P<c2>\w+)\)\))? ORDER BY `(?P<ord>\w+)` (?P<dir>ASC|DESC), `_id` (?P=dir)"
        r"|`_id` = @(?P<idp>\w+)) LIMIT (?P<lim>\d+)$")

    def api_query(self, rest, qs):
        b = self.body()
        with STATE_LOCK:
            STATE["stats"]["query_sql"].append(b.get("query"))
        if b.get("useLegacySql", True) or b.get("parameterMode", "NAMED") != "NAMED":
            return self.reply(400, google_error(400, "invalid", "colibri must send standard SQL, named parameters"))
        if not b.get("formatOptions", {}).get("useInt64Timestamp"):
            return self.reply(400, google_error(400, "invalid", "expected formatOptions.useInt64Timestamp"))
        m = self.SELECT.match(b["query"])
        if not m:
            return self.reply(400, google_error(400, "invalidQuery", "the fake does not understand: " + b["query"]))
        params = {p["name"]: p["parameterValue"].get("value") for p in b.get("queryParameters", [])}
        with STATE_LOCK:
            t = STATE["tables"].get((m["d"], m["t"]))
            if not t:
                return self.reply(404, google_error(404, "notFound", f"Not found: Table {m['d']}.{m['t']}"))
            schema = {f["name"]: f for f in t["schema"]}
            types = {name: f["type"] for name, f in schema.items()}
            rows = list(t["rows"])
        cols = re.findall(r"`(\w+)`", m["cols"])
        if m["idp"]:
            rows = [r for r in rows if r.get("_id") == params[m["idp"]]]
        else:
            et = m["ord"]
            desc = m["dir"] == "DESC"
            rows.sort(key=lambda r: (sort_key(types[et], r.get(et)), r.get("_id")), reverse=desc)
            if m["cur"]:
                ct, cid = ts_micros(params[m["c1"]]), params[m["c2"]]
                after = (lambda k: k < (ct, cid)) if desc else (lambda k: k > (ct, cid))
                rows = [r for r in rows if after((int(cell("TIMESTAMP", r[et])), r["_id"]))]
        rows = rows[:int(m["lim"])]
        out = [{"f": [{"v": field_cell(schema[c], r.get(c))} for c in cols]} for r in rows]
        fields = [schema[c] for c in cols]
        job = "job_" + uuid.uuid4().hex[:12]
        with STATE_LOCK:
            polls = STATE["faults"]["incomplete_polls"]
            STATE["jobs"][job] = {"rows": out, "fields": fields, "polls_left": polls}
        ref = {"projectId": "test", "jobId": job, "location": "US"}
        if polls:
            return self.reply(200, {"kind": "bigquery#queryResponse", "jobReference": ref, "jobComplete": False})
        self.reply(200, self.results(job, ref, int(b.get("maxResults", 10**9)), 0, "bigquery#queryResponse"))

    def results(self, job, ref, max_results, start, kind):
        j = STATE["jobs"][job]
        page = j["rows"][start:start + max_results]
        r = {"kind": kind, "jobReference": ref, "jobComplete": True, "schema": {"fields": j["fields"]},
             "rows": page, "totalRows": str(len(j["rows"])), "totalBytesProcessed": "0", "cacheHit": False}
        if start + max_results < len(j["rows"]):
            r["pageToken"] = str(start + max_results)
        return r

    def api_getQueryResults(self, rest, qs):
        job = rest.split("/")[2]
        with STATE_LOCK:
            j = STATE["jobs"].get(job)
            if not j:
                return self.reply(404, google_error(404, "notFound", f"Not found: Job test:US.{job}"))
            if qs.get("location", ["US"])[0] != "US":
                return self.reply(404, google_error(404, "notFound", f"Not found: Job {job} in that location"))
            ref = {"projectId": "test", "jobId": job, "location": "US"}
            if j["polls_left"] > 0:
                j["polls_left"] -= 1
                return self.reply(200, {"kind": "bigquery#getQueryResultsResponse", "jobReference": ref,
                                        "jobComplete": False})
            body = self.results(job, ref, int(qs.get("maxResults", [10**9])[0]),
                                int(qs.get("pageToken", ["0"])[0]), "bigquery#getQueryResultsResponse")
        self.reply(200, body)


def serve(port=0, metadata_port=0):
    """Start the API and the metadata server in threads; returns (api_server, metadata_server)."""
    api = ThreadingHTTPServer(("127.0.0.1", port), Api)
    meta = ThreadingHTTPServer(("127.0.0.1", metadata_port), Api)
    for s in (api, meta):
        s.daemon_threads = True
        threading.Thread(target=s.serve_forever, daemon=True).start()
    return api, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--metadata-port", type=int, default=0)
    a = ap.parse_args()
    api, meta = serve(a.port, a.metadata_port)
    print(f"api 127.0.0.1:{api.server_address[1]}", flush=True)
    print(f"metadata 127.0.0.1:{meta.server_address[1]}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
