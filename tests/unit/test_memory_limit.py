"""`Engine(memory_limit=...)`: DuckDB's memory cap, set when the connection opens."""

from pathlib import Path

import duckdb
import pytest

from engine import Engine
from engine.errors import ModelError
from engine.execute import connect

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"


def test_memory_limit_reaches_duckdb():
    engine = Engine(models=CONFORMANCE / "model", database=CONFORMANCE / "data",
                    memory_limit="512MB")
    setting = engine.connection.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert setting == "488.2 MiB"  # DuckDB shows 512 * 10^6 bytes in MiB
    default = Engine(models=CONFORMANCE / "model", database=None)
    assert default.connection.execute(
        "SELECT current_setting('memory_limit')").fetchone()[0] != setting


def test_memory_limit_applies_to_an_open_connection_too():
    con = connect(duckdb.connect(), memory_limit="1GB")
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "953.6 MiB"


@pytest.mark.parametrize("value", ["1 parsecs", "1GB'; DROP TABLE x; --", ""])
def test_a_memory_limit_duckdb_cannot_read_is_refused(value):
    with pytest.raises(ModelError, match="memory_limit|cannot open DuckDB"):
        connect(None, memory_limit=value)
