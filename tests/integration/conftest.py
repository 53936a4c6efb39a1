"""Fixtures for the black-box tests: a generated dataset loaded into a fresh
database and a server over it. The helpers are the test library's
(tests/pylib), which this puts on sys.path for every test module."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pylib.server import Server, generate, load  # noqa: E402


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """100,000 generated rows loaded into a fresh database."""
    d = tmp_path_factory.mktemp("data")
    db = str(d / "flights.db")
    src = generate(str(d / "flights.ndjson"), 100_000)
    r = load(db, src)
    assert r.returncode == 0, r.stderr
    return db


@pytest.fixture(scope="session")
def server(dataset):
    s = Server(dataset)
    yield s
    assert s.stop() == 0
