"""The stand-ins for Google's services (tests/fakes/): where they are, to run
as processes, and the BigQuery fake's module for tests that import its
fault plan."""
import os
import sys

FAKES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fakes")
PUBSUB_FAKE = os.path.join(FAKES, "pubsub_fake.py")          # a fake of the Pub/Sub REST API
BIGQUERY_FAULTS = os.path.join(FAKES, "bigquery_faults.py")  # BigQuery REST with fault injection
BQEMULATOR_LAUNCH = os.path.join(FAKES, "bqemulator_launch.py")

if FAKES not in sys.path:
    sys.path.insert(0, FAKES)
import bigquery_faults  # noqa: E402,F401
