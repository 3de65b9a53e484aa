"""Result values formatted the way Cube's DuckDB driver and JavaScript print them."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from engine.javascript import js_number
from engine.respond.rows import format_time, format_value


@pytest.mark.parametrize("value, printed", [
    (0, "0"), (42, "42"), (-7, "-7"), (3.0, "3"), (0.1, "0.1"), (-2.5, "-2.5"),
    (213.6128, "213.6128"), (251.00793103448277, "251.00793103448277"),
    (1e21, "1e+21"), (1.5e22, "1.5e+22"), (1e-7, "1e-7"), (1.5e-6, "0.0000015"),
    (123456789012345680000.0, "123456789012345680000"), (Decimal("498.00"), "498"),
    (Decimal("5340.32"), "5340.32"), (10**22, "1e+22"),
])
def test_numbers_print_like_javascript(value, printed):
    assert js_number(value) == printed


def test_times_are_local_wall_clock_with_milliseconds():
    assert format_time(datetime(2024, 3, 1, 4, 5, 6, 789000)) == "2024-03-01T04:05:06.789"


def test_aware_times_are_shown_in_utc():
    eastern = timezone(timedelta(hours=-5))
    assert format_time(datetime(2024, 1, 1, 0, 0, tzinfo=eastern)) == "2024-01-01T05:00:00.000"


def test_dates_are_midnight():
    assert format_time(date(2024, 2, 29)) == "2024-02-29T00:00:00.000"


def test_booleans_and_nulls_pass_through():
    assert [format_value(True), format_value(None), format_value("x")] == [True, None, "x"]
