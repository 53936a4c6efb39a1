#!/usr/bin/env python3
"""Server CPU per request, side by side: bench/page_cost.py DB BIN [BIN...]

Starts every binary on DB (same COLIBRI_CURSOR_SECRET), checks that they answer each path with
the same bytes, then runs rounds (order alternating) of `wrk -t1 -cC -dSs` per binary and path,
and prints the median server CPU per request (utime+stime delta of the server process / requests)
and the ratio to the first binary. CPU per request is robust to a busy machine; req/s is not.

Environment: PC_ROUNDS [5]  PC_SECONDS [3]  PC_CONNS [8]  PC_PATHS [/data?limit=100]  (comma
list)  PC_HEADERS (wrk -H values, ';'-separated, e.g. 'Accept-Encoding: gzip')
"""
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402


def fetch(url, headers):
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def main():
    if len(sys.argv) < 3:
        B.die(__doc__)
    db, bins = sys.argv[1], sys.argv[2:]
    rounds = int(os.environ.get("PC_ROUNDS", "5"))
    secs = int(os.environ.get("PC_SECONDS", "3"))
    conns = int(os.environ.get("PC_CONNS", "8"))
    paths = os.environ.get("PC_PATHS", "/data?limit=100").split(",")
    hdrs = [h.strip() for h in os.environ.get("PC_HEADERS", "").split(";") if h.strip()]
    hdict = dict(h.split(": ", 1) for h in hdrs)
    servers = []
    for i, b in enumerate(bins):
        port = B.free_port()
        s = B.Server(f"pc{i}", [b, "serve"], env={
            "COLIBRI_STORE": f"sqlite:{db}", "COLIBRI_LISTEN": f"127.0.0.1:{port}",
            "COLIBRI_LOG_LEVEL": "warn", "COLIBRI_CURSOR_SECRET": "page-cost",
            "COLIBRI_SCHEMA": str(B.REPO / "schema/flights.json")}).start()
        s.wait_ready(f"http://127.0.0.1:{port}/healthz")
        servers.append((b, s, port))
    for p in paths:
        bodies = [fetch(f"http://127.0.0.1:{port}{p}", hdict) for _, _, port in servers]
        same = all(x == bodies[0] for x in bodies)
        print(f"{p}: {len(bodies[0])} bytes, identical across binaries: {same}")
        if not same:
            B.die("responses differ")
    load0 = os.getloadavg()
    res = {(b, p): [] for b, _, _ in servers for p in paths}
    for r in range(rounds):
        order = servers if r % 2 == 0 else list(reversed(servers))
        for b, s, port in order:
            for p in paths:
                c0 = s.cpu_seconds()
                cmd = ["wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--latency", "-s",
                       str(B.WRK_REPORT_LUA)]
                for h in hdrs:
                    cmd += ["-H", h]
                out = subprocess.run(cmd + [f"http://127.0.0.1:{port}{p}"], capture_output=True,
                                     text=True, timeout=secs + 60).stdout
                c1 = s.cpu_seconds()
                line = next(l for l in out.splitlines() if l.startswith("WRKJSON "))
                import json
                j = json.loads(line[8:])
                if j["status_err"]:
                    B.die(f"{b} {p}: non-2xx answers")
                res[(b, p)].append(((c1 - c0) / j["requests"] * 1e6,
                                    j["requests"] / (j["duration_us"] / 1e6)))
    print(f"load average before {load0[0]:.2f}, after {os.getloadavg()[0]:.2f}; "
          f"{rounds} rounds x {secs}s, wrk -t1 -c{conns}, headers {hdrs or 'none'}")
    for p in paths:
        base = None
        for b, _, _ in servers:
            cpu = B.median([x[0] for x in res[(b, p)]])
            rps = B.median([x[1] for x in res[(b, p)]])
            base = base or cpu
            print(f"{p:40s} {b:40s} {cpu:8.1f} us CPU/req  {rps:8.0f} req/s  ratio {cpu / base:.2f}"
                  f"  all: {' '.join('%.0f' % x[0] for x in res[(b, p)])}")
    for _, s, _ in servers:
        s.stop()


if __name__ == "__main__":
    main()
