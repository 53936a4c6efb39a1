"""Reusable helpers for colibri's benchmarks (bench/run and later ones).

Everything here talks to loopback addresses only and stops what it started:
  ensure_apt, ensure_npm      install a missing tool / node_modules
  free_port                   a free TCP port on 127.0.0.1
  Server                      start a process, wait until an HTTP URL answers, stop it
                              (SIGTERM, then SIGKILL, to its own process group only)
  stop_all                    stop every Server still running (registered at exit and on signals)
  http_get, wait_http         tiny HTTP client helpers
  peak_rss_kib, cpu_seconds   VmHWM / utime+stime of a pid and its descendants
  busy_seconds                non-idle CPU time of the whole machine (to see other load)
  run_wrk                     one wrk run, parsed (req/s, latency percentiles, errors)
  median, machine_info, tool_version
"""

import atexit
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pylib.ports import free_port  # noqa: E402,F401 - the test library's, shared with the benchmarks

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WRK_REPORT_LUA = BENCH_DIR / "wrk-report.lua"


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def die(msg, code=1):
    log(f"error: {msg}")
    sys.exit(code)


# --- installing what is missing ------------------------------------------------------------

_apt_updated = False


def ensure_apt(command, package=None):
    """Install Debian package `package` (default: command) if `command` is not on PATH."""
    if shutil.which(command):
        return
    global _apt_updated
    package = package or command
    log(f"{command} not found: apt-get install {package}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if not _apt_updated:
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
        _apt_updated = True
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", package], check=True, env=env)
    if not shutil.which(command):
        die(f"{command} still missing after installing {package}")


def ensure_npm(directory):
    """npm ci (or npm install without a lock file) in directory, unless node_modules is current."""
    directory = Path(directory)
    lock = directory / "package-lock.json"
    stamp = directory / "node_modules" / ".package-lock.json"
    src = lock if lock.exists() else directory / "package.json"
    if stamp.exists() and stamp.stat().st_mtime >= src.stat().st_mtime:
        return
    ensure_apt("node", "nodejs")
    ensure_apt("npm")
    cmd = ["npm", "ci"] if lock.exists() else ["npm", "install"]
    log(f"{' '.join(cmd)} in {directory} (better-sqlite3 may compile from source: ~2 min)")
    subprocess.run(cmd + ["--no-audit", "--no-fund", "--loglevel=error"], cwd=directory,
                   check=True, stdout=sys.stderr)


# --- ports and HTTP ------------------------------------------------------------------------

def http_get(url, timeout=5.0):
    """GET url → (status, headers, body bytes); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
    except (urllib.error.URLError, OSError):
        return 0, {}, b""


def wait_http(url, timeout=30.0, alive=None, status=200):
    """Poll url until it answers `status`; False on timeout or when alive() turns False."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        if http_get(url, timeout=2.0)[0] == status:
            return True
        time.sleep(0.1)
    return False


# --- servers -------------------------------------------------------------------------------

_running = []


class Server:
    """A process we start (in its own session), wait for, measure and stop."""

    def __init__(self, name, argv, env=None, cwd=None, log_path=None):
        self.name, self.argv, self.cwd = name, [str(a) for a in argv], cwd
        self.env = dict(os.environ, **(env or {}))
        self.log_path = Path(log_path) if log_path else Path(f"/tmp/{name}.log")
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        _running.append(self)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, url, timeout=30.0, status=200):
        if not wait_http(url, timeout, alive=self.alive, status=status):
            state = "exited with %s" % self.proc.returncode if not self.alive() else "not answering"
            die(f"{self.name} {state} ({url}); log {self.log_path}:\n{self.log_tail()}")
        return self

    def log_tail(self, n=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def pids(self):
        return [self.pid] + descendants(self.pid) if self.alive() else []

    def peak_rss_kib(self):
        """Sum of VmHWM over the process and its descendants (cluster workers)."""
        return sum(peak_rss_kib(p) for p in self.pids())

    def cpu_seconds(self):
        return sum(cpu_seconds(p) for p in self.pids())

    def stop(self, grace=10.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)   # our own session: the server + its children
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        self._log.close()
        if self in _running:
            _running.remove(self)


def stop_all():
    for s in list(reversed(_running)):
        s.stop()


def _on_signal(signum, frame):
    stop_all()
    sys.exit(128 + signum)


atexit.register(stop_all)
for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


# --- /proc ---------------------------------------------------------------------------------

def busy_seconds():
    """CPU time the whole machine has spent not idle since boot (all cores), from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = f[3] + (f[4] if len(f) > 4 else 0)            # idle + iowait
    return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            kids = []
        for k in map(int, kids):
            out.append(k)
            todo.append(k)
    return out


def _status_kib(pid, field):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_kib(pid):
    """VmHWM (peak resident set) of pid in KiB; 0 if gone."""
    return _status_kib(pid, "VmHWM")


def cpu_seconds(pid):
    """utime + stime of pid (not of its children), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


# --- wrk -----------------------------------------------------------------------------------

def wrk_command(url, threads=2, connections=64, seconds=10, headers=()):
    # --timeout above any latency seen: wrk drops answers slower than its timeout (default 2 s)
    # from the latency histogram, which would flatter a slow server's p99.
    return (["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
             "--latency", "-s", str(WRK_REPORT_LUA)]
            + [a for h in headers for a in ("-H", h)] + [url])


def run_wrk(url, threads=2, connections=64, seconds=10, server=None, headers=()):
    """One wrk run → dict(rps, p50_ms, p90_ms, p99_ms, max_ms, requests, errors..., raw).
    With server (a Server), a failure says whether that server died and shows its log.
    headers: extra request headers ("Name: value")."""
    cmd = wrk_command(url, threads, connections, seconds, headers)
    ru0, busy0 = resource.getrusage(resource.RUSAGE_CHILDREN), busy_seconds()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 90)
    if server is not None and not server.alive():
        die(f"{server.name} (pid {server.pid}) died during wrk, exit status {server.proc.returncode}"
            f" (negative = signal); log {server.log_path}:\n{server.log_tail()}")
    if r.returncode != 0:
        die(f"wrk failed ({r.returncode}): {r.stderr.strip()}")
    line = next((l for l in r.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        die(f"no WRKJSON line in wrk output:\n{r.stdout}")
    j = json.loads(line[len("WRKJSON "):])
    ru1, busy1 = resource.getrusage(resource.RUSAGE_CHILDREN), busy_seconds()
    dur = j["duration_us"] / 1e6
    return {
        "rps": j["requests"] / dur if dur else 0.0,
        "requests": j["requests"],
        "bytes": j["bytes"],
        "p50_ms": j["lat_p50_us"] / 1000, "p90_ms": j["lat_p90_us"] / 1000,
        "p99_ms": j["lat_p99_us"] / 1000, "max_ms": j["lat_max_us"] / 1000,
        "mean_ms": j["lat_mean_us"] / 1000,
        "non2xx": j["status_err"],
        "socket_errors": j["connect_err"] + j["read_err"] + j["write_err"] + j["timeout_err"],
        "wrk_cpu_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
        "busy_s": busy1 - busy0,      # CPU time used by the whole machine during the run
        "raw": r.stdout.replace(line + "\n", ""),
    }


# --- misc ----------------------------------------------------------------------------------

def ensure_venv(path, packages):
    """A virtualenv at path with packages (pip specs) installed; returns its bin directory."""
    path = Path(path)
    py = path / "bin" / "python"
    if not py.exists():
        log(f"creating a virtualenv in {path} for {' '.join(packages)}")
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    missing = subprocess.run([str(py), "-c", "import " + ",".join(p.split("=")[0].split("<")[0]
                                                                    for p in packages)],
                             capture_output=True).returncode != 0
    if missing:
        subprocess.run([str(py), "-m", "pip", "install", "-q", *packages], check=True)
    return path / "bin"


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def tool_version(argv, cwd=None):
    """First line of `argv` output (stdout or stderr), or '?'."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (r.stdout + r.stderr).strip().splitlines()
    return text[0].strip() if text else "?"


def machine_info():
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = _status_kib_file("/proc/meminfo", "MemTotal")
    return {"nproc": os.cpu_count(), "model": model, "mem_gib": round(mem_kib / 2**20, 1),
            "kernel": os.uname().release}


def _status_kib_file(path, field):
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
