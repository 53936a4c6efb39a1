"""GET /metrics checked by promtool, counted exactly, and scraped by a real
Prometheus server that evaluates monitoring/rules: recording rules produce
values, and ColibriNotReady fires while the store cannot take writes and
resolves after."""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
import urllib.parse
import urllib.request

from pylib.server import ROOT, Server, free_port

PROMTOOL = shutil.which("promtool") or "promtool"          # Debian prometheus, from scripts/deps
PROMETHEUS = shutil.which("prometheus") or "prometheus"


def scrape(server):
    r = server.get("/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return r.body.decode()


def value(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_pass_promtool_and_count_exactly(server):
    before = scrape(server)
    for _ in range(7):
        assert server.get("/data?limit=1").status == 200
    for _ in range(3):
        assert server.get("/data?limit=0").status == 400
    assert server.get("/data/nope").status == 404
    after = scrape(server)
    ok = '{route="/data",method="GET",code="200"}'
    bad = '{route="/data",method="GET",code="400"}'
    assert value(after, "colibri_http_requests_total" + ok) - (value(before, "colibri_http_requests_total" + ok) or 0) == 7
    assert value(after, "colibri_http_requests_total" + bad) - (value(before, "colibri_http_requests_total" + bad) or 0) == 3
    assert value(after, 'colibri_http_requests_total{route="/data/{id}",method="GET",code="404"}') >= 1
    assert value(after, 'colibri_http_request_duration_seconds_bucket{route="/data",le="+Inf"}') == \
        value(after, 'colibri_http_request_duration_seconds_count{route="/data"}')
    assert value(after, "colibri_ready") == 1
    assert re.search(r'^colibri_build_info\{version="[^"]+",commit="[^"]+"\} 1$', after, re.M)
    assert value(after, "process_resident_memory_bytes") > 1_000_000
    assert value(after, "process_open_fds") > 3
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=after, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_metrics_off_means_404(dataset):
    s = Server(dataset, COLIBRI_METRICS="off")
    try:
        assert s.get("/metrics").status == 404
        assert s.get("/data?limit=1").status == 200
    finally:
        assert s.stop() == 0


def prom_query(url, q):
    with urllib.request.urlopen(f"{url}/api/v1/query?query={urllib.parse.quote(q)}", timeout=5) as r:
        return json.load(r)["data"]["result"]


def prom_alerts(url):
    with urllib.request.urlopen(f"{url}/api/v1/alerts", timeout=5) as r:
        return json.load(r)["data"]["alerts"]


def wait_for(what, fn, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            got = fn()
        except OSError:     # prometheus not listening yet
            got = None
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_real_prometheus_scrapes_records_and_alerts(tmp_path, dataset):
    db = str(tmp_path / "p.db")
    shutil.copy(dataset, db)
    s = Server(db)
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("recording.yml", "alerts.yml"):
        text = open(os.path.join(ROOT, "monitoring/rules", name)).read()
        # evaluate every second and fire at once, so the test takes seconds, not minutes
        text = re.sub(r"interval: \w+", "interval: 1s", text)
        text = re.sub(r"for: \w+", "for: 0s", text)
        (rules / name).write_text(text)
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 2s, scrape_timeout: 2s, evaluation_interval: 1s}}
rule_files: ["{rules}/*.yml"]
scrape_configs:
  - job_name: colibri
    static_configs: [{{targets: ["127.0.0.1:{s.port}"]}}]
""")
    prom = subprocess.Popen([PROMETHEUS, f"--config.file={tmp_path}/prometheus.yml",
                             f"--storage.tsdb.path={tmp_path}/tsdb", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "w"))
    url = f"http://127.0.0.1:{port}"
    lock = None
    try:
        wait_for("the scrape", lambda: any(r["value"][1] == "1" for r in prom_query(url, 'up{job="colibri"}')))
        for _ in range(20):
            s.get("/data?limit=5")
        rate = wait_for("a recording rule value", lambda: [
            r for r in prom_query(url, 'job_route:colibri_http_requests:rate5m{route="/data"}')
            if float(r["value"][1]) > 0])
        assert rate[0]["metric"]["job"] == "colibri"
        assert not [a for a in prom_alerts(url) if a["labels"]["alertname"] == "ColibriNotReady"]

        # another process takes the write lock: the store cannot take writes
        lock = sqlite3.connect(db, timeout=1, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        firing = wait_for("ColibriNotReady to fire", lambda: [
            a for a in prom_alerts(url) if a["labels"]["alertname"] == "ColibriNotReady" and a["state"] == "firing"])
        assert firing[0]["labels"]["severity"]
        assert s.get("/readyz").status == 503
        lock.execute("ROLLBACK")
        lock.close()
        lock = None
        wait_for("ColibriNotReady to resolve", lambda: not [
            a for a in prom_alerts(url) if a["labels"]["alertname"] == "ColibriNotReady"])
        assert s.get("/readyz").status == 200
    finally:
        if lock:
            lock.close()
        prom.terminate()
        prom.wait(timeout=10)
        assert s.stop() == 0
