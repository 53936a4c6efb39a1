"""API keys, rate limits, security headers, CORS and the per-query time
limit, over real HTTP."""
import time

from pylib.server import Server


def test_api_keys_guard_data_but_not_health(dataset):
    s = Server(dataset, COLIBRI_API_KEYS="key-one, key-two", COLIBRI_LOG_LEVEL="info")
    try:
        missing = s.get("/data?limit=1")
        assert missing.status == 401 and missing.json()["error"]["code"] == "unauthorized"
        assert s.get("/data?limit=1", headers={"Authorization": "Bearer nope"}).status == 401
        assert s.get("/data?limit=1", headers={"Authorization": "Bearer key-one"}).status == 200
        assert s.get("/data?limit=1", headers={"X-API-Key": "key-two"}).status == 200
        assert s.get("/data/x", headers={"X-API-Key": "key-one-and-more"}).status == 401
        for open_route in ("/healthz", "/readyz", "/openapi.json", "/metrics"):
            assert s.get(open_route).status == 200, open_route
    finally:
        assert s.stop() == 0
    assert "key-one" not in s.log and "key-two" not in s.log
    assert '"status":401' in s.log      # the refusals were logged, without the keys


def test_keys_from_a_file_and_a_metrics_key(dataset, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("alpha\n\nbeta\n")
    s = Server(dataset, COLIBRI_API_KEYS=f"@{keys}", COLIBRI_METRICS_KEY="scrape")
    try:
        assert s.get("/data?limit=1", headers={"X-API-Key": "beta"}).status == 200
        assert s.get("/data?limit=1", headers={"X-API-Key": "gamma"}).status == 401
        assert s.get("/metrics").status == 401
        assert s.get("/metrics", headers={"X-API-Key": "alpha"}).status == 401
        assert s.get("/metrics", headers={"Authorization": "Bearer scrape"}).status == 200
    finally:
        assert s.stop() == 0


def test_rate_limit_answers_429_with_retry_after(dataset):
    s = Server(dataset, COLIBRI_RATE_LIMIT="2", COLIBRI_RATE_BURST="5")
    try:
        codes = [s.get("/data?limit=1") for _ in range(12)]
        ok = [r for r in codes if r.status == 200]
        limited = [r for r in codes if r.status == 429]
        assert 5 <= len(ok) <= 7 and len(ok) + len(limited) == 12
        assert int(limited[0].headers["Retry-After"]) >= 1
        assert limited[0].json()["error"]["code"] == "rate_limited"
        assert s.get("/healthz").status == 200         # probes are never limited
        time.sleep(1.2)
        assert s.get("/data?limit=1").status == 200    # the bucket refills
    finally:
        assert s.stop() == 0


def test_security_headers_and_cors(dataset):
    s = Server(dataset)
    try:
        r = s.get("/data?limit=1", headers={"Origin": "https://example.test"})
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert "Access-Control-Allow-Origin" not in r.headers      # CORS is off by default
        assert s.get("/data", method="OPTIONS").status == 405
    finally:
        assert s.stop() == 0
    c = Server(dataset, COLIBRI_CORS_ORIGINS="https://a.test,https://b.test")
    try:
        pre = c.get("/data", method="OPTIONS", headers={"Origin": "https://b.test"})
        assert pre.status == 204
        assert pre.headers["Access-Control-Allow-Origin"] == "https://b.test"
        assert "X-API-Key" in pre.headers["Access-Control-Allow-Headers"]
        got = c.get("/data?limit=1", headers={"Origin": "https://a.test"})
        assert got.headers["Access-Control-Allow-Origin"] == "https://a.test"
        assert "Link" in got.headers["Access-Control-Expose-Headers"]
        other = c.get("/data?limit=1", headers={"Origin": "https://evil.test"})
        assert "Access-Control-Allow-Origin" not in other.headers
    finally:
        assert c.stop() == 0


def test_a_query_over_its_time_limit_is_stopped_with_503(dataset):
    s = Server(dataset, COLIBRI_QUERY_TIMEOUT_MS="10")
    try:
        # no index serves this filter and nothing matches: a scan of every row
        r = s.get("/data?limit=1000&distance_km__lt=-1&passengers__gt=100000")
        assert r.status == 503, r.body
        assert r.json()["error"]["code"] == "query_timeout"
        assert r.headers["Retry-After"]
        assert s.get("/data?limit=5").status == 200     # the worker is free again
    finally:
        assert s.stop() == 0
