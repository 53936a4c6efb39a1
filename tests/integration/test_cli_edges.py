"""The command line's refusals and colibri load's edges, as a user meets them: a wrong
command or argument is exit 2 with what was wrong, a line too long to keep is one rejected
line (not the end of the load), and rows piped slowly are stored while the pipe is open."""
import subprocess
import time

from pylib.broker import wait_until
from pylib.server import BIN, base_env, generate, sql


def rows(db):
    """count(*) of flights, or None while the table does not exist yet."""
    try:
        return int(sql(db, "SELECT count(*) FROM flights")[0])
    except subprocess.CalledProcessError:
        return None


def run(*args, **env):
    return subprocess.run([BIN, *args], env=base_env(**env), capture_output=True, text=True, timeout=60)


def test_wrong_commands_and_arguments_are_exit_2_and_say_what(tmp_path):
    store = f"sqlite:{tmp_path}/t.db"
    r = run("frobnicate", COLIBRI_STORE=store)
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr
    assert "check-config" in r.stderr          # followed by the usage
    r = run("check-config", "extra", COLIBRI_STORE=store)
    assert r.returncode == 2 and "colibri check-config: unexpected argument 'extra'" in r.stderr
    r = run("load", "a.ndjson", "b.ndjson", COLIBRI_STORE=store)
    assert r.returncode == 2 and "one FILE at most" in r.stderr
    missing = tmp_path / "missing.ndjson"
    r = run("load", str(missing), COLIBRI_STORE=store)
    assert r.returncode == 2 and f"cannot open {missing}: No such file or directory" in r.stderr
    assert r.stdout == ""


def test_a_line_too_long_to_keep_is_one_rejected_line(tmp_path):
    """16 MiB is the longest line colibri load keeps: a longer one is dead-lettered by its
    line number (without the payload) and the lines around it are stored."""
    db = str(tmp_path / "t.db")
    good = open(generate(str(tmp_path / "good.ndjson"), 4, seed=5)).read().splitlines()
    src = tmp_path / "long.ndjson"
    with open(src, "w") as f:
        f.write(good[0] + "\n" + good[1] + "\n")
        f.write('{"note":"' + "x" * (17 << 20) + '"}\n')
        f.write(good[2] + "\n" + good[3] + "\n")
    r = run("load", str(src), COLIBRI_STORE="sqlite:" + db)
    assert r.returncode == 1, r.stderr
    assert "line 3: line longer than 16777216 bytes; not kept" in r.stderr
    assert "4 rows stored" in r.stderr and "1 rejected" in r.stderr
    assert sql(db, "SELECT count(*) FROM flights") == ["4"]
    dead = sql(db, "SELECT source || '|' || reason || '|' || length(payload) FROM _dead_letters")
    assert dead == ["load|line longer than 16777216 bytes; not kept|0"]


def test_rows_piped_slowly_are_stored_while_the_pipe_is_open(tmp_path):
    """A pipe that goes quiet does not hold rows back: what came is stored within the batch
    age (COLIBRI_BATCH_MS), before the writer closes the pipe."""
    db = str(tmp_path / "t.db")
    lines = open(generate(str(tmp_path / "g.ndjson"), 6, seed=9)).read().splitlines(keepends=True)
    p = subprocess.Popen([BIN, "load", "-"], stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=base_env(COLIBRI_STORE="sqlite:" + db, COLIBRI_BATCH_MS="50"))
    try:
        p.stdin.write("".join(lines[:3]))
        p.stdin.flush()
        wait_until(lambda: rows(db) == 3, 30, "the first 3 rows stored")
        assert p.poll() is None, "load ended while its input was still open"
        p.stdin.write("".join(lines[3:]))
        p.stdin.close()
        p.wait(timeout=30)
        err = p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "6 rows stored" in err and "0 rejected" in err
    assert sql(db, "SELECT count(*) FROM flights") == ["6"]
