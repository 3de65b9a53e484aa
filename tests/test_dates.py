"""engine.dates: Cube 1.7's date-range resolution, and our local -> UTC conversion.

Expected values come from four places, each marked: the conformance recordings of real Cube
(clock frozen at 2026-11-22T11:10:14Z, a Sunday), the examples of spec section 3.3, Cube's own
unit tests (api-gateway test/date-parser.test.ts), and hand-worked calendars for DST, year ends and
leap days.  Property tests check the calendar arithmetic against an independent oracle built from
period starts with dateutil.relativedelta.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import assume, given, settings, strategies as st

from engine.dates import DateParseError, date_filter_bound, is_valid_timezone, local_to_utc, resolve_date_range

UTC = timezone.utc
RECORDED_NOW = datetime(2026, 11, 22, 11, 10, 14, tzinfo=UTC)  # the conformance clock, a Sunday
SPEC_NOW = datetime(2021, 3, 5, 13, 0, tzinfo=UTC)  # spec 3.3 and Cube's unit tests, a Friday
CASES = Path(__file__).parent / "conformance" / "cases"
NY, BERLIN = "America/New_York", "Europe/Berlin"


def day(d: str) -> tuple[str, str]:
    return f"{d}T00:00:00.000", f"{d}T23:59:59.999"


def span(first: str, last: str) -> tuple[str, str]:
    return f"{first}T00:00:00.000", f"{last}T23:59:59.999"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Conformance recordings, written out literally: (case, dateRange sent, timezone, resolved range)
# ---------------------------------------------------------------------------------------------

Q1_2024 = ("2024-01-01T00:00:00.000", "2024-03-31T23:59:59.999")
RECORDED_RANGES = [
    ("002_doc_example_this_week", "This week", "UTC", span("2026-11-16", "2026-11-22")),
    ("006_granularity_day", ["2024-01-01", "2024-03-31"], "UTC", Q1_2024),
    ("007_granularity_week", ["2024-01-01", "2024-03-31"], "UTC", Q1_2024),
    ("008_granularity_month", ["2024-01-01", "2024-03-31"], "UTC", Q1_2024),
    ("009_granularity_quarter", ["2024-01-01", "2024-03-31"], "UTC", Q1_2024),
    ("010_granularity_year", ["2024-01-01", "2024-03-31"], "UTC", Q1_2024),
    ("012_granularity_plus_plain_time_dimension", ["2024-01-01", "2024-01-05"], "UTC", span("2024-01-01", "2024-01-05")),
    ("016_daterange_this_week", "This week", "UTC", span("2026-11-16", "2026-11-22")),
    ("018_daterange_last_7_days", "last 7 days", "UTC", span("2026-11-15", "2026-11-21")),
    ("019_daterange_today", "today", "UTC", day("2026-11-22")),
    ("020_daterange_yesterday", "yesterday", "UTC", day("2026-11-21")),
    ("021_daterange_tomorrow", "tomorrow", "UTC", day("2026-11-23")),
    ("022_daterange_last_month", "last month", "UTC", span("2026-10-01", "2026-10-31")),
    ("024_daterange_this_quarter", "this quarter", "UTC", span("2026-10-01", "2026-12-31")),
    ("025_daterange_last_quarter", "last quarter", "UTC", span("2026-07-01", "2026-09-30")),
    ("026_daterange_this_year", "this year", "UTC", span("2026-01-01", "2026-12-31")),
    ("027_daterange_last_year", "last year", "UTC", span("2025-01-01", "2025-12-31")),
    ("028_daterange_last_week", "last week", "UTC", span("2026-11-09", "2026-11-15")),
    ("030_daterange_last_2_weeks", "last 2 weeks", "UTC", span("2026-11-02", "2026-11-15")),
    ("031_daterange_last_30_days", "last 30 days", "UTC", span("2026-10-23", "2026-11-21")),
    ("032_daterange_last_3_months", "last 3 months", "UTC", span("2026-08-01", "2026-10-31")),
    ("033_daterange_from_2_days_ago_to_today", "from 2 days ago to today", "UTC", day("2026-11-22")),
    ("034_daterange_next_week", "next week", "UTC", span("2026-11-23", "2026-11-29")),
    ("036_daterange_absolute_array", ["2024-01-01", "2024-01-31"], "UTC", span("2024-01-01", "2024-01-31")),
    ("037_daterange_absolute_array_no_granularity", ["2024-01-01", "2024-01-31"], "UTC",
     span("2024-01-01", "2024-01-31")),
    ("038_daterange_absolute_with_times", ["2024-01-01T06:00:00", "2024-01-02T18:30:00.000"], "UTC",
     ("2024-01-01T06:00:00.000", "2024-01-02T18:30:00.000")),
    ("039_daterange_single_date_string", "2024-01-15", "UTC", day("2024-01-15")),
    ("073_order_default_with_time", ["2024-01-01", "2024-03-31"], "UTC", Q1_2024),
    ("084_timezone_new_york_relative", "last 7 days", NY, span("2026-11-15", "2026-11-21")),
    ("097_compare_date_range_multi", ["2024-01-01", "2024-01-31"], "UTC", span("2024-01-01", "2024-01-31")),
    ("097_compare_date_range_multi", ["2024-02-01", "2024-02-29"], "UTC", span("2024-02-01", "2024-02-29")),
    ("099_compare_date_range_relative", "this week", "UTC", span("2026-11-16", "2026-11-22")),
    ("099_compare_date_range_relative", "last week", "UTC", span("2026-11-09", "2026-11-15")),
    ("100_multi_query_array", ["2024-01-01", "2024-03-31"], "UTC", Q1_2024),
    ("118_dry_run_example_1", "This week", "UTC", span("2026-11-16", "2026-11-22")),
]


@pytest.mark.parametrize("case, date_range, tz, expected", RECORDED_RANGES,
                         ids=[f"{c}:{r}" for c, r, _, _ in RECORDED_RANGES])
def test_recorded_cube_date_ranges_resolve_identically(case, date_range, tz, expected):
    assert resolve_date_range(date_range, tz, RECORDED_NOW) == expected


def test_docstring_examples_hold():
    import doctest

    import engine.dates

    failures, tried = doctest.testmod(engine.dates, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0


def test_recorded_invalid_date_range_raises_cubes_message():
    # case 040_daterange_invalid_string: 400 {"error": "Can't parse date: 'blah blah'"}
    with pytest.raises(DateParseError) as err:
        resolve_date_range("blah blah", "UTC", RECORDED_NOW)
    assert str(err.value) == "Can't parse date: 'blah blah'"


def _recorded_pairs() -> set[tuple[str, str, str, tuple[str, str]]]:
    """Every (case, dateRange sent, tz, dateRange answered) in the recordings, read from JSON."""
    pairs = set()
    for path in sorted(CASES.glob("*.json")):
        case = json.loads(path.read_text())
        body = case.get("body")
        if case["status"] != 200 or not isinstance(body, dict):
            continue
        sent = body.get("query")
        queries_sent = sent if isinstance(sent, list) else [sent]
        response = case["response"]
        answered = ([response["query"]] if "query" in response else
                    [r["query"] for r in response.get("results", [])] or response.get("normalizedQueries", []))
        for i, query in enumerate(queries_sent):
            for td_index, td in enumerate(query.get("timeDimensions", [])):
                if "dateRange" in td:
                    ranges = [(td["dateRange"], answered[i])]
                elif "compareDateRange" in td:
                    ranges = list(zip(td["compareDateRange"], answered))
                else:
                    continue
                for value, answer in ranges:
                    got = answer["timeDimensions"][td_index]["dateRange"]
                    key = json.dumps(value)
                    pairs.add((path.stem, key, answer.get("timezone", "UTC"), tuple(got)))
    return pairs


@pytest.mark.skipif(not CASES.is_dir(), reason="conformance recordings not present")
def test_literal_table_covers_every_recorded_date_range():
    in_table = {(c, json.dumps(r), tz, exp) for c, r, tz, exp in RECORDED_RANGES}
    recorded = _recorded_pairs()
    assert recorded, "no recorded date ranges found"
    assert recorded == in_table


# ---------------------------------------------------------------------------------------------
# Spec section 3.3 (now = 2021-03-05 13:00 UTC, a Friday)
# ---------------------------------------------------------------------------------------------

SPEC_EXAMPLES = [
    ("today", SPEC_NOW, "UTC", day("2021-03-05")),
    ("this week", SPEC_NOW, "UTC", span("2021-03-01", "2021-03-07")),
    ("last week", SPEC_NOW, "UTC", span("2021-02-22", "2021-02-28")),
    ("next 5 days", SPEC_NOW, "UTC", span("2021-03-06", "2021-03-10")),
    ("last 7 days", SPEC_NOW, "UTC", span("2021-02-26", "2021-03-04")),
    ("last 2 quarters", utc(2021, 2, 15, 13), "UTC", span("2020-07-01", "2020-12-31")),
    ("from 7 days ago to now", SPEC_NOW, "UTC", span("2021-02-26", "2021-03-05")),
    ("last 6 hours", SPEC_NOW, "UTC", ("2021-03-05T07:00:00.000", "2021-03-05T12:59:59.999")),
    ("from 1 hour ago to now", utc(2020, 9, 22, 13, 3, 20, 518000), "America/Los_Angeles",
     ("2020-09-22T05:00:00.000", "2020-09-22T06:59:59.999")),
]


@pytest.mark.parametrize("expression, now, tz, expected", SPEC_EXAMPLES, ids=[e[0] for e in SPEC_EXAMPLES])
def test_spec_resolution_examples(expression, now, tz, expected):
    assert resolve_date_range(expression, tz, now) == expected


# ---------------------------------------------------------------------------------------------
# Cube's own unit tests (api-gateway test/date-parser.test.ts), with their clocks
# ---------------------------------------------------------------------------------------------

CUBE_UNIT_TESTS = [
    ("from 1 quarter ago to now", utc(2021, 5, 3, 12), span("2021-02-03", "2021-05-03")),
    ("last 6 months", utc(2021, 2, 15, 13), span("2020-08-01", "2021-01-31")),
    ("last 6 months", utc(2021, 3, 15, 13), span("2020-09-01", "2021-02-28")),
    ("next 6 months", utc(2021, 2, 20, 13), span("2021-03-01", "2021-08-31")),
    ("next month", utc(2021, 3, 5, 13), span("2021-04-01", "2021-04-30")),
    ("next 5 days", utc(2021, 3, 5, 13), span("2021-03-06", "2021-03-10")),
    ("2 weeks ago by hour", utc(2021, 3, 5, 13), ("2021-02-19T13:00:00.000", "2021-02-19T13:59:59.999")),
]


@pytest.mark.parametrize("expression, now, expected", CUBE_UNIT_TESTS, ids=[f"{e[0]}@{e[1]:%m-%d}" for e in CUBE_UNIT_TESTS])
def test_cube_unit_test_examples(expression, now, expected):
    assert resolve_date_range(expression, "UTC", now) == expected


@pytest.mark.parametrize("expression, same_as", [
    ("from 1 days ago to now", ("yesterday", "today")),
    ("last 1 day", ("yesterday", "yesterday")),
    ("next 1 day", ("tomorrow", "tomorrow")),
    ("from 7 days ago to now", ("last 7 days", "today")),
    ("from 7 days ago to 7 days from now", ("last 7 days", "next 7 days")),
])
def test_cube_unit_test_equivalences(expression, same_as):
    start = resolve_date_range(same_as[0], "UTC", RECORDED_NOW)[0]
    end = resolve_date_range(same_as[1], "UTC", RECORDED_NOW)[1]
    assert resolve_date_range(expression, "UTC", RECORDED_NOW) == (start, end)


@pytest.mark.parametrize("now", [utc(2026, 11, 22, 11, 10, 14), utc(2024, 2, 29, 23, 59, 59, 999999)])
def test_hour_windows_match_cubes_epoch_arithmetic(now):
    """Cube's tests compute 'last 6 hours', 'from 23 hours ago to now' and 'from now to 23 hours
    from now' from the epoch in whole hours (UTC)."""
    hour_ms = 3600 * 1000
    epoch_hour = int(now.timestamp() * 1000) // hour_ms

    def iso(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]

    assert resolve_date_range("last 6 hours", "UTC", now) == (iso((epoch_hour - 6) * hour_ms), iso(epoch_hour * hour_ms - 1))
    assert resolve_date_range("from 23 hours ago to now", "UTC", now) == (
        iso((epoch_hour - 23) * hour_ms), iso((epoch_hour + 1) * hour_ms - 1))
    assert resolve_date_range("from now to 23 hours from now", "UTC", now) == (
        iso(epoch_hour * hour_ms), iso((epoch_hour + 24) * hour_ms - 1))


@pytest.mark.parametrize("expression, message", [
    ("unexpected date", "Can't parse date: 'unexpected date'"),
    ("from invalid to 2020-02-02", "Can't parse date: 'invalid'"),
    ("from 2020-02-02 to invalid", "Can't parse date: 'invalid'"),
])
def test_unparseable_expressions_raise_cubes_message(expression, message):
    with pytest.raises(DateParseError, match=re.escape(message) + r"\Z"):
        resolve_date_range(expression, "UTC", SPEC_NOW)


# ---------------------------------------------------------------------------------------------
# The grammar, against the recording clock (Sunday 2026-11-22 11:10:14 UTC)
# ---------------------------------------------------------------------------------------------

GRAMMAR = [
    # rules 1 and 2: this/last/next <unit>, last/next N <units>
    ("this minute", ("2026-11-22T11:10:00.000", "2026-11-22T11:10:59.999")),
    ("last second", ("2026-11-22T11:10:13.000", "2026-11-22T11:10:13.999")),
    ("next hour", ("2026-11-22T12:00:00.000", "2026-11-22T12:59:59.999")),
    ("last day", day("2026-11-21")),
    ("next 3 months", span("2026-12-01", "2027-02-28")),
    ("next 2 quarters", span("2027-01-01", "2027-06-30")),
    ("last 2 years", span("2024-01-01", "2025-12-31")),
    ("next 3 hours", ("2026-11-22T12:00:00.000", "2026-11-22T14:59:59.999")),
    ("last 90 minutes", ("2026-11-22T09:40:00.000", "2026-11-22T11:09:59.999")),
    # chrono: a single point widened to its day (or hour/minute/second when that word occurs)
    ("now", day("2026-11-22")),
    ("3 days ago", day("2026-11-19")),
    ("a week ago", day("2026-11-15")),
    ("2 hours ago", ("2026-11-22T09:00:00.000", "2026-11-22T09:59:59.999")),
    ("30 minutes ago", ("2026-11-22T10:40:00.000", "2026-11-22T10:40:59.999")),
    ("10 seconds ago", ("2026-11-22T11:10:04.000", "2026-11-22T11:10:04.999")),
    ("3 days from now", day("2026-11-25")),
    ("2 weeks later", day("2026-12-06")),
    ("in 3 days", day("2026-11-25")),
    ("in 2 hours", ("2026-11-22T13:00:00.000", "2026-11-22T13:59:59.999")),
    ("2 quarters ago", day("2026-05-22")),
    ("+2 days", day("2026-11-24")),
    # absolute dates
    ("2024-01-15 10:30", day("2024-01-15")),
    ("2024-01-15T10:30:00.250Z", day("2024-01-15")),
    ("2024-01-15 10:30:15 by second", ("2024-01-15T10:30:15.000", "2024-01-15T10:30:15.999")),
    ("2024/01/15", day("2024-01-15")),
    ("1/15/2024", day("2024-01-15")),
    ("Jan 5 2024", day("2024-01-05")),
    ("January 5, 2024", day("2024-01-05")),
    ("5 January 2024", day("2024-01-05")),
    ("5th of jan 2024", day("2024-01-05")),
    ("jan 5", day("2027-01-05")),  # no year: the Jan 5 nearest to now
    ("january 2024", day("2024-01-01")),  # a month name is its first day, not the month
    ("friday, jan 5 2024", day("2024-01-05")),
    # chrono ranges
    ("2024-01-01 to 2024-01-31", span("2024-01-01", "2024-01-31")),
    ("jan 5 - jan 10 2024", span("2024-01-05", "2024-01-10")),
    ("5-10 jan 2024", span("2024-01-05", "2024-01-10")),
    ("2 days before 2024-01-01", day("2023-12-30")),
    ("3 weeks after jan 5 2024", day("2024-01-26")),
    # weekdays on a Sunday, chrono-node style
    ("last friday", day("2026-11-20")),
    ("friday", day("2026-11-20")),  # the nearest one
    ("this friday", day("2026-11-27")),  # this or the coming one
    ("next friday", day("2026-11-27")),  # from a Sunday, "next" is the coming week
    ("next monday", day("2026-11-23")),
    ("this sunday", day("2026-11-22")),
    ("last sunday", day("2026-11-15")),
    ("next sunday", day("2026-11-29")),
    # from A to B
    ("from 3 days ago to 1 day ago", span("2026-11-19", "2026-11-21")),
    ("from 2024-01-01 10:00 to 2024-01-02 18:30", span("2024-01-01", "2024-01-02")),
    ("from 2 hours ago to now", ("2026-11-22T09:00:00.000", "2026-11-22T11:59:59.999")),
    ("from 5 minutes ago to now", ("2026-11-22T11:05:00.000", "2026-11-22T11:10:59.999")),
    ("from 9am to 5pm", day("2026-11-22")),
    ("from 10:00 to 12:00 by minute", ("2026-11-22T10:00:00.000", "2026-11-22T12:00:59.999")),
    ("from jan 5 2024 to feb 5 2024", span("2024-01-05", "2024-02-05")),
    # casual words chrono knows
    ("tonight", day("2026-11-22")),
    ("last night", day("2026-11-21")),
    ("midnight", day("2026-11-23")),  # after 02:00, the coming midnight
    ("in may", day("2027-05-01")),
]


@pytest.mark.parametrize("expression, expected", GRAMMAR, ids=[g[0] for g in GRAMMAR])
def test_grammar_resolves_like_cube(expression, expected):
    assert resolve_date_range(expression, "UTC", RECORDED_NOW) == expected


@pytest.mark.parametrize("spelling", ["THIS WEEK", "This Week", "this  week", "tHiS wEeK"])
def test_expressions_are_case_insensitive(spelling):
    assert resolve_date_range(spelling, "UTC", RECORDED_NOW) == span("2026-11-16", "2026-11-22")


# Quirks of Cube's unanchored, ordered matching that we reproduce on purpose (spec 3.1, 12).
QUIRKS = [
    ("from 2 days ago to today", day("2026-11-22")),  # "today" matches before "from ... to"
    ("from yesterday to today", day("2026-11-22")),
    ("from 2 days ago to tomorrow", day("2026-11-23")),
    ("from last week to now", span("2026-11-09", "2026-11-15")),  # "last week" wins
    ("last 3 days of this month", span("2026-11-01", "2026-11-30")),  # rule 1 before rule 2
    ("from yesterday to tomorrow", day("2026-11-21")),  # "yesterday" is tried before "tomorrow"
    ("this weekend", span("2026-11-16", "2026-11-22")),  # contains "this week"
    ("last 0 days", ("2026-11-22T00:00:00.000", "2026-11-21T23:59:59.999")),  # inverted
    ("past 3 days", day("2026-11-19")),  # not "last": chrono, a single day
    ("last two weeks", day("2026-11-08")),  # digits only for rule 2: chrono, a single day
    ("last 2 hrs", day("2026-11-22")),  # "hrs" is not "hour": chrono, day granularity
    ("2 weeks ago by hour", ("2026-11-08T11:00:00.000", "2026-11-08T11:59:59.999")),
]


@pytest.mark.parametrize("expression, expected", QUIRKS, ids=[q[0] for q in QUIRKS])
def test_cube_matching_quirks_are_reproduced(expression, expected):
    assert resolve_date_range(expression, "UTC", RECORDED_NOW) == expected


@pytest.mark.parametrize("expression, message", [
    ("Blah Blah", "Can't parse date: 'blah blah'"),  # Cube lower-cases before quoting
    ("", "Can't parse date: ''"),
    ("from blah to now", "Can't parse date: 'blah'"),
    ("from now to blah", "Can't parse date: 'blah'"),
    # Cube splits at the LAST "to": 'now to oc' / 'ber 2027'
    ("from now to October 2027", "Can't parse date: 'ber 2027'"),
    ("2024-02-30", "Can't parse date: '2024-02-30'"),
    ("25:00", "Can't parse date: '25:00'"),
    ("last 99999 years", "Can't parse date: 'last 99999 years'"),
    ("from " + "x" * 60 + " to now", "Can't parse date: 'from " + "x" * 60 + " to now'"),
])
def test_unparseable_input_raises_date_parse_error(expression, message):
    with pytest.raises(DateParseError) as err:
        resolve_date_range(expression, "UTC", RECORDED_NOW)
    assert str(err.value) == message
    assert isinstance(err.value, ValueError)


def test_now_must_be_aware():
    with pytest.raises(ValueError):
        resolve_date_range("today", "UTC", datetime(2026, 11, 22, 11, 10))


def test_time_zone_names_are_matched_case_insensitively():
    assert resolve_date_range("today", "america/new_york", RECORDED_NOW) == day("2026-11-22")
    with pytest.raises(ValueError):
        resolve_date_range("today", "Mars/Base", RECORDED_NOW)


def test_now_is_read_in_the_query_time_zone():
    # 2026-11-22T03:00Z is still Saturday the 21st in New York, already the 22nd in Kolkata.
    now = utc(2026, 11, 22, 3)
    assert resolve_date_range("today", NY, now) == day("2026-11-21")
    assert resolve_date_range("today", "Asia/Kolkata", now) == day("2026-11-22")
    assert resolve_date_range("this week", NY, now) == span("2026-11-16", "2026-11-22")
    assert resolve_date_range("3 days ago", NY, now) == day("2026-11-18")


# ---------------------------------------------------------------------------------------------
# Arrays (never natural language) and filter values
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (["2024-01-01"], day("2024-01-01")),
    (["2024-01-01T06:00:00", "2024-01-02T18:30:00.000"], ("2024-01-01T06:00:00.000", "2024-01-02T18:30:00.000")),
    (["2024-01-01 10:00", "2024-01-01 12:30:15.5"], ("2024-01-01T10:00:00.000", "2024-01-01T12:30:15.500")),
    (["2024-01-01T00:00:00.123456", "2024-01-01T24:00"], ("2024-01-01T00:00:00.123", "2024-01-02T00:00:00.000")),
    # only YYYY-MM-DD gets an end of day; other forms are read by moment.utc as they are
    (["2024-01", "2024-02"], ("2024-01-01T00:00:00.000", "2024-02-01T00:00:00.000")),
    # moment.utc converts an offset to UTC, then the result is read as local (spec 3.4)
    (["2024-01-01T10:00:00+02:00", "2024-01-01T12:00:00Z"], ("2024-01-01T08:00:00.000", "2024-01-01T12:00:00.000")),
])
def test_array_date_ranges_normalise_like_moment_utc(value, expected):
    assert resolve_date_range(value, NY, RECORDED_NOW) == expected


@pytest.mark.parametrize("value", [["last week", "today"], ["2024-02-30", "2024-03-01"], ["2024-01-01", "soon"]])
def test_array_elements_that_are_not_dates_raise(value):
    with pytest.raises(DateParseError):
        resolve_date_range(value, "UTC", RECORDED_NOW)


@pytest.mark.parametrize("value", [[], ["2024-01-01", "2024-01-02", "2024-01-03"], [20240101], None])
def test_array_of_wrong_shape_is_rejected(value):
    with pytest.raises(ValueError):
        resolve_date_range(value, "UTC", RECORDED_NOW)


@pytest.mark.parametrize("value, side, tz, expected", [
    # conformance 055-058 send bare dates: Cube 1.7's legacy planner reads the single value of
    # every before/after operator as "from" (057: beforeOrOnDate 2024-01-15 counts 23 rows, the
    # ones before 2024-01-15T00:00:00.000; the 2 rows later that day are not counted)
    ("2024-01-15", "from", "UTC", "2024-01-15T00:00:00.000"),
    ("2024-01-15", "to", "UTC", "2024-01-15T23:59:59.999"),  # inDateRange values[1]
    ("2024-03-31", "to", "UTC", "2024-03-31T23:59:59.999"),  # 054 notInDateRange values[1]
    ("2024-01-15T10:00:00.000", "to", NY, "2024-01-15T10:00:00.000"),  # 23-char local kept
    ("2024-01-15T10:00:00", "from", NY, "2024-01-15T10:00:00.000"),
    ("2024-01-15 10:00:00.123456", "from", "UTC", "2024-01-15T10:00:00.123"),
    ("2024-01-15T15:00:00.000Z", "from", NY, "2024-01-15T10:00:00.000"),  # offsets honoured
    ("2024-01-15T15:00:00+01:00", "to", NY, "2024-01-15T09:00:00.000"),
    ("2024-03-10T02:30:00", "from", NY, "2024-03-10T03:30:00.000"),  # moment.tz: gap moves forward
    ("yesterday", "from", "UTC", "2026-11-21T00:00:00.000"),  # relative: start of its range
    ("yesterday", "to", "UTC", "2026-11-21T23:59:59.999"),  # or end
    ("last week", "to", "UTC", "2026-11-15T23:59:59.999"),
    ("last 2 hours", "from", NY, "2026-11-22T04:00:00.000"),
    ("Jan 5 2024", "to", "UTC", "2024-01-05T23:59:59.999"),
])
def test_date_filter_bound(value, side, tz, expected):
    assert date_filter_bound(value, side, tz, RECORDED_NOW) == expected


def test_date_filter_bound_rejects_bad_input():
    with pytest.raises(DateParseError, match="nonsense"):
        date_filter_bound("nonsense", "from", "UTC", RECORDED_NOW)
    with pytest.raises(DateParseError):
        date_filter_bound("2024-02-30T00:00:00.000", "from", "UTC", RECORDED_NOW)
    with pytest.raises(ValueError):
        date_filter_bound("2024-01-15", "middle", "UTC", RECORDED_NOW)


# ---------------------------------------------------------------------------------------------
# Time zones and DST
# ---------------------------------------------------------------------------------------------

def test_valid_time_zone_names_are_canonicalised():
    assert is_valid_timezone("america/new_york") == "America/New_York"
    assert is_valid_timezone("UTC") == "UTC"
    assert is_valid_timezone("utc") == "UTC"
    assert is_valid_timezone("us/eastern") == "US/Eastern"  # links keep their own name, like moment
    assert is_valid_timezone("ETC/GMT+5") == "Etc/GMT+5"
    for bad in ("Mars/Base", "", "localtime", "America/New York", None):
        assert is_valid_timezone(bad) is None


@pytest.mark.parametrize("local, tz, expected", [
    ("2024-01-01T00:00:00.000", NY, utc(2024, 1, 1, 5)),
    ("2024-07-01T00:00:00.000", NY, utc(2024, 7, 1, 4)),
    ("2024-03-10T01:59:59.999", NY, utc(2024, 3, 10, 6, 59, 59, 999000)),
    ("2024-03-10T02:00:00.000", NY, utc(2024, 3, 10, 7)),  # in the gap: when the clocks jumped
    ("2024-03-10T02:30:00.000", NY, utc(2024, 3, 10, 7)),
    ("2024-03-10T03:00:00.000", NY, utc(2024, 3, 10, 7)),
    ("2024-11-03T01:30:00.000", NY, utc(2024, 11, 3, 5, 30)),  # twice: the first (EDT) one
    ("2024-11-03T02:00:00.000", NY, utc(2024, 11, 3, 7)),
    ("2025-03-30T02:30:00.000", BERLIN, utc(2025, 3, 30, 1)),
    ("2025-10-26T02:30:00.000", BERLIN, utc(2025, 10, 26, 0, 30)),
    ("2024-10-06T02:15:00.000", "Australia/Lord_Howe", utc(2024, 10, 5, 15, 30)),  # a 30-minute gap
    ("2024-09-29T03:00:00.000", "Pacific/Chatham", utc(2024, 9, 28, 14)),  # 02:45 -> 03:45
    ("2024-06-15T00:00:00.000", "Asia/Kolkata", utc(2024, 6, 14, 18, 30)),
    ("2024-06-15T00:00:00.000", "Asia/Kathmandu", utc(2024, 6, 14, 18, 15)),
    ("2024-06-15", "UTC", utc(2024, 6, 15)),
    ("2024-06-15T10:20:30.123456", "UTC", utc(2024, 6, 15, 10, 20, 30, 123456)),
])
def test_local_to_utc_uses_the_offset_in_force_at_that_local_time(local, tz, expected):
    result = local_to_utc(local, tz)
    assert result == expected
    assert result.tzinfo == UTC


@pytest.mark.parametrize("bad", ["yesterday", "2024-13-01T00:00:00.000", "2024-01-01T25:00:00.000", ""])
def test_local_to_utc_rejects_non_timestamps(bad):
    with pytest.raises(DateParseError):
        local_to_utc(bad, "UTC")


def _instants(date_range: tuple[str, str], tz: str) -> tuple[datetime, datetime]:
    return local_to_utc(date_range[0], tz), local_to_utc(date_range[1], tz)


def test_new_york_spring_forward_day_is_23_hours():
    r = resolve_date_range("today", NY, utc(2024, 3, 10, 12))
    assert r == day("2024-03-10")
    start, end = _instants(r, NY)
    assert (start, end) == (utc(2024, 3, 10, 5), utc(2024, 3, 11, 3, 59, 59, 999000))
    assert end - start + timedelta(milliseconds=1) == timedelta(hours=23)


def test_new_york_last_6_hours_across_spring_forward_spans_six_real_hours():
    # 08:30 EDT: hours are elapsed time (moment), so 01:00 EST .. 07:59:59.999 EDT
    r = resolve_date_range("last 6 hours", NY, utc(2024, 3, 10, 12, 30))
    assert r == ("2024-03-10T01:00:00.000", "2024-03-10T07:59:59.999")
    start, end = _instants(r, NY)
    assert end - start + timedelta(milliseconds=1) == timedelta(hours=6)


def test_new_york_next_hour_after_spring_forward_is_the_3am_hour():
    # 01:30 EST; Cube's own SQL would count the 04:00 rows here (spec section 12), we count 03:00
    r = resolve_date_range("next hour", NY, utc(2024, 3, 10, 6, 30))
    assert r == ("2024-03-10T03:00:00.000", "2024-03-10T03:59:59.999")
    assert _instants(r, NY) == (utc(2024, 3, 10, 7), utc(2024, 3, 10, 7, 59, 59, 999000))


def test_new_york_next_12_hours_across_spring_forward_is_twelve_hours():
    r = resolve_date_range("next 12 hours", NY, utc(2024, 3, 10, 6, 30))
    assert r == ("2024-03-10T03:00:00.000", "2024-03-10T14:59:59.999")
    start, end = _instants(r, NY)
    assert end - start + timedelta(milliseconds=1) == timedelta(hours=12)


def test_new_york_fall_back_day_is_25_hours():
    r = resolve_date_range("yesterday", NY, utc(2024, 11, 4, 15))
    assert r == day("2024-11-03")
    start, end = _instants(r, NY)
    assert end - start + timedelta(milliseconds=1) == timedelta(hours=25)


def test_new_york_repeated_hour_is_one_local_label():
    # 01:30 EST, the second 01:00 hour: Cube names it 01:00..01:59:59.999 like the first one,
    # and a local label means the first occurrence (spec section 12, "left as Cube does it").
    r = resolve_date_range("this hour", NY, utc(2024, 11, 3, 6, 30))
    assert r == ("2024-11-03T01:00:00.000", "2024-11-03T01:59:59.999")
    assert _instants(r, NY) == (utc(2024, 11, 3, 5), utc(2024, 11, 3, 5, 59, 59, 999000))
    assert resolve_date_range("last 3 hours", NY, utc(2024, 11, 3, 7, 30)) == (
        "2024-11-03T00:00:00.000", "2024-11-03T01:59:59.999")


def test_minutes_just_after_fall_back_give_cubes_inverted_range():
    # 01:01:30 EST: 2 minutes ago was 01:59:30 EDT, 1 minute ago 01:00:30 EST (moment does this)
    assert resolve_date_range("last 2 minutes", NY, utc(2024, 11, 3, 6, 1, 30)) == (
        "2024-11-03T01:59:00.000", "2024-11-03T01:00:59.999")


def test_berlin_spring_forward_hours():
    at_0130_cet = utc(2025, 3, 30, 0, 30)
    this_hour = resolve_date_range("this hour", BERLIN, at_0130_cet)
    assert this_hour == ("2025-03-30T01:00:00.000", "2025-03-30T01:59:59.999")
    assert _instants(this_hour, BERLIN) == (utc(2025, 3, 30, 0), utc(2025, 3, 30, 0, 59, 59, 999000))
    assert resolve_date_range("next hour", BERLIN, at_0130_cet) == ("2025-03-30T03:00:00.000", "2025-03-30T03:59:59.999")
    today = _instants(resolve_date_range("today", BERLIN, at_0130_cet), BERLIN)
    assert today[1] - today[0] + timedelta(milliseconds=1) == timedelta(hours=23)


def test_half_hour_zone_hours_start_at_half_past_utc():
    r = resolve_date_range("this hour", "Asia/Kolkata", utc(2024, 6, 15, 10, 10))  # 15:40 IST
    assert r == ("2024-06-15T15:00:00.000", "2024-06-15T15:59:59.999")
    assert _instants(r, "Asia/Kolkata") == (utc(2024, 6, 15, 9, 30), utc(2024, 6, 15, 10, 29, 59, 999000))
    assert resolve_date_range("today", "Asia/Kolkata", utc(2024, 6, 15, 20)) == day("2024-06-16")


def test_three_quarter_hour_zone():
    now = utc(2024, 6, 15, 10, 10)  # 15:55 in Kathmandu (+05:45)
    r = resolve_date_range("last 2 hours", "Asia/Kathmandu", now)
    assert r == ("2024-06-15T13:00:00.000", "2024-06-15T14:59:59.999")
    assert _instants(r, "Asia/Kathmandu") == (utc(2024, 6, 15, 7, 15), utc(2024, 6, 15, 9, 14, 59, 999000))
    assert resolve_date_range("this minute", "Asia/Kathmandu", now) == (
        "2024-06-15T15:55:00.000", "2024-06-15T15:55:59.999")


def test_lord_howe_hour_starting_in_its_30_minute_gap_starts_after_it():
    # 02:45 LHDT on spring-forward day (02:00 -> 02:30): moment settles 02:00 to 02:30
    assert resolve_date_range("this hour", "Australia/Lord_Howe", utc(2024, 10, 5, 15, 45)) == (
        "2024-10-06T02:30:00.000", "2024-10-06T02:59:59.999")


def test_hour_starting_inside_chathams_gap_starts_when_the_gap_ends():
    # Chatham jumps 02:45 -> 03:45; at 03:50 the 03:00 hour starts at 03:45 (deliberate: moment
    # would shift 03:00 by the gap's length to 04:00, an inverted range not containing now)
    r = resolve_date_range("this hour", "Pacific/Chatham", utc(2024, 9, 28, 14, 5))
    assert r == ("2024-09-29T03:45:00.000", "2024-09-29T03:59:59.999")
    assert _instants(r, "Pacific/Chatham") == (utc(2024, 9, 28, 14), utc(2024, 9, 28, 14, 14, 59, 999000))


def test_day_starting_in_a_midnight_gap_starts_after_it():
    # Cairo skipped 00:00-01:00 on 2024-04-26; moment's startOf('day') lands on 01:00
    assert resolve_date_range("today", "Africa/Cairo", utc(2024, 4, 26, 10)) == (
        "2024-04-26T01:00:00.000", "2024-04-26T23:59:59.999")


# ---------------------------------------------------------------------------------------------
# Year ends, ISO week 53, leap days
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("now, expression, expected", [
    # 2020-12-31 (Thursday) and 2021-01-01 (Friday) are both in ISO week 53 of 2020
    (utc(2020, 12, 31, 12), "this week", span("2020-12-28", "2021-01-03")),
    (utc(2020, 12, 31, 12), "last week", span("2020-12-21", "2020-12-27")),
    (utc(2020, 12, 31, 12), "next week", span("2021-01-04", "2021-01-10")),
    (utc(2020, 12, 31, 12), "last 2 weeks", span("2020-12-14", "2020-12-27")),
    (utc(2020, 12, 31, 12), "next year", span("2021-01-01", "2021-12-31")),
    (utc(2020, 12, 31, 12), "tomorrow", day("2021-01-01")),
    (utc(2021, 1, 1, 12), "this week", span("2020-12-28", "2021-01-03")),
    (utc(2021, 1, 1, 12), "last week", span("2020-12-21", "2020-12-27")),
    (utc(2021, 1, 1, 12), "this year", span("2021-01-01", "2021-12-31")),
    (utc(2021, 1, 1, 12), "last year", span("2020-01-01", "2020-12-31")),
    (utc(2021, 1, 1, 12), "last month", span("2020-12-01", "2020-12-31")),
    (utc(2021, 1, 1, 12), "this quarter", span("2021-01-01", "2021-03-31")),
    (utc(2021, 1, 1, 12), "last quarter", span("2020-10-01", "2020-12-31")),
    (utc(2021, 1, 1, 12), "yesterday", day("2020-12-31")),
    (utc(2021, 1, 1, 12), "last 7 days", span("2020-12-25", "2020-12-31")),
    (utc(2021, 1, 1, 0, 0, 30), "last minute", ("2020-12-31T23:59:00.000", "2020-12-31T23:59:59.999")),
    (utc(2020, 12, 31, 23, 59, 59), "next second", ("2021-01-01T00:00:00.000", "2021-01-01T00:00:00.999")),
    # leap days
    (utc(2024, 2, 29, 12), "last year", span("2023-01-01", "2023-12-31")),
    (utc(2024, 2, 29, 12), "next year", span("2025-01-01", "2025-12-31")),
    (utc(2024, 2, 29, 12), "this month", span("2024-02-01", "2024-02-29")),
    (utc(2024, 2, 29, 12), "last 12 months", span("2023-02-01", "2024-01-31")),
    (utc(2024, 2, 29, 12), "1 year ago", day("2023-02-28")),  # chrono clamps to the month end
    (utc(2024, 2, 29, 12), "in 1 year", day("2025-02-28")),
    (utc(2024, 3, 31, 12), "last month", span("2024-02-01", "2024-02-29")),
    (utc(2024, 3, 31, 12), "1 month ago", day("2024-02-29")),
    (utc(2024, 3, 31, 12), "next month", span("2024-04-01", "2024-04-30")),
    (utc(2021, 3, 31, 12), "1 month ago", day("2021-02-28")),
    (utc(2024, 3, 1, 12), "yesterday", day("2024-02-29")),
])
def test_year_ends_iso_week_53_and_leap_days(now, expression, expected):
    assert resolve_date_range(expression, "UTC", now) == expected


@pytest.mark.parametrize("now, expression, expected", [
    # spec 3.3's Friday; chrono's "next" from a weekday skips to the following week
    (SPEC_NOW, "last friday", day("2021-02-26")),
    (SPEC_NOW, "this friday", day("2021-03-05")),
    (SPEC_NOW, "next friday", day("2021-03-12")),
    (SPEC_NOW, "next monday", day("2021-03-08")),
    (SPEC_NOW, "next wednesday", day("2021-03-10")),
    (SPEC_NOW, "monday", day("2021-03-08")),
    (SPEC_NOW, "tuesday", day("2021-03-02")),
    (utc(2021, 3, 6, 12), "next saturday", day("2021-03-13")),  # from a Saturday
    (utc(2021, 3, 6, 12), "next sunday", day("2021-03-14")),
])
def test_weekday_phrases_follow_chrono(now, expression, expected):
    assert resolve_date_range(expression, "UTC", now) == expected


# ---------------------------------------------------------------------------------------------
# Properties over random instants, zones, units and N, against an independent oracle
# ---------------------------------------------------------------------------------------------

ZONES = ["UTC", NY, BERLIN, "Asia/Kolkata", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham"]
CALENDAR = ["day", "week", "month", "quarter", "year"]
CLOCK = ["second", "minute", "hour"]
STEP = {"second": relativedelta(seconds=1), "minute": relativedelta(minutes=1), "hour": relativedelta(hours=1),
        "day": relativedelta(days=1), "week": relativedelta(weeks=1), "month": relativedelta(months=1),
        "quarter": relativedelta(months=3), "year": relativedelta(years=1)}
MS = timedelta(milliseconds=1)
FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\Z")

instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31, 23, 59, 59, 999999),
                        timezones=st.just(UTC))
zones = st.sampled_from(ZONES)
counts = st.integers(min_value=1, max_value=30)


def offset_changes(tz: str) -> list[datetime]:
    """Every instant in 2000..2040 at which the zone's UTC offset changes (daily scan, then bisection)."""
    zone, found = ZoneInfo(tz), []
    t, step = datetime(2000, 1, 1, tzinfo=UTC), timedelta(days=1)
    before = t.astimezone(zone).utcoffset()
    while t.year < 2041:
        after = (t + step).astimezone(zone).utcoffset()
        if after != before:
            lo, hi = t, t + step
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if mid.astimezone(zone).utcoffset() == before else (lo, mid)
            found.append(hi.replace(microsecond=0))
            before = after
        t += step
    return found


OFFSET_CHANGES = {tz: offset_changes(tz) for tz in ZONES}


@st.composite
def moments(draw, spread: timedelta = timedelta(days=2), always_near: bool = False) -> tuple[datetime, str]:
    """(instant, zone), half of the time (or always) within ``spread`` of one of that zone's DST changes."""
    tz = draw(zones)
    if OFFSET_CHANGES[tz] and (always_near or draw(st.booleans())):
        near = draw(st.sampled_from(OFFSET_CHANGES[tz]))
        return near + draw(st.timedeltas(min_value=-spread, max_value=spread)), tz
    return draw(instants), tz


def wall_clock(now: datetime, tz: str) -> datetime:
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    return now.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def period_start(wall: datetime, unit: str) -> datetime:
    """The start of the period containing ``wall``, computed without engine.dates."""
    d = wall.date()
    if unit == "second":
        return datetime.combine(d, time(wall.hour, wall.minute, wall.second))
    if unit == "minute":
        return datetime.combine(d, time(wall.hour, wall.minute))
    if unit == "hour":
        return datetime.combine(d, time(wall.hour))
    if unit == "day":
        return datetime.combine(d, time())
    if unit == "week":
        iso_year, iso_week, _ = d.isocalendar()
        return datetime.combine(date.fromisocalendar(iso_year, iso_week, 1), time())
    if unit == "month":
        return datetime(d.year, d.month, 1)
    if unit == "quarter":
        return datetime(d.year, 1, 1) + relativedelta(months=3 * ((d.month - 1) // 3))
    return datetime(d.year, 1, 1)


def first_real_wall(wall: datetime, tz: str | None) -> datetime:
    """``wall``, or when the zone's clocks skipped it, the first wall-clock minute after the skip."""
    if tz is None:
        return wall
    zone = ZoneInfo(tz)

    def exists(w: datetime) -> bool:
        return any(w.replace(tzinfo=zone, fold=f).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == w
                   for f in (0, 1))

    while not exists(wall):
        wall += timedelta(minutes=1)  # skips are whole minutes
    return wall


def oracle(wall: datetime, unit: str, first: int, last: int, tz: str | None = None) -> tuple[str, str]:
    """Periods ``first`` .. ``last`` relative to the current one (0), by relativedelta; with ``tz``,
    a start the clocks skipped (Kathmandu 1986-01-01 00:00-00:15) moves to the end of the skip."""
    p = period_start(wall, unit)
    start, end = first_real_wall(p + first * STEP[unit], tz), p + (last + 1) * STEP[unit] - MS
    return start.isoformat(timespec="milliseconds"), end.isoformat(timespec="milliseconds")


def no_offset_change(now: datetime, tz: str, unit: str, n: int) -> bool:
    """True when the UTC offset is constant over the whole window of n+2 units either side."""
    zone = ZoneInfo(tz)
    reach = (n + 2) * {"second": timedelta(seconds=1), "minute": timedelta(minutes=1), "hour": timedelta(hours=1)}[unit]
    return len({(now + k * reach / 4).astimezone(zone).utcoffset() for k in range(-4, 5)}) == 1


def unit_strategy(units):
    return st.sampled_from(units)


@settings(max_examples=150, deadline=None)
@given(moment=moments(), unit=unit_strategy(CALENDAR), n=counts)
def test_calendar_ranges_agree_with_relativedelta_oracle(moment, unit, n):
    now, tz = moment
    wall = wall_clock(now, tz)
    this = resolve_date_range(f"this {unit}", tz, now)
    assert this == oracle(wall, unit, 0, 0, tz)
    assert resolve_date_range(f"last {unit}", tz, now) == oracle(wall, unit, -1, -1, tz)
    assert resolve_date_range(f"next {unit}", tz, now) == oracle(wall, unit, 1, 1, tz)
    last_n = resolve_date_range(f"last {n} {unit}s", tz, now)
    next_n = resolve_date_range(f"next {n} {unit}s", tz, now)
    assert last_n == oracle(wall, unit, -n, -1, tz)
    assert next_n == oracle(wall, unit, 1, n, tz)
    if (this, last_n, next_n) != tuple(oracle(wall, unit, a, b) for a, b in ((0, 0), (-n, -1), (1, n))):
        return  # a period starts in a skipped hour: the plain calendar facts below do not apply
    # the same facts stated directly on the strings
    this_start = datetime.fromisoformat(this[0])
    assert this[0] <= wall.isoformat(timespec="milliseconds") <= this[1]  # this unit contains now
    assert datetime.fromisoformat(last_n[1]) + MS == this_start  # ends 1 ms before this period
    assert datetime.fromisoformat(last_n[0]) + n * STEP[unit] == this_start  # exactly N units long
    assert datetime.fromisoformat(next_n[0]) == datetime.fromisoformat(this[1]) + MS  # starts at the next
    assert datetime.fromisoformat(next_n[1]) + MS == this_start + (n + 1) * STEP[unit]
    for r in (this, last_n, next_n):
        assert r[0] <= r[1] and FORMAT.match(r[0]) and FORMAT.match(r[1])


@settings(max_examples=150, deadline=None)
@given(now=instants, tz=zones, unit=unit_strategy(CLOCK), n=counts)
def test_clock_unit_ranges_agree_with_oracle_away_from_dst_changes(now, tz, unit, n):
    assume(no_offset_change(now, tz, unit, n))
    wall = wall_clock(now, tz)
    this = resolve_date_range(f"this {unit}", tz, now)
    assert this == oracle(wall, unit, 0, 0)
    assert this[0] <= wall.isoformat(timespec="milliseconds") <= this[1]
    last_n = resolve_date_range(f"last {n} {unit}s", tz, now)
    next_n = resolve_date_range(f"next {n} {unit}s", tz, now)
    assert last_n == oracle(wall, unit, -n, -1)
    assert next_n == oracle(wall, unit, 1, n)
    assert last_n[0] <= last_n[1] and next_n[0] <= next_n[1]


@settings(max_examples=150, deadline=None)
@given(moment=moments(), unit=unit_strategy(CLOCK))
def test_this_clock_unit_always_contains_now(moment, unit):
    now, tz = moment
    this = resolve_date_range(f"this {unit}", tz, now)
    assert this[0] <= wall_clock(now, tz).isoformat(timespec="milliseconds") <= this[1]


@settings(max_examples=150, deadline=None)
@given(moment=moments(), unit=unit_strategy(CALENDAR + ["hour"]), n=counts,
       phrase=st.sampled_from(["{n} {u}s ago", "{n} {u}s from now", "in {n} {u}s"]))
def test_chrono_relative_points_agree_with_relativedelta(moment, unit, n, phrase):
    now, tz = moment
    if unit == "hour":
        assume(no_offset_change(now, tz, unit, n))
    sign = -1 if phrase.endswith("ago") else 1
    target = wall_clock(now, tz) + sign * n * STEP[unit]
    granularity = "hour" if unit == "hour" else "day"
    expected = oracle(target, granularity, 0, 0)
    assert resolve_date_range(phrase.format(n=n, u=unit), tz, now) == expected


@settings(max_examples=100, deadline=None)
@given(d=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)), tz=zones)
def test_single_dates_and_filter_bounds_cover_that_whole_day(d, tz):
    text = d.isoformat()
    assert resolve_date_range(text, tz, RECORDED_NOW) == day(text)
    assert resolve_date_range([text], tz, RECORDED_NOW) == day(text)
    assert (date_filter_bound(text, "from", tz, RECORDED_NOW), date_filter_bound(text, "to", tz, RECORDED_NOW)) == day(text)


@settings(max_examples=150, deadline=None)
@given(moment=moments())
def test_local_to_utc_takes_the_earliest_instant_with_that_wall_clock(moment):
    now, tz = moment
    zone = ZoneInfo(tz)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    wall = now.astimezone(zone).replace(tzinfo=None)
    candidates = [c for c in (wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
                  if c.astimezone(zone).replace(tzinfo=None) == wall]
    result = local_to_utc(wall.isoformat(timespec="milliseconds"), tz)
    assert result == min(candidates) <= now


@settings(max_examples=100, deadline=None)
@given(moment=moments(spread=timedelta(hours=1), always_near=True), shift=st.sampled_from([timedelta(0), timedelta(hours=1)]))
def test_local_to_utc_never_goes_back_in_wall_time(moment, shift):
    """A real wall time maps onto itself; one in a gap maps to the instant the clocks jumped."""
    now, tz = moment
    zone = ZoneInfo(tz)
    # an hour later on the wall clock than a real instant near a change: often inside a gap
    wall = now.astimezone(zone).replace(tzinfo=None) + shift
    wall = wall.replace(microsecond=wall.microsecond // 1000 * 1000)
    result = local_to_utc(wall.isoformat(timespec="milliseconds"), tz)
    seen = result.astimezone(zone).replace(tzinfo=None)
    if seen != wall:
        assert seen > wall
        just_before = (result - timedelta(microseconds=1)).astimezone(zone)
        assert just_before.utcoffset() != result.astimezone(zone).utcoffset()
        assert just_before.replace(tzinfo=None) < wall
