"""The test broker itself (scripts/kafka-up, kafka-topic, kafka-down): a real
Kafka 4.x broker takes 1000 keyed messages from kcat into a 4-partition topic,
gives back exactly those, and still has them after a restart."""
import subprocess
from collections import defaultdict

from pylib.kafka import (create_topic, kafka_broker, kafka_down, kafka_up, kcat_consume,  # noqa: F401
                           kcat_produce, unique_topic)

N = 1000


def messages(n, start=0):
    # keys without ':' (kcat -K:); values with spaces, a colon and non-ASCII
    return [(f"key-{i:05d}", f"value {i} : payload-{i * 7919 % 100003} é✓") for i in range(start, start + n)]


def consumed(bootstrap, topic):
    """{partition: [(offset, key, value), ...]} as kcat reads it from the beginning."""
    parts = defaultdict(list)
    for line in kcat_consume(bootstrap, topic).splitlines():
        p, o, k, v = line.split("\t", 3)
        parts[int(p)].append((int(o), k, v))
    return parts


def check(parts, sent, partitions):
    got = [(k, v) for msgs in parts.values() for _, k, v in msgs]
    assert len(got) == len(sent)
    assert sorted(got) == sorted(sent)
    assert set(parts) == set(range(partitions)), "1000 distinct keys should reach every partition"
    order = {kv: i for i, kv in enumerate(sent)}
    for p, msgs in parts.items():
        offsets = [o for o, _, _ in msgs]
        assert offsets == list(range(len(msgs))), f"partition {p}: offsets {offsets[:5]}..."
        seq = [order[(k, v)] for _, k, v in msgs]
        assert seq == sorted(seq), f"partition {p} is not in produce order"
        keys = {k for _, k, _ in msgs}
        for q, other in parts.items():
            if q != p:
                assert keys.isdisjoint(k for _, k, _ in other), "a key landed in two partitions"


def test_produce_consume_restart(kafka_broker):
    bootstrap = kafka_broker
    topic = create_topic(unique_topic("colibri-broker-selftest"), 4)
    create_topic(topic, 4)  # idempotent

    meta = subprocess.run(["kcat", "-b", bootstrap, "-L", "-t", topic], capture_output=True, text=True,
                          timeout=30, check=True).stdout
    assert f'topic "{topic}" with 4 partitions' in meta

    sent = messages(N)
    kcat_produce(bootstrap, topic, [f"{k}:{v}" for k, v in sent])
    check(consumed(bootstrap, topic), sent, 4)

    # restart: the data is on disk and the broker takes new writes
    kafka_down()
    assert kafka_up() == bootstrap
    check(consumed(bootstrap, topic), sent, 4)
    more = messages(10, start=N)
    kcat_produce(bootstrap, topic, [f"{k}:{v}" for k, v in more])
    check(consumed(bootstrap, topic), sent + more, 4)
