#!/usr/bin/env python3
"""Consistency checks for monitoring/, run by tests/monitoring/run.

The /metrics contract (the series colibri exports, their labels and label values) is written out
below; every rule expression and every dashboard query may use only those series, the recording
rules of monitoring/rules/recording.yml, and Prometheus' own `up` and `ALERTS`. Prints one
"ok   - …" or "FAIL - …" line per check; exit status 1 if any failed.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MON = os.path.join(ROOT, "monitoring")

# ------------------------------------------------------------------ the /metrics contract
ROUTES = {"/data", "/data/{id}", "/healthz", "/readyz", "/metrics", "/openapi.json", "/pubsub/push", "other"}
HTTP_BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.3", "0.5", "1", "2.5", "5", "10", "+Inf"]
ROWS_BUCKETS = ["1", "10", "50", "100", "250", "500", "1000", "5000", "+Inf"]
BATCH_BUCKETS = ["0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
SOURCES = {"kafka", "pubsub", "push", "load"}

SERIES = {  # name -> label names (job and instance are added by the scrape)
    "colibri_http_requests_total": {"route", "method", "code"},
    "colibri_ingest_messages_total": {"source", "result"},
    "colibri_consumer_lag_messages": {"source", "partition"},
    "colibri_newest_event_timestamp_seconds": set(),
    "colibri_last_store_success_timestamp_seconds": set(),
    "colibri_store_errors_total": {"backend", "kind"},
    "colibri_upstream_errors_total": {"api", "kind"},
    "colibri_ready": set(),
    "colibri_subscriber_assigned": set(),
    "colibri_build_info": {"version", "commit"},
    "process_resident_memory_bytes": set(),
    "process_cpu_seconds_total": set(),
    "process_open_fds": set(),
    "process_max_fds": set(),
    "process_start_time_seconds": set(),
    "up": set(),
    "ALERTS": {"alertname", "alertstate", "severity", "slo", "source", "partition", "backend", "kind"},
}
for h, labels in (("colibri_http_request_duration_seconds", {"route"}),
                  ("colibri_batch_rows", {"source"}),
                  ("colibri_batch_duration_seconds", {"source"})):
    SERIES[h + "_bucket"] = labels | {"le"}
    SERIES[h + "_sum"] = labels
    SERIES[h + "_count"] = labels

VALUES = {  # label -> allowed values in = and != matchers
    "route": ROUTES,
    "source": SOURCES,
    "result": {"stored", "duplicate", "dead_letter"},
    "kind": {"unavailable", "io", "timeout", "invalid"},
    "api": {"bigquery", "pubsub", "metadata", "kafka"},
    "backend": {"sqlite", "bigquery"},
    "slo": {"availability", "latency", "freshness"},
    "le": set(HTTP_BUCKETS) | set(ROWS_BUCKETS) | set(BATCH_BUCKETS),
    "severity": {"page", "ticket"},
    "alertstate": {"firing", "pending"},
}
BASE_LABELS = {"job", "instance", "__name__", "slo"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}

results = []


def report(ok, name, detail=""):
    results.append(ok)
    print(("ok   - " if ok else "FAIL - ") + name)
    if not ok and detail:
        for line in str(detail).splitlines():
            print("    " + line)


def grafana_vars(expr):
    e = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1d")
    return re.sub(r"\$\{?\w+\}?", "colibri", e)


TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>0x[0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?:ms|[smhdwy])?)
  | (?P<id>[a-zA-Z_:][\w:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^=<>(){}\[\],@])
""", re.X)


def lex(s):
    toks, i = [], 0
    while i < len(s):
        c = s[i]
        if c in "\"'`":
            j, buf = i + 1, ""
            while j < len(s) and s[j] != c:
                if s[j] == "\\" and c != "`":
                    buf += s[j + 1]
                    j += 2
                    continue
                buf += s[j]
                j += 1
            toks.append(("str", buf))
            i = j + 1
            continue
        m = TOKEN.match(s, i)
        if not m:
            raise ValueError(f"cannot lex {s[i:i + 20]!r}")
        kind = m.lastgroup
        if kind != "ws":
            toks.append((kind, m.group()))
        i = m.end()
    return toks


def analyse(expr):
    """Returns (metric names, label names, [(label, op, value)]) used by a PromQL expression."""
    toks = lex(grafana_vars(expr))
    names, labels, matchers, stack = set(), set(), [], []
    for k, (kind, v) in enumerate(toks):
        nxt = toks[k + 1] if k + 1 < len(toks) else (None, None)
        prev = toks[k - 1] if k else (None, None)
        if kind == "op" and v in "{[(":
            stack.append("group" if v == "(" and prev[0] == "id" and prev[1] in GROUPING else v)
            continue
        if kind == "op" and v in "}])":
            stack.pop()
            continue
        if kind != "id":
            continue
        top = stack[-1] if stack else None
        if top == "{":
            if nxt[1] in ("=", "!=", "=~", "!~"):
                labels.add(v)
                val = toks[k + 2][1] if k + 2 < len(toks) else ""
                matchers.append((v, nxt[1], val))
        elif top == "group":
            labels.add(v)
        elif top == "[":
            pass
        elif nxt[1] in ("(", "by", "without") or v in KEYWORDS:
            pass
        else:
            names.add(v)
    return names, labels, matchers


def check_expr(where, expr, known_names, known_labels):
    try:
        names, labels, matchers = analyse(expr)
    except Exception as e:  # noqa: BLE001
        return [f"{where}: {e}"]
    errs = []
    for n in sorted(names - known_names):
        errs.append(f"{where}: unknown series {n}")
    for lab in sorted(labels - known_labels):
        errs.append(f"{where}: unknown label {lab}")
    for lab, op, val in matchers:
        if lab == "__name__" and op == "=" and val not in known_names:
            errs.append(f"{where}: unknown series {val}")
        if op in ("=", "!=") and lab in VALUES and val not in VALUES[lab]:
            errs.append(f'{where}: {lab}="{val}" is not a value colibri exports')
    return errs


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def main():
    rec = load_yaml(os.path.join(MON, "rules", "recording.yml"))
    alerts = load_yaml(os.path.join(MON, "rules", "alerts.yml"))
    record_names = {r["record"] for g in rec["groups"] for r in g["rules"]}
    known = set(SERIES) | record_names
    known_labels = set().union(*SERIES.values()) | BASE_LABELS

    # -- rule expressions use only exported series, labels and label values
    errs = []
    for path, doc in (("recording.yml", rec), ("alerts.yml", alerts)):
        for g in doc["groups"]:
            for r in g["rules"]:
                errs += check_expr(f"{path} {r.get('record') or r.get('alert')}", r["expr"], known, known_labels)
    report(not errs, "rule expressions use only /metrics series, recording rules and known labels", "\n".join(errs))

    # -- alerts: labels and annotations
    runbook_path = os.path.join(ROOT, "docs", "runbook.md")
    anchors = set()
    if os.path.exists(runbook_path):
        for line in open(runbook_path):
            m = re.match(r"#+\s+(.*?)\s*$", line)
            if m:
                a = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
                anchors.add(a)
    alert_rules = [r for g in alerts["groups"] for r in g["rules"] if "alert" in r]
    errs = []
    for r in alert_rules:
        a = r["alert"]
        if r.get("labels", {}).get("severity") not in ("page", "ticket"):
            errs.append(f"{a}: severity must be page or ticket")
        ann = r.get("annotations", {})
        for k in ("summary", "description", "runbook_url"):
            if not ann.get(k):
                errs.append(f"{a}: no {k} annotation")
        want = f"docs/runbook.md#{a.lower()}"
        if ann.get("runbook_url") != want:
            errs.append(f"{a}: runbook_url should be {want}")
        if a.lower() not in anchors:
            errs.append(f"{a}: docs/runbook.md has no heading with anchor #{a.lower()}")
    report(not errs and alert_rules, f"{len(alert_rules)} alerts have severity, summary, description and a runbook anchor",
           "\n".join(errs))

    # -- SLO thresholds agree with the objectives
    objectives = {}
    for g in rec["groups"]:
        for r in g["rules"]:
            if r.get("record") == "slo:colibri_objective:ratio":
                objectives[r["labels"]["slo"]] = float(re.search(r"vector\(([\d.]+)\)", r["expr"]).group(1))
    errs = []
    burn_alerts = [r for r in alert_rules if r.get("labels", {}).get("slo")]
    for r in burn_alerts:
        slo = r["labels"]["slo"]
        budget = 1 - objectives.get(slo, 0)
        factors = re.findall(r"\(\s*([\d.]+)\s*\*\s*([\d.]+)\s*\)", r["expr"])
        if not factors:
            errs.append(f"{r['alert']}: no (factor * budget) thresholds")
        for factor, b in factors:
            if abs(float(b) - budget) > 1e-9:
                errs.append(f"{r['alert']}: budget {b} but objective of {slo} is {objectives.get(slo)}")
        for m in re.findall(r'slo="(\w+)"', r["expr"]):
            if m != slo:
                errs.append(f"{r['alert']}: uses slo={m} but is labelled slo={slo}")
    report(not errs and len(burn_alerts) == 2 * len(objectives) == 6,
           "burn-rate thresholds are multiples of (1 - objective) for each of the 3 SLOs", "\n".join(errs))

    # -- unit-test coverage
    fires, quiet, expr_tests = set(), set(), []
    for path in glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "rules", "*.yml")):
        doc = load_yaml(path)
        for t in doc.get("tests", []):
            for at in t.get("alert_rule_test", []) or []:
                (fires if at.get("exp_alerts") else quiet).add(at["alertname"])
            for et in t.get("promql_expr_test", []) or []:
                expr_tests.append(et["expr"])
    names = {r["alert"] for r in alert_rules}
    missing = [f"{a}: no firing case" for a in sorted(names - fires)] + \
              [f"{a}: no quiet case" for a in sorted(names - quiet)]
    report(not missing, "every alert has a promtool case where it fires and one where it stays quiet", "\n".join(missing))
    untested = sorted(n for n in record_names if not any(re.search(re.escape(n) + r"(?![\w:])", e) for e in expr_tests))
    report(not untested, f"every recording rule ({len(record_names)}) has its value checked by a promql_expr_test",
           "\n".join(untested))

    # -- Prometheus configs
    errs = []
    main_cfg = load_yaml(os.path.join(MON, "prometheus.yml"))
    compose_cfg = load_yaml(os.path.join(MON, "prometheus.compose.yml"))

    def strip(cfg):
        c = json.loads(json.dumps(cfg))
        for sc in c.get("scrape_configs", []):
            sc.pop("file_sd_configs", None)
            sc.pop("static_configs", None)
        return c

    if strip(main_cfg) != strip(compose_cfg):
        errs.append("prometheus.yml and prometheus.compose.yml differ in more than their targets")
    jobs = {sc["job_name"]: sc for sc in main_cfg["scrape_configs"]}
    if "colibri" not in jobs:
        errs.append('no scrape job "colibri"')
    targets = []
    for f in glob.glob(os.path.join(MON, "targets", "*.json")):
        for grp in json.load(open(f)):
            targets += grp["targets"]
    if "127.0.0.1:8080" not in targets:
        errs.append("monitoring/targets/*.json does not list 127.0.0.1:8080")
    ctargets = [t for sc in compose_cfg["scrape_configs"] if sc["job_name"] == "colibri"
                for s in sc.get("static_configs", []) for t in s["targets"]]
    if ctargets != ["colibri:8080"]:
        errs.append(f"compose config scrapes {ctargets}, expected colibri:8080")
    report(not errs, "Prometheus configs: job colibri, 127.0.0.1:8080 by file_sd, colibri:8080 in compose", "\n".join(errs))

    # -- dashboard
    dpath = os.path.join(MON, "grafana", "dashboards", "colibri.json")
    try:
        dash = json.load(open(dpath))
        report(True, "dashboard JSON parses")
    except Exception as e:  # noqa: BLE001
        report(False, "dashboard JSON parses", e)
        return
    errs, exprs = [], []
    ids = [p.get("id") for p in dash.get("panels", [])]
    if len(ids) != len(set(ids)):
        errs.append("panel ids are not unique")
    if not dash.get("uid") or not dash.get("title"):
        errs.append("dashboard has no uid or title")
    for p in dash.get("panels", []):
        if "gridPos" not in p:
            errs.append(f"panel {p.get('title')}: no gridPos")
        for t in p.get("targets", []):
            exprs.append((p.get("title"), t["expr"]))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.match(r"label_values\((.*),\s*(\w+)\)\s*$", q or "")
        if m:
            exprs.append((f"variable {v['name']}", m.group(1)))
    if not exprs:
        errs.append("no queries")
    for where, e in exprs:
        errs += check_expr(f"dashboard: {where}", e, known, known_labels)
    report(not errs, f"dashboard: {len(exprs)} queries use only /metrics series, recording rules and known labels",
           "\n".join(errs))

    # every query is valid PromQL: let promtool parse them as recording rules
    group = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query:{i}", "expr": grafana_vars(e)} for i, (_, e) in enumerate(exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(group, f)
        tmp = f.name
    try:
        r = subprocess.run(["promtool", "check", "rules", tmp], capture_output=True, text=True)
        report(r.returncode == 0, "dashboard: every query parses (promtool check rules)", r.stdout + r.stderr)
    finally:
        os.unlink(tmp)

    # datasource variable and provisioning agree
    errs = []
    dsvars = [v for v in dash["templating"]["list"] if v.get("type") == "datasource"]
    if not dsvars or dsvars[0].get("query") != "prometheus":
        errs.append("dashboard has no prometheus datasource variable")
    for p in dash["panels"]:
        if p.get("type") != "row" and p.get("datasource", {}).get("uid") != "${datasource}":
            errs.append(f"panel {p.get('title')}: datasource is not ${{datasource}}")
    prov_ds = load_yaml(os.path.join(MON, "grafana", "provisioning", "datasources", "prometheus.yml"))
    if not any(d.get("type") == "prometheus" for d in prov_ds.get("datasources", [])):
        errs.append("provisioning/datasources: no prometheus data source")
    prov_db = load_yaml(os.path.join(MON, "grafana", "provisioning", "dashboards", "colibri.yml"))
    if not any(p.get("type") == "file" and p.get("options", {}).get("path") for p in prov_db.get("providers", [])):
        errs.append("provisioning/dashboards: no file provider with a path")
    report(not errs, "Grafana provisioning: prometheus data source, file provider, panels use ${datasource}",
           "\n".join(errs))


if __name__ == "__main__":
    main()
    sys.exit(0 if all(results) else 1)
