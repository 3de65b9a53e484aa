"""Custom granularities declared on a time dimension: validation, /meta, and bucketing."""

from pathlib import Path
from collections import Counter
from datetime import datetime, timedelta

import pytest

from engine import Engine, ModelError

CONFORMANCE = Path(__file__).parent.parent / "conformance"

MODEL = """\
cubes:
  - name: Orders
    sql_table: orders
    measures:
      - name: count
        type: count
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: createdAt
        sql: created_at
        type: time
        granularities:
          - name: fiscal_year
            interval: 1 year
            offset: 3 months
          - name: half_year
            interval: 6 months
          - name: fortnight
            title: Two weeks
            interval: 2 weeks
            origin: "2024-01-05"
"""


@pytest.fixture(scope="module")
def custom(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    (models / "orders.yml").write_text(MODEL)
    return Engine(models=models, database=CONFORMANCE / "data", now="2026-11-22T11:10:14Z")


def created_times(engine) -> list[datetime]:
    return [row[0] for row in engine.connection.execute("SELECT created_at FROM orders").fetchall()]


def counts(engine, granularity: str) -> dict[str, int]:
    data = engine.load({"measures": ["Orders.count"], "timeDimensions": [
        {"dimension": "Orders.createdAt", "granularity": granularity}]})["data"]
    return {row[f"Orders.createdAt.{granularity}"]: int(row["Orders.count"]) for row in data}


def label(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000")


def test_offset_year_starts_in_april(custom):
    expected = Counter(label(datetime(t.year if t.month >= 4 else t.year - 1, 4, 1))
                       for t in created_times(custom))
    assert counts(custom, "fiscal_year") == dict(expected)


def test_natural_interval_tiles_the_year(custom):
    expected = Counter(label(datetime(t.year, 1 if t.month <= 6 else 7, 1))
                       for t in created_times(custom))
    assert counts(custom, "half_year") == dict(expected)


def test_origin_interval_counts_from_the_origin(custom):
    origin = datetime(2024, 1, 5)
    expected = Counter(label(origin + timedelta(days=14 * ((t - origin).days // 14)))
                       for t in created_times(custom))
    assert counts(custom, "fortnight") == dict(expected)


def test_custom_granularities_are_listed_in_meta(custom):
    orders = custom.meta()["cubes"][0]
    created = next(d for d in orders["dimensions"] if d["name"] == "Orders.createdAt")
    assert created["granularities"] == [
        {"name": "fiscal_year", "title": "Fiscal Year", "interval": "1 year", "offset": "3 months"},
        {"name": "half_year", "title": "Half Year", "interval": "6 months"},
        {"name": "fortnight", "title": "Two weeks", "interval": "2 weeks", "origin": "2024-01-05"},
    ]


def test_annotation_describes_the_custom_granularity(custom):
    body = custom.load({"measures": ["Orders.count"], "timeDimensions": [
        {"dimension": "Orders.createdAt", "granularity": "fortnight"}]})
    assert body["annotation"]["timeDimensions"]["Orders.createdAt.fortnight"]["granularity"] == {
        "name": "fortnight", "title": "Two weeks", "interval": "2 weeks", "origin": "2024-01-05"}


def test_unaligned_interval_without_origin_is_refused(tmp_path):
    (tmp_path / "m.yml").write_text(MODEL.replace("interval: 6 months", "interval: 5 months"))
    with pytest.raises(ModelError, match="granularity 'half_year': Arbitrary intervals cannot be "
                                         "used without origin point specified"):
        Engine(models=tmp_path)
