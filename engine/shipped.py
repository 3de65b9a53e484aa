"""What duckcube ships besides code: the GitLab cube models (`cubes/`) and the sample data
generators (`fixtures/`), found in a source checkout or, after `pip install .`, where the
package's data files went (`<prefix>/share/duckcube/`).

    default_models()                 # ./cubes when the working directory has one, else shipped
    sample_database(date.today())    # the sample data, dated around that day, in memory
"""

from __future__ import annotations

import importlib.util
import sysconfig
from datetime import date
from pathlib import Path

import duckdb

_CHECKOUT = Path(__file__).resolve().parent.parent
_INSTALLED = Path(sysconfig.get_path("data")) / "share" / "duckcube"


def shipped(name: str) -> Path:
    """The shipped directory `name` (`cubes` or `fixtures`): the checkout's, else the installed
    copy. FileNotFoundError when neither exists."""
    for root in (_CHECKOUT, _INSTALLED):
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f"duckcube's shipped {name}/ not found in {_CHECKOUT} or {_INSTALLED}")


def default_models() -> Path:
    """`./cubes` when the working directory has it, else the shipped models."""
    local = Path("cubes")
    return local if local.is_dir() else shipped("cubes")


def sample_database(anchor_day: date) -> duckdb.DuckDBPyConnection:
    """The shipped sample data (product analytics and Duo AI usage), generated for the week of
    `anchor_day` so "This week" has rows."""
    con = duckdb.connect(":memory:")
    fixtures = shipped("fixtures")
    for generator in ("generate.py", "duo_generate.py"):
        spec = importlib.util.spec_from_file_location(f"duckcube_fixtures_{generator[:-3]}",
                                                      fixtures / generator)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        module.create_tables(con, anchor_day)
    return con
