"""colibri load, check-config, configuration errors and shutdown, as a user
runs them."""
import http.client
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request

from pylib.server import BIN, Server, base_env, generate, load, sql


def test_load_reports_each_rejected_line_and_keeps_it(tmp_path):
    db = str(tmp_path / "t.db")
    good = generate(str(tmp_path / "good.ndjson"), 20, seed=3)
    lines = open(good).read().splitlines()
    bad = {
        3: "this is not json",
        6: "[1, 2, 3]",
        9: lines[8].replace('"flight_number":', '"flight_number":"12abc","x":'),
        12: '{"event_id": "only-this"}',
        15: lines[14][: len(lines[14]) // 2],
    }
    for n, text in bad.items():
        lines[n - 1] = text
    src = tmp_path / "mixed.ndjson"
    src.write_text("\n".join(lines) + "\n\n")
    r = load(db, str(src))
    assert r.returncode == 1
    for n in bad:
        assert f"line {n}: " in r.stderr
    assert "15 rows stored" in r.stderr and "5 rejected" in r.stderr
    assert sql(db, "SELECT count(*) FROM flights") == ["15"]
    dead = sql(db, "SELECT payload FROM _dead_letters ORDER BY at, id")
    assert sorted(dead) == sorted(bad.values())
    reason = sql(db, "SELECT reason FROM _dead_letters WHERE payload = '{\"event_id\": \"only-this\"}'")
    assert len(reason) == 1 and "missing required field" in reason[0]
    # loading the same file again stores nothing twice
    again = load(db, str(src))
    assert again.returncode == 1 and "0 rows stored, 15 already present" in again.stderr
    assert sql(db, "SELECT count(*) FROM flights") == ["15"]
    assert sql(db, "SELECT count(*) FROM _dead_letters") == ["5"]


def test_load_streams_in_bounded_memory(tmp_path):
    """400,000 rows (~170 MB of NDJSON) through a pipe: colibri's own peak RSS stays under
    128 MiB, less than the input: the writer's 64 MiB SQLite page cache (cache_size) plus the
    batches in flight, whatever the input's size."""
    db = str(tmp_path / "big.db")
    gen = subprocess.Popen([os.environ.get("FLIGHTGEN", "build/flightgen"), "--rows", "400000", "--seed", "11"],
                           stdout=subprocess.PIPE)
    p = subprocess.Popen([BIN, "load", "-"], stdin=gen.stdout, env=base_env(COLIBRI_STORE="sqlite:" + db),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    gen.stdout.close()
    err = p.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(p.pid, 0)      # this process's own peak, not any other child's
    p.returncode = os.waitstatus_to_exitcode(status)
    gen.wait()
    assert p.returncode == 0, err
    assert usage.ru_maxrss < 128 * 1024, f"peak RSS {usage.ru_maxrss} KiB"
    assert sql(db, "SELECT count(*) FROM flights") == ["400000"]


def test_load_ends_at_a_store_failure_instead_of_retrying(tmp_path):
    """colibri load's source is one-shot: nothing would deliver its lines again, so a store that
    refuses every insert ends the run with exit 2, where a subscriber would wait and retry."""
    db = str(tmp_path / "t.db")
    first = generate(str(tmp_path / "first.ndjson"), 5, seed=4)
    assert load(db, first).returncode == 0
    sql(db, "CREATE TRIGGER refuse BEFORE INSERT ON flights BEGIN SELECT RAISE(ABORT, 'refused'); END")
    more = generate(str(tmp_path / "more.ndjson"), 3000, seed=5)
    t0 = time.monotonic()
    r = subprocess.run([BIN, "load", more], env=base_env(COLIBRI_STORE="sqlite:" + db),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert time.monotonic() - t0 < 30
    assert "colibri load: the store failed" in r.stderr and "0 rows stored" in r.stderr
    assert sql(db, "SELECT count(*) FROM flights") == ["5"]


def test_bad_configuration_fails_at_start_with_what_to_fix(tmp_path):
    cases = [
        ({"COLIBRI_STORE": "mysql://x"}, "COLIBRI_STORE"),
        ({"COLIBRI_STORE": "sqlite:/nonexistent-dir/x.db"}, "COLIBRI_STORE"),
        ({"PORT": "99999"}, "PORT"),
        ({"COLIBRI_LISTEN": "nohostport"}, "COLIBRI_LISTEN"),
        ({"COLIBRI_BATCH_MAX": "0"}, "COLIBRI_BATCH_MAX"),
        ({"COLIBRI_LOG_LEVEL": "loud"}, "COLIBRI_LOG_LEVEL"),
        ({"COLIBRI_SCHEMA": str(tmp_path / "missing.json")}, "COLIBRI_SCHEMA"),
        ({"COLIBRI_EVENT_TIME": "carrier"}, "carrier"),
    ]
    for env, mention in cases:
        r = subprocess.run([BIN, "check-config"], env=base_env(**{"COLIBRI_STORE": "sqlite:" + str(tmp_path / "c.db"), **env}),
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 2, (env, r.stderr)
        assert mention in r.stderr, (env, r.stderr)
    r = subprocess.run([BIN, "serve", "--no-such-flag"], env=base_env(), capture_output=True, text=True)
    assert r.returncode == 2 and "--no-such-flag" in r.stderr


def test_check_config_masks_secrets_and_flags_override_env(tmp_path):
    r = subprocess.run([BIN, "check-config", "--batch-max", "77"],
                       env=base_env(COLIBRI_STORE="sqlite:" + str(tmp_path / "c.db"), COLIBRI_API_KEYS="k1,k2",
                                    COLIBRI_CURSOR_SECRET="s3cret", COLIBRI_BATCH_MAX="5"),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "COLIBRI_API_KEYS=********" in r.stdout and "s3cret" not in r.stdout and "k1" not in r.stdout
    assert "COLIBRI_BATCH_MAX=77" in r.stdout
    assert "store sqlite: reachable" in r.stdout


def test_help_and_version():
    h = subprocess.run([BIN, "--help"], capture_output=True, text=True)
    assert h.returncode == 0 and "COLIBRI_STORE" in h.stdout and "colibri load" in h.stdout
    v = subprocess.run([BIN, "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith("colibri ")


def test_sigterm_drains_in_flight_requests_and_exits_0(dataset):
    s = Server(dataset)
    conns = [http.client.HTTPConnection("127.0.0.1", s.port, timeout=20) for _ in range(8)]
    for c in conns:
        c.connect()
    results = []

    def fetch(c):
        r = c.getresponse()
        results.append((r.status, len(r.read())))

    # every request is sent before the signal (a connection with none in progress is cut at once)
    for c in conns:
        c.request("GET", "/data?limit=1000")
    threads = [threading.Thread(target=fetch, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    t0 = time.time()
    rc = s.stop(signal.SIGTERM)
    for t in threads:
        t.join()
    assert rc == 0
    assert time.time() - t0 < 10
    assert len(results) == 8 and all(status == 200 and n > 100_000 for status, n in results)
    # and it no longer accepts connections
    try:
        urllib.request.urlopen(s.url + "/healthz", timeout=2)
        assert False, "still serving after SIGTERM"
    except OSError:
        pass


def test_cursor_secret_makes_cursors_valid_across_instances(dataset):
    a = Server(dataset, COLIBRI_CURSOR_SECRET="shared")
    b = Server(dataset, COLIBRI_CURSOR_SECRET="shared")
    c = Server(dataset, COLIBRI_CURSOR_SECRET="other")
    try:
        cur = a.get("/data?limit=5").json()["next_cursor"]
        pa = a.get("/data?limit=5&cursor=" + cur).json()
        pb = b.get("/data?limit=5&cursor=" + cur).json()
        assert pa == pb and len(pa["data"]) == 5
        assert c.get("/data?limit=5&cursor=" + cur).status == 400
    finally:
        for s in (a, b, c):
            assert s.stop() == 0


def test_logs_are_cloud_logging_json_lines_with_one_access_line_per_request(dataset):
    s = Server(dataset, COLIBRI_LOG_LEVEL="info", GOOGLE_CLOUD_PROJECT="demo-project")
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert s.get("/data?limit=2", headers={"traceparent": tp, "User-Agent": "probe/1"}).status == 200
    assert s.get("/data?limit=0", headers={"X-Request-Id": "req-42"}).status == 400
    assert s.stop() == 0
    lines = [json.loads(line) for line in s.log.splitlines()]
    assert all({"time", "severity", "message"} <= set(e) for e in lines)
    access = [e for e in lines if e["message"] == "request" and e["httpRequest"]["requestUrl"].startswith("/data")]
    assert len(access) == 2
    # each is written when its answer is done, by the worker that served it: in either order
    first, second = sorted(access, key=lambda e: e["httpRequest"]["requestUrl"] != "/data?limit=2")
    assert first["httpRequest"]["status"] == 200 and first["httpRequest"]["userAgent"] == "probe/1"
    assert first["httpRequest"]["latency"].endswith("s")
    assert first["logging.googleapis.com/trace"] == "projects/demo-project/traces/0af7651916cd43dd8448eb211c80319c"
    assert second["requestId"] == "req-42" and second["httpRequest"]["status"] == 400
    assert "logging.googleapis.com/trace" not in second
