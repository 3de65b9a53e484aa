"""`Engine(memory_limit=...)`: DuckDB's memory cap, set when the connection opens."""

from pathlib import Path

import duckdb
import pytest

from engine import Engine
from engine.errors import ModelError
from engine.run.execute import connect

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"


def test_memory_limit_reaches_duckdb():
    engine = Engine(models=CONFORMANCE / "model", database=CONFORMANCE / "data",
                    memory_limit="512MB")
    setting = engine.connection.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert setting == "488.2 MiB"  # DuckDB shows 512 * 10^6 bytes in MiB


def test_a_database_the_engine_opens_is_capped_at_1gb_by_default():
    engine = Engine(models=CONFORMANCE / "model", database=CONFORMANCE / "data")
    assert engine.connection.execute(
        "SELECT current_setting('memory_limit')").fetchone()[0] == "953.6 MiB"


def test_none_keeps_duckdbs_own_default():
    con = connect(None, memory_limit=None)
    own = duckdb.connect().execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == own


def test_an_open_connection_keeps_its_owners_setting_by_default():
    mine = duckdb.connect(config={"memory_limit": "256MB"})
    Engine(models=CONFORMANCE / "model", database=mine)
    assert mine.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "244.1 MiB"


def test_memory_limit_applies_to_an_open_connection_too():
    con = connect(duckdb.connect(), memory_limit="1GB")
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "953.6 MiB"


@pytest.mark.parametrize("value", ["1 parsecs", "1GB'; DROP TABLE x; --", ""])
def test_a_memory_limit_duckdb_cannot_read_is_refused(value):
    with pytest.raises(ModelError, match="memory_limit|cannot open DuckDB"):
        connect(None, memory_limit=value)


@pytest.mark.parametrize("argument,expected", [
    ([], "auto"), (["--memory-limit", "4GB"], "4GB"), (["--memory-limit", "none"], None)])
def test_duckcube_serve_takes_a_memory_limit(argument, expected):
    from engine.cli import parser
    assert parser().parse_args(["serve", *argument]).memory_limit == expected
