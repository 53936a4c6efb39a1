"""The edge scenarios of `make chaos` (issue 11): hostile HTTP clients while ingesting, a topic
recreated under a stopped colibri, the broker gone during shutdown, a crash and restart with the
default settings. Each keeps the chaos contract: nothing lost, nothing twice (chaoslib.verify).

Every connection here targets 127.0.0.0/8 and every loop is bounded in count and time."""
import http.client
import os
import resource
import signal
import socket
import time

from chaoslib import Checks, ReadyPoller, log, metrics, snap, verify, wait_rows, wait_total
from scenarios import Producer, _finish, _setup

from pylib.edge import half_sent, rss_kib, still_open  # noqa: E402 - chaoslib put tests/ on sys.path


def _raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 16384)), hard))


def _latencies(c, seconds, path="/data?limit=20"):
    lat, errors = [], 0
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=5)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            errors += r.status != 200
        except OSError:
            errors += 1
            conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=5)
        lat.append(time.monotonic() - t0)
        time.sleep(0.01)
    lat.sort()
    return lat, errors


def _ingesting(ctx, name, rate_s=20):
    n = max(ctx.messages // 8, 4000)
    work, ds, topic, group, db, c = _setup(ctx, name, n)
    prod = Producer(ctx.broker, ds, topic, rate=n / rate_s)
    poller = ReadyPoller(c)
    poller.start()
    prod.start()
    wait_rows(db, topic, 1, 300, proc=c)
    return ds, topic, group, db, c, prod, poller


def slowloris(ctx):
    """2,000 connections stall in their request heads while colibri ingests and serves."""
    ck, fig = Checks(), {}
    _raise_fd_limit()
    ds, topic, group, db, c, prod, poller = _ingesting(ctx, "slowloris")
    socks = half_sent(c.port, 2000)
    lat, errors = _latencies(c, 10)
    p99 = lat[int(len(lat) * 0.99)]
    fig["half-sent connections"] = f"{len(socks)} opened, {still_open(socks)} still open after 10 s"
    fig["GET /data while they stall"] = f"{len(lat)} requests, p50 {lat[len(lat) // 2] * 1e3:.1f} ms, " \
                                        f"p99 {p99 * 1e3:.1f} ms, {errors} errors"
    ck.check("GET /data keeps answering: 0 errors, p99 < 100 ms", errors == 0 and p99 < 0.1, fig["GET /data while they stall"])
    ck.check("/healthz answers", c.status("/healthz") == 200)
    for s in socks:
        s.close()
    prod.finish()
    _finish(ck, fig, ctx, c, ds, db, topic, group, poller)
    return ck, fig, ["Half-sent heads are evicted oldest first when the server is full, and cut at "
                     "COLIBRI_HTTP_HEAD_TIMEOUT_MS whatever trickles in (docs/http-edge.md)."]


def body_flood(ctx):
    """40 clients send 9 MiB of a refused body each and stall, while colibri ingests."""
    ck, fig = Checks(), {}
    ds, topic, group, db, c, prod, poller = _ingesting(ctx, "bodyflood")
    before = rss_kib(c.proc.pid)
    socks, answers = [], set()
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", c.port), timeout=5)
        s.sendall(b"POST /data HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n")
        try:
            for _ in range(9):
                s.sendall(b"x" * (1 << 20))
        except OSError:
            pass
        socks.append(s)
    for s in socks:
        try:
            answers.add(s.recv(12))
        except OSError:
            answers.add(b"")
        s.close()
    grown = (rss_kib(c.proc.pid) - before) / 1024
    fig["RSS growth"] = f"{grown:.1f} MiB"
    ck.check("every flood request refused from its head (405)", answers == {b"HTTP/1.1 405"}, answers)
    ck.check("RSS grows by less than 20 MiB", grown < 20, fig["RSS growth"])
    prod.finish()
    _finish(ck, fig, ctx, c, ds, db, topic, group, poller)
    return ck, fig, []


def broker_reset(ctx):
    """The topic is deleted and recreated (with more messages than before) while colibri is stopped."""
    ck, fig = Checks(), {}
    n = max(ctx.messages // 20, 2000)
    work, ds, topic, group, db, c = _setup(ctx, "reset", n, partitions=1)
    ds.produce(ctx.broker.bootstrap, topic)
    wait_total(db, topic, len(ds.ok), len(ds.bad), 300, proc=c)
    c.kill(signal.SIGTERM)
    ctx.broker.recreate_topic(topic, 1)
    from chaoslib import Dataset
    new = Dataset(work, n + n // 2, seed=ctx.seed + 7, malformed_pct=1)
    new.produce(ctx.broker.bootstrap, topic)
    c.start()
    epoch_topic = topic + "@1"
    try:
        took = wait_total(db, epoch_topic, len(ds.ok) + len(new.ok), len(ds.bad) + len(new.bad), 300, proc=c)
        ck.check("every message of the new log stored", True, f"{len(new.lines)} in {took:.1f} s")
    except AssertionError as e:
        ck.check("every message of the new log stored", False, e)
    m = metrics(c, ("colibri_source_resets_total",))
    resets = sum(v for k, v in m.items() if 'reason="replaced"' in k)
    ck.check("the reset is counted (colibri_source_resets_total{reason=replaced})", resets == 1, m)
    ck.check("and logged as a WARNING", "epoch 1" in c.log_text())
    rc, _ = c.kill(signal.SIGTERM)
    ck.check("SIGTERM: exit 0", rc == 0)
    rows, dead, pos = snap(db, epoch_topic)
    fig["new log"] = f"{len(new.lines)} messages read as epoch 1 (position {pos}); the table now holds {rows} rows " \
                     f"and {dead} dead letters: {len(ds.ok)} + {len(new.ok)} and {len(ds.bad)} + {len(new.bad)}"
    return ck, fig, ["A recreated topic that already holds more messages than were stored is told apart "
                     "by the witness stored with each position (a hash of the last stored message)."]


def broker_gone_at_shutdown(ctx):
    """The broker is SIGKILLed under a consuming colibri, then colibri gets SIGTERM."""
    ck, fig = Checks(), {}
    ds, topic, group, db, c, prod, poller = _ingesting(ctx, "gone", rate_s=30)
    prod.gate.clear()       # kcat gives up when every broker is down: it waits for the broker
    prod.idle.wait(120)
    try:
        os.kill(ctx.broker.pid(), signal.SIGKILL)
        time.sleep(1)
        rc, took = c.kill(signal.SIGTERM, timeout=15)
        fig["SIGTERM with the broker gone"] = f"exit {rc} in {took:.2f} s"
        ck.check("exit 0 in under 10 s", rc == 0 and took < 10, fig["SIGTERM with the broker gone"])
    finally:
        log("  bringing the broker back")
        ctx.broker.up()
    c.start()
    prod.gate.set()
    prod.finish()
    _finish(ck, fig, ctx, c, ds, db, topic, group, poller)
    return ck, fig, []


def crash_restart(ctx):
    """SIGKILL while ingesting and an immediate restart, with the default settings (static membership)."""
    ck, fig = Checks(), {}
    n = max(ctx.messages // 20, 4000)
    work, ds, topic, group, db, c = _setup(ctx, "restart", n)
    ds.produce(ctx.broker.bootstrap, topic, 0, n // 2)
    wait_rows(db, topic, 1, 300, proc=c)
    c.kill(signal.SIGKILL)
    ds.produce(ctx.broker.bootstrap, topic, n // 2, n)
    t0 = time.monotonic()
    c.start()
    try:
        wait_total(db, topic, len(ds.ok), len(ds.bad), 60, proc=c)
        took = time.monotonic() - t0
    except AssertionError as e:
        took = float("inf")
        ck.check("everything stored after the restart", False, e)
    fig["restart -> every message stored"] = f"{took:.1f} s"
    ck.check("every message stored within 10 s of the restart", took < 10, fig["restart -> every message stored"])
    rc, _ = c.kill(signal.SIGTERM)
    ck.check("SIGTERM: exit 0", rc == 0)
    fig.update(verify(ck, ctx.broker, ds, db, topic, 4, group))
    return ck, fig, []


EDGE_SCENARIOS = [
    ("slowloris", "6. 2,000 half-sent requests while ingesting", slowloris),
    ("bodyflood", "7. 40 stalled 9 MiB bodies while ingesting", body_flood),
    ("reset", "8. Topic recreated under a stopped colibri", broker_reset),
    ("gone", "9. Broker SIGKILLed, then colibri SIGTERMed", broker_gone_at_shutdown),
    ("restart", "10. SIGKILL and restart with default settings", crash_restart),
]
