#!/usr/bin/env python3
"""The cost of recording metrics, in instructions per GET /data?limit=100.

wrk's req/s on a shared 2-core machine moves by more than the few percent we
want to see, so this counts instructions instead (valgrind --tool=callgrind:
the same binary and inputs give the same count whatever else the machine
does). colibri runs under callgrind with COLIBRI_METRICS=on and =off; each is
measured after 0 and after N requests, and the difference divided by N is the
cost of one request, start-up excluded. Writes bench/results/metrics_cost.md.

Environment: METRICS_COST_REQUESTS [200], COLIBRI_BIN [build/colibri],
FLIGHTGEN [build/flightgen].
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402


def instructions(colibri, db, metrics, requests, tmp):
    port = B.free_port()
    out = tmp / f"cg.{metrics}.{requests}"
    env = dict(os.environ, COLIBRI_STORE=f"sqlite:{db}", COLIBRI_LISTEN=f"127.0.0.1:{port}",
               COLIBRI_LOG_LEVEL="warn", COLIBRI_METRICS=metrics, COLIBRI_HTTP_THREADS="1")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(colibri), "serve"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2).read()
            break
        except OSError:
            time.sleep(0.1)
    for _ in range(requests):
        assert len(urllib.request.urlopen(url + "/data?limit=100", timeout=30).read()) > 10_000
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    text = out.read_text(errors="replace")
    return int(re.search(r"^summary:\s+(\d+)", text, re.M).group(1))


def main():
    os.chdir(B.REPO)
    n = int(os.environ.get("METRICS_COST_REQUESTS", "200"))
    colibri = Path(os.environ.get("COLIBRI_BIN", "build/colibri")).resolve()
    flightgen = Path(os.environ.get("FLIGHTGEN", "build/flightgen")).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="colibri-metrics-cost-"))
    db = tmp / "bench.db"
    gen = subprocess.Popen([str(flightgen), "--rows", "20000", "--seed", "42"], stdout=subprocess.PIPE)
    subprocess.run([str(colibri), "load", "-"], stdin=gen.stdout, check=True, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, COLIBRI_STORE=f"sqlite:{db}"))
    gen.wait()
    per = {}
    for metrics in ("on", "off"):
        base = instructions(colibri, db, metrics, 0, tmp)
        full = instructions(colibri, db, metrics, n, tmp)
        per[metrics] = (full - base) / n
        B.log(f"metrics {metrics}: {per[metrics]:,.0f} instructions per request")
    overhead = per["on"] / per["off"] - 1
    lines = [
        "# The cost of recording metrics\n",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- method: `valgrind --tool=callgrind` on `colibri serve` (1 HTTP thread), {n} × "
        "`GET /data?limit=100` on 20,000 rows, minus a run with no request; instructions are "
        "repeatable where req/s on a shared machine is not",
        "- command: `python3 bench/metrics_cost.py` (part of `make bench`)\n",
        "| COLIBRI_METRICS | instructions per request |",
        "|---|---:|",
        f"| on | {per['on']:,.0f} |",
        f"| off | {per['off']:,.0f} |",
        f"\nRecording metrics costs **{overhead * 100:+.2f}%** instructions per request.",
    ]
    Path("bench/results/metrics_cost.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
