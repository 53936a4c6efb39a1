"""The one Python library of colibri's tests, used by tests/integration,
tests/chaos, scripts/soak and bench/:

    pylib.ports     free loopback ports
    pylib.server    the built binary, its environment, generated data, `colibri serve`
    pylib.broker    a Kafka broker of our own, kcat, `colibri serve` fed from Kafka
    pylib.kafka     the shared session broker (pytest fixture) and kcat helpers
    pylib.emulator  the BigQuery and Pub/Sub fakes
    pylib.edge      misbehaving HTTP clients (half-sent heads) and a process's RSS

pytest finds it through tests/integration/conftest.py; scripts put tests/ on
sys.path first.
"""
