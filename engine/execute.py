"""Opening the data and running compiled SQL on DuckDB.

One DuckDB connection per engine, session time zone UTC (so naive timestamps mean UTC), and a
fresh cursor per query so threads can share the engine.

>>> con = connect(None)
>>> run(con, "SELECT ? + 1", [1])
[(2,)]
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from .errors import DatabaseError, ModelError

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def connect(database: str | Path | duckdb.DuckDBPyConnection | None,
            threads: int | None = 1) -> duckdb.DuckDBPyConnection:
    """A connection over `database`: a DuckDB file (opened read-only), a directory whose
    `*.parquet` / `*.csv` files are loaded as tables named by file stem, an open connection, or
    None for an empty in-memory database.

    `threads=1` (the default) makes DuckDB answer deterministically: rows that tie in the ORDER
    BY come out in first-seen order, run after run, as on real Cube's DuckDB. More threads are
    faster on large data but order ties differently from one run to the next; None keeps
    DuckDB's own setting (one thread per core)."""
    if isinstance(database, duckdb.DuckDBPyConnection):
        con = database
    elif database is None:
        con = duckdb.connect(":memory:")
    else:
        path = Path(database)
        if path.is_dir():
            con = duckdb.connect(":memory:")
            attach_directory(con, path)
        elif path.exists():
            con = duckdb.connect(str(path), read_only=True)
        else:
            raise ModelError(f"database not found: {path}")
    con.execute("SET TimeZone = 'UTC'")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    return con


def attach_directory(con: duckdb.DuckDBPyConnection, directory: Path) -> list[str]:
    """Load every Parquet / CSV file of `directory` into an in-memory table named after the file.

    Tables rather than views over the files: row order is then the file's, so rows that tie in a
    query's ORDER BY come out in the same order as on real Cube's DuckDB, which loads tables too.
    For data larger than memory, pass a DuckDB database file instead."""
    names = []
    for file in sorted(directory.iterdir()):
        if file.suffix not in (".parquet", ".csv") or not _TABLE_NAME.match(file.stem):
            continue
        reader = "read_parquet" if file.suffix == ".parquet" else "read_csv_auto"
        literal = str(file.resolve()).replace("'", "''")
        con.execute(f'CREATE OR REPLACE TABLE "{file.stem}" AS SELECT * FROM {reader}(\'{literal}\')')
        names.append(file.stem)
    return names


def run(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[tuple]:
    """Execute on a new cursor; database errors become Cube's 400 `Error: <message>`."""
    cursor = con.cursor()
    try:
        return cursor.execute(sql, params).fetchall()
    except duckdb.Error as exc:
        raise DatabaseError(str(exc)) from None
    finally:
        cursor.close()
