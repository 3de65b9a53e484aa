"""Result shaping column by column (`shape_rows`, one formatter per column) prints every value
exactly as the per-value path (`format_value`) does: Cube's strings, byte for byte."""

import json
import math
import random
import struct
from datetime import date, datetime
from decimal import Decimal

import duckdb

from engine.compile.plan import Column, Plan
from engine.javascript import js_float, js_number
from engine.respond.rows import column_formatter, format_time, format_value, shape_rows


def test_fast_float_path_prints_what_the_general_path_prints():
    rng = random.Random(8)
    values = [0.1, 0.0001, 0.00009999999999999999, 1e16, 9999999999999998.0, 123456789.125,
              -0.5, 3.0, -2.0, 1e-4, 2.5e-5, 1e15 + 0.5, 213.6128]
    values += [rng.uniform(-1, 1) * 10 ** rng.randint(-8, 22) for _ in range(20000)]
    values += [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(20000)]
    for value in values:
        if math.isfinite(value):
            assert js_number(value) == js_float(value), value


def test_times_print_the_same_both_ways():
    for value in [datetime(2024, 1, 5, 13, 4, 5, 120999), datetime(2024, 1, 5), date(2024, 2, 29),
                  datetime(999, 12, 31, 23, 59, 59, 999000), date(5, 1, 1)]:
        general = (value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
                   if isinstance(value, datetime) else value.strftime("%Y-%m-%dT00:00:00.000"))
        assert format_time(value) == general


def _plan(keys: list[str], legacy: list[tuple[str, int]] = ()) -> Plan:
    columns = [Column(None, key.replace(".", "__"), key) for key in keys]  # type: ignore[arg-type]
    return Plan(query=None, dimensions=columns, measures=[], root="", joins=[], multiplied=set(),
                where=[], having=[], segments=[], measure_filter_members=[], order=[],
                requested_order={}, timezone="UTC", limit=10000, offset=None, ungrouped=False,
                legacy_time_keys=[(key, columns[index]) for key, index in legacy])


VALUES = """
SELECT * FROM (VALUES
  (1::BIGINT, 170141183460469231731687303715884105727::HUGEINT, 0.1::DOUBLE, 213.6128::DECIMAL(18,4),
   'x'::VARCHAR, TIMESTAMP '2024-01-05 13:04:05.120999', DATE '2024-02-29', true, 7::INTEGER,
   1.5::FLOAT, 'NaN'::DOUBLE, [1, 2], 42::HUGEINT, 1e21::DOUBLE, 1e-7::DOUBLE, 3::UBIGINT,
   18446744073709551615::UBIGINT, -0.0::DOUBLE),
  (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL),
  (-9223372036854775808, -5, 3.0, 0.0001, '', TIMESTAMP '0999-12-31 23:59:59.999',
   DATE '2024-01-01', false, -7, -1e-30, 'Infinity', [], 0, 123456789012345678901234.0, 5e-324,
   0, 0, 1e300)
)"""


def _expected(keys, rows, legacy=()):
    return [{**{k: format_value(v) for k, v in zip(keys, row)},
             **{key: format_value(row[index]) for key, index in legacy}} for row in rows]


def test_column_by_column_shaping_equals_value_by_value():
    rows = duckdb.connect().execute(VALUES).fetchall()
    keys = [f"Cube.m{i}" for i in range(len(rows[0]))]
    legacy = [("Cube.m5.day", 5)]
    shaped = shape_rows(_plan(keys, legacy), rows)
    assert shaped == _expected(keys, rows, legacy)
    assert json.dumps(shaped) == json.dumps(_expected(keys, rows, legacy))  # key order too
    for row in rows:  # one row at a time: columns of one value, or of a NULL only
        assert shape_rows(_plan(keys, legacy), [row]) == _expected(keys, [row], legacy)


def test_columns_of_mixed_python_types_go_value_by_value():
    rows = [(1, "a", 1.5, True), (2.5, None, Decimal("2.50"), "x"), (10**22, date(2024, 1, 1),
                                                                    None, None)]
    keys = ["Cube.a", "Cube.b", "Cube.c", "Cube.d"]
    assert shape_rows(_plan(keys), rows) == _expected(keys, rows)
    assert column_formatter([1, "a"]) is format_value


def test_integers_past_javascripts_plain_range_print_with_an_exponent():
    plan = _plan(["Cube.n"])
    rows = [(10**21,), (None,), (5,)]
    assert shape_rows(plan, rows) == [{"Cube.n": "1e+21"}, {"Cube.n": None}, {"Cube.n": "5"}]


def test_one_column_and_no_rows():
    plan = _plan(["Cube.only"])
    assert shape_rows(plan, [(1,), (None,)]) == [{"Cube.only": "1"}, {"Cube.only": None}]
    assert shape_rows(plan, []) == []
    assert shape_rows(plan, iter([(2.5,)])) == [{"Cube.only": "2.5"}]
