"""A real Apache Kafka broker for the tests (scripts/kafka-up: Kafka 4.x, KRaft,
single node on 127.0.0.1) and kcat as the independent client.

Use it from a test module with `from pylib.kafka import kafka_broker`.
The broker is shared by the whole session; a session that started it stops it
at the end (set KAFKA_KEEP=1 to leave it running). KAFKA_PORT, KAFKA_DIR and
COLIBRI_CACHE are passed through to the scripts.
"""
import os
import subprocess
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "scripts")
KAFKA_DIR = os.environ.get("KAFKA_DIR", "/tmp/colibri-kafka")


def _run(args, timeout, input=None):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, input=input,
                       stdin=None if input is not None else subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}")
    return r


def kafka_up(timeout=900):
    """Start the broker if needed (the first run downloads the jars); returns its bootstrap address."""
    out = _run([os.path.join(SCRIPTS, "kafka-up")], timeout).stdout.strip().splitlines()
    assert out and out[-1].startswith("127.0.0.1:"), out
    return out[-1]


def kafka_down(wipe=False):
    _run([os.path.join(SCRIPTS, "kafka-down")] + (["--wipe"] if wipe else []), 120)


def is_running():
    try:
        with open(os.path.join(KAFKA_DIR, "kafka.pid")) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"kafka.Kafka" in f.read()
    except (OSError, ValueError):
        return False


def create_topic(name, partitions):
    _run([os.path.join(SCRIPTS, "kafka-topic"), name, str(partitions)], 120)
    return name


def unique_topic(prefix="colibri-test"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def kcat_produce(bootstrap, topic, lines, key_delim=":"):
    """Produce one message per line ("key<delim>value" when key_delim is set) with kcat, idempotently."""
    args = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-X", "enable.idempotence=true"]
    if key_delim:
        args += ["-K", key_delim]
    r = _run(args, 120, input="".join(line + "\n" for line in lines))
    if "delivery failed" in r.stderr.lower():  # kcat warns about retries too; those are fine
        raise RuntimeError(f"kcat produce reported a failure: {r.stderr}")


def kcat_consume(bootstrap, topic, fmt="%p\t%o\t%k\t%s\n"):
    """Every message of the topic, from the beginning to the current end, as kcat -f formats it."""
    return _run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", fmt], 120).stdout


@pytest.fixture(scope="session")
def kafka_broker():
    """Bootstrap address of the running broker (started here if it was not running)."""
    was_running = is_running()
    dir_existed = os.path.isdir(KAFKA_DIR)
    bootstrap = kafka_up()
    yield bootstrap
    if not was_running and os.environ.get("KAFKA_KEEP") != "1":
        kafka_down(wipe=not dir_existed)
