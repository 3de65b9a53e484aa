"""The reliability suite: a real `duckcube serve` over a private copy of the conformance data,
so tests that attack it can check afterwards that the data is unchanged."""

import shutil
import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from serverkit import CONFORMANCE, Server, token  # noqa: E402


def data_fingerprint(data: Path) -> dict:
    """Row count and an order-independent checksum per table of the data directory."""
    con = duckdb.connect()
    out = {}
    for file in sorted(data.glob("*.parquet")):
        out[file.stem] = con.execute(
            f"SELECT count(*), coalesce(sum(hash(t.*)), 0) FROM read_parquet('{file}') t"
        ).fetchone()
    return out


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    for file in (CONFORMANCE / "data").glob("*.parquet"):
        shutil.copy(file, data / file.name)
    server = Server(["--models", str(CONFORMANCE / "model"), "--db", str(data)])
    server.data = data
    yield server
    server.stop()


@pytest.fixture(scope="module")
def auth():
    return {"Authorization": token()}
