"""schemathesis hooks for test_contract.py (SCHEMATHESIS_HOOKS=contract_hooks).

A cursor is opaque and signed: one that colibri did not hand out for this very
query is a 400, and no generator can make a valid one. So, before a generated
*positive* GET /data request that carries a cursor is sent, its cursor is
replaced by a real one: the next_cursor of the same query without it (or the
cursor is dropped when that query has one page only). Negative cases keep
whatever cursor was generated: those must be rejected, and are checked so.
"""
import json
import os
import urllib.error
import urllib.parse
import urllib.request

import schemathesis
from schemathesis.generation.modes import GenerationMode

BASE = os.environ["CONTRACT_BASE"]
AUTH = os.environ.get("CONTRACT_AUTH", "")


def _real_cursor(query):
    q = {k: v for k, v in query.items() if k != "cursor"}
    q["format"] = "json"
    q["fields"] = "_id"
    url = BASE + "/data?" + urllib.parse.urlencode(
        {k: ",".join(map(_text, v)) if isinstance(v, list) else _text(v) for k, v in q.items()})
    req = urllib.request.Request(url, headers={"Authorization": AUTH} if AUTH else {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return json.loads(r.read()).get("next_cursor")
    except (urllib.error.HTTPError, ValueError):
        return None


def _text(v):
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path != "/data" or not case.query or "cursor" not in case.query:
        return
    meta = getattr(case, "meta", None)
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return
    cursor = _real_cursor(case.query)
    if cursor:
        case.query["cursor"] = cursor
    else:
        del case.query["cursor"]
