"""Start bqemulator with nothing downloaded at run time.

bqemulator's engine runs `INSTALL spatial; LOAD spatial` (GEOGRAPHY support) and
`INSTALL avro` at start; both download from DuckDB's extension site, which is not
reachable here. colibri uses no GEOGRAPHY or Avro, so the loads are skipped:
the spatial load becomes a LOAD-if-present, the avro one a no-op. (The
duckdb-ext-spatial wheel exists only for DuckDB <= 1.4.4, and bqemulator 1.4.0
does not run on DuckDB 1.4.4: its UDF registration passes type names as strings,
which DuckDB's Python API accepts only from 1.5 on.)

Usage: python bqemulator_launch.py start --rest-host 127.0.0.1 --rest-port N ...
"""
import sys

from bqemulator.storage import engine


def _load_spatial_if_present(self):
    try:
        self._connection.execute("LOAD spatial")
    except Exception:  # noqa: BLE001 - not installed: GEOGRAPHY is unused here
        pass


engine.DuckDBEngine._load_spatial = _load_spatial_if_present
if hasattr(engine.DuckDBEngine, "_load_format_extensions"):
    engine.DuckDBEngine._load_format_extensions = lambda self: None

from bqemulator.cli import main  # noqa: E402

sys.exit(main())
