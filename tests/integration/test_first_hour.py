"""The first hour of a new user: the default schema from any directory and
after `make install`, credentials that are missing said so at once, every
setting shown, a quiet `make run` that stops cleanly on Ctrl-C."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from pylib.ports import free_port
from pylib.server import BIN, FLIGHTGEN, ROOT, Server, base_env


def plain_env(**extra):
    """base_env without the COLIBRI_SCHEMA the other tests set."""
    env = base_env(**extra)
    if "COLIBRI_SCHEMA" not in extra:
        env.pop("COLIBRI_SCHEMA")
    return env


def check_config(binary, cwd, **env):
    return subprocess.run([binary, "check-config"], cwd=cwd, capture_output=True, text=True, timeout=30,
                          env=plain_env(**env))


def test_default_schema_from_any_directory(tmp_path):
    db = f"sqlite:{tmp_path}/a.db"
    # the build tree, from elsewhere: build/../schema/flights.json
    r = check_config(BIN, "/", COLIBRI_STORE=db)
    assert r.returncode == 0, r.stderr
    assert re.search(r"schema: \S+/schema/flights.json, table flights, 18 columns", r.stdout), r.stdout
    # a copy of the binary with no schema anywhere near: the one built in
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(BIN, lone / "colibri")
    r = check_config(str(lone / "colibri"), str(tmp_path), COLIBRI_STORE=db)
    assert r.returncode == 0, r.stderr
    assert "schema: built in (schema/flights.json of this build), table flights, 18 columns" in r.stdout
    # COLIBRI_SCHEMA still wins, and a wrong one is an error that names it
    other = tmp_path / "trips.json"
    other.write_text('[{"name":"trip","type":"STRING","mode":"REQUIRED"},'
                     '{"name":"event_time","type":"TIMESTAMP","mode":"REQUIRED"}]')
    r = check_config(str(lone / "colibri"), "/", COLIBRI_STORE=f"sqlite:{tmp_path}/b.db", COLIBRI_SCHEMA=str(other))
    assert r.returncode == 0 and f"schema: {other}, table trips, 2 columns" in r.stdout, r.stdout + r.stderr
    r = check_config(BIN, "/", COLIBRI_STORE=db, COLIBRI_SCHEMA=str(tmp_path / "none.json"))
    assert r.returncode != 0 and "COLIBRI_SCHEMA" in r.stderr


def test_make_install_with_prefix(tmp_path):
    prefix = tmp_path / "usr"
    r = subprocess.run(["make", "--no-print-directory", "-s", "install", f"PREFIX={prefix}",
                        f"BUILD={os.path.relpath(os.path.dirname(BIN), ROOT)}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (prefix / "share/colibri/flights.json").read_bytes() == open(os.path.join(ROOT, "schema/flights.json"), "rb").read()
    r = check_config(str(prefix / "bin/colibri"), str(tmp_path), COLIBRI_STORE=f"sqlite:{tmp_path}/i.db")
    assert r.returncode == 0, r.stderr
    assert f"schema: {prefix}/bin/../share/colibri/flights.json, table flights" in r.stdout
    assert os.access(prefix / "bin/flightgen", os.X_OK)


def test_bigquery_without_credentials_fails_fast_and_says_what_to_set(tmp_path):
    dead = free_port()          # nothing listens: connection refused
    hang = socket.socket()      # listens, never answers: the 1.5 s limit
    hang.bind(("127.0.0.1", 0))
    hang.listen(8)
    try:
        for host in (f"127.0.0.1:{dead}", f"127.0.0.1:{hang.getsockname()[1]}"):
            t0 = time.monotonic()
            r = subprocess.run([BIN, "serve"], capture_output=True, text=True, timeout=30, cwd=str(tmp_path),
                               env=plain_env(COLIBRI_STORE="bigquery:p.d.t", GCE_METADATA_HOST=host,
                                             HOME=str(tmp_path), COLIBRI_LISTEN=f"127.0.0.1:{free_port()}"))
            took = time.monotonic() - t0
            assert r.returncode != 0
            assert took < 2.0, (host, took)
            err = r.stderr
            for said in ("no Google credentials", "GOOGLE_APPLICATION_CREDENTIALS", "application-default",
                         f"metadata server at http://{host}/", "BIGQUERY_EMULATOR_HOST"):
                assert said in err, (said, err)
    finally:
        hang.close()


def test_help_and_check_config_show_every_setting(tmp_path):
    help_text = subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout
    for name in ("COLIBRI_BQ_LOCATION", "COLIBRI_BQ_MAX_BYTES_BILLED", "COLIBRI_BQ_CACHE_MS",
                 "COLIBRI_BIGQUERY_ENDPOINT", "COLIBRI_PUSH", "COLIBRI_KAFKA_<PROP>", "COLIBRI_SCHEMA"):
        assert name in help_text, name
    r = check_config(BIN, str(tmp_path), COLIBRI_STORE=f"sqlite:{tmp_path}/k.db",
                     COLIBRI_KAFKA_LINGER_MS="5", COLIBRI_KAFKA_SASL_PASSWORD="hunter2")
    assert r.returncode == 0, r.stderr
    assert "COLIBRI_KAFKA_LINGER_MS=5   (librdkafka linger.ms)" in r.stdout
    assert "COLIBRI_KAFKA_SASL_PASSWORD=********   (librdkafka sasl.password)" in r.stdout
    assert "hunter2" not in r.stdout
    for name in ("COLIBRI_BQ_LOCATION=", "COLIBRI_BIGQUERY_ENDPOINT=", "COLIBRI_PUSH=off"):
        assert name in r.stdout, name


def test_probes_and_scrapes_are_logged_at_debug_only(tmp_path):
    db = str(tmp_path / "p.db")
    s = Server(db, COLIBRI_LOG_LEVEL="info")
    try:
        for path in ("/healthz", "/readyz", "/metrics", "/readyz", "/data?limit=1", "/nowhere"):
            s.get(path)
    finally:
        assert s.stop() == 0
    # the access line is written when a request completes, which can be after the client
    # has its answer and sent the next request: which lines, not their order
    urls = re.findall(r'"requestUrl":"([^"]*)"', s.log)
    assert sorted(urls) == ["/data?limit=1", "/nowhere"], s.log
    s = Server(db, COLIBRI_LOG_LEVEL="debug")
    try:
        s.get("/readyz")
    finally:
        assert s.stop() == 0
    assert '"requestUrl":"/readyz"' in s.log


def test_make_run_without_kafka_is_quiet_and_stops_cleanly_on_ctrl_c(tmp_path):
    """scripts/run-local as `make run` runs it, in its own process group; Ctrl-C is SIGINT to
    the whole group, as a terminal sends it."""
    port = free_port()
    env = plain_env(RUN_KAFKA="0", COLIBRI_DB=str(tmp_path / "run.db"), PORT=str(port), FEED_RATE="50")
    env.pop("COLIBRI_LOG_LEVEL")
    p = subprocess.Popen([os.path.join(ROOT, "scripts/run-local")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.time() + 60
        out = ""
        while time.time() < deadline and "Ctrl-C stops it." not in out:
            out += p.stdout.readline()
        assert "Ctrl-C stops it." in out, out
        time.sleep(1.5)     # the feed flows; a few requests
        for _ in range(3):
            subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/data?limit=1"], capture_output=True)
        os.killpg(p.pid, signal.SIGINT)
        rest, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    out += rest
    assert p.returncode == 0, out
    banner = out.index("Ctrl-C stops it.")
    assert not re.search(r"WARN|ERROR|Error|error", out), out
    assert "/readyz" not in out and "/healthz" not in out          # the start-up polls
    assert out[banner:].count('"requestUrl":"/data?limit=1"') == 3
    assert "stopped in" in out
    with socket.socket() as c:         # colibri serve is gone
        assert c.connect_ex(("127.0.0.1", port)) != 0
