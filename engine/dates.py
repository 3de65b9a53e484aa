"""Cube-compatible date ranges: relative expressions, absolute bounds and time-zone conversion.

This reproduces what real Cube 1.7 does when it turns a query's ``dateRange`` (or a date filter
value) into a pair of local wall-clock strings, and then how duckcube turns those strings into
UTC instants for SQL.

Cube's pipeline, which this module mirrors step by step:

* ``dateParser(str, tz, now)`` (api-gateway ``date-parser.ts``): the string is lower-cased, then
  five rules are tried in order, each an unanchored substring match (see ``_RULES``)::

      "this week"                 -> whole ISO week containing now (weeks start Monday)
      "last 7 days"               -> the 7 days before today (today excluded)
      "today" / "yesterday" / ... -> that day
      "from 7 days ago to now"    -> each side parsed like chrono-node, day-aligned
      "2024-01-15", "jan 5 2024"  -> chrono-node on the whole string

  The last two rules use chrono-node, a natural-language date parser.  ``_Chrono`` below is a
  re-implementation of the English chrono-node parsers and refiners that matter for date ranges
  (ISO dates, month names, weekdays, "N units ago", "in N units", times of day, ...).
* ``resolveDateRange`` (``query.ts``): arrays are normalised without any natural-language parsing:
  ``YYYY-MM-DD`` becomes the start/end of that day, anything else is read the way
  ``moment.utc(s)`` reads it.
* ``BaseFilter.formatFromDate/formatToDate`` (schema-compiler) for date filter operators.

Everything works on naive "wall-clock" datetimes in the query time zone, exactly like Cube's
moment objects do, and is formatted as ``YYYY-MM-DDTHH:mm:ss.SSS``.  Only ``local_to_utc`` goes
back to instants, with the offset in force at that local time (our documented deviation from
Cube, spec section 12).

No global clock: ``now`` is always passed in.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as _timezone
from typing import Callable, Literal, Sequence
from zoneinfo import ZoneInfo, available_timezones

from dateutil.relativedelta import relativedelta

__all__ = [
    "DateParseError",
    "resolve_date_range",
    "date_filter_bound",
    "local_to_utc",
    "is_valid_timezone",
    "is_absolute",
]

_UTC = _timezone.utc
_MS = timedelta(milliseconds=1)


class DateParseError(ValueError):
    """A date expression nobody can read.

    ``str(e)`` is Cube's message, ``Can't parse date: '<value>'``.  Like Cube, a relative
    expression is quoted lower-cased (Cube lower-cases the whole string before parsing), and for
    ``from A to B`` the side that failed is quoted, trimmed.
    """

    def __init__(self, value: str):
        super().__init__(f"Can't parse date: '{value}'")
        self.value = value


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def resolve_date_range(value: str | Sequence[str], timezone: str, now: datetime) -> tuple[str, str]:
    """A query's ``dateRange`` -> ``(from, to)``, local wall-clock strings in ``timezone``.

    >>> now = datetime(2026, 11, 22, 11, 10, 14, tzinfo=_UTC)   # a Sunday
    >>> resolve_date_range("This week", "UTC", now)
    ('2026-11-16T00:00:00.000', '2026-11-22T23:59:59.999')
    >>> resolve_date_range("last 7 days", "UTC", now)
    ('2026-11-15T00:00:00.000', '2026-11-21T23:59:59.999')
    >>> resolve_date_range("from 2 days ago to today", "UTC", now)   # Cube's quirk: "today" wins
    ('2026-11-22T00:00:00.000', '2026-11-22T23:59:59.999')
    >>> resolve_date_range(["2024-01-01T06:00:00", "2024-01-02"], "UTC", now)
    ('2024-01-01T06:00:00.000', '2024-01-02T23:59:59.999')

    Arrays hold 1 or 2 absolute values (1 element means ``[d, d]``); they are never parsed as
    natural language, an unreadable element raises ``DateParseError`` (Cube would carry on with
    the text ``Invalid date``).
    """
    if isinstance(value, str):
        return _date_parser(value, _zone(timezone), now)
    if isinstance(value, (list, tuple)) and 1 <= len(value) <= 2 and all(isinstance(v, str) for v in value):
        first, last = value[0], value[-1]
        return _array_bound(first, "from"), _array_bound(last, "to")
    raise ValueError(f"dateRange must be a string or an array of 1 or 2 strings, got {value!r}")


def date_filter_bound(value: str, side: Literal["from", "to"], timezone: str, now: datetime) -> str:
    """One value of a date filter operator -> local ``YYYY-MM-DDTHH:mm:ss.SSS``.

    ``side`` is the end of the value's range the SQL bound needs.  Cube 1.7's legacy planner
    formats ``inDateRange`` values[0] as ``"from"`` and values[1] as ``"to"``, and the single
    value of ``beforeDate``/``beforeOrOnDate``/``afterDate``/``afterOrOnDate`` always as
    ``"from"`` (recordings 056/057: ``beforeOrOnDate ["2024-01-15"]`` is ``<= 2024-01-15
    00:00:00.000``).  Its gateway first turns a *relative* single value into the start
    (beforeDate, afterOrOnDate) or end (beforeOrOnDate, afterDate) of its range, a 23-character
    local timestamp that is then kept whatever ``side`` says.

    >>> now = datetime(2026, 11, 22, 11, 10, 14, tzinfo=_UTC)
    >>> date_filter_bound("2024-01-15", "to", "UTC", now)
    '2024-01-15T23:59:59.999'
    >>> date_filter_bound("2024-01-15T15:00:00Z", "from", "America/New_York", now)
    '2024-01-15T10:00:00.000'
    >>> date_filter_bound("yesterday", "from", "UTC", now)
    '2026-11-21T00:00:00.000'
    """
    if side not in ("from", "to"):
        raise ValueError(f"side must be 'from' or 'to', got {side!r}")
    if not isinstance(value, str):
        raise TypeError(f"date filter values are strings, got {value!r}")
    tz = _zone(timezone)
    if not _ABSOLUTE_RE.match(value):
        # Cube's gateway resolves any non-absolute value as a relative range and keeps one end.
        start, end = _date_parser(value, tz, now)
        return start if side == "from" else end
    # BaseFilter.formatFromDate / formatToDate.
    if _LOCAL_MS_RE.match(value):
        if _parse_iso(value) is None:
            raise DateParseError(value)
        return value
    parsed = _parse_iso(value)
    if parsed is None:
        raise DateParseError(value)
    wall, offset = parsed
    if _DATE_ONLY_RE.match(value):
        return value + ("T00:00:00.000" if side == "from" else "T23:59:59.999")
    # moment.tz(value, tz): an explicit offset is honoured, otherwise the value is local.
    if offset is not None:
        wall = (wall - offset).replace(tzinfo=_UTC).astimezone(tz).replace(tzinfo=None)
    else:
        wall = _settle(wall, tz)
    return _fmt(wall)


def is_absolute(value: str) -> bool:
    """Whether a date filter value names a fixed date or time (ISO-8601) rather than one relative
    to the clock (`yesterday`, `last week`): the gateway's test, which `date_filter_bound` uses.

    >>> is_absolute("2024-01-15"), is_absolute("2024-01-15T10:00:00Z"), is_absolute("yesterday")
    (True, True, False)
    """
    return _ABSOLUTE_RE.match(value) is not None


def local_to_utc(local: str, timezone: str) -> datetime:
    """Local wall-clock string -> aware UTC datetime, with the offset in force at that local time.

    A time inside a spring-forward gap maps to the first instant after the gap; a time that
    occurs twice at fall-back takes the first (earlier) occurrence.

    >>> local_to_utc("2024-01-01T00:00:00.000", "America/New_York")
    datetime.datetime(2024, 1, 1, 5, 0, tzinfo=datetime.timezone.utc)
    >>> local_to_utc("2024-03-10T02:30:00.000", "America/New_York")   # gap: 03:00 EDT
    datetime.datetime(2024, 3, 10, 7, 0, tzinfo=datetime.timezone.utc)
    >>> local_to_utc("2024-11-03T01:30:00.000", "America/New_York")   # twice: the EDT one
    datetime.datetime(2024, 11, 3, 5, 30, tzinfo=datetime.timezone.utc)
    """
    m = _LOCAL_RE.match(local) if isinstance(local, str) else None
    if m is None:
        raise DateParseError(local)
    fraction = (m["f"] or "").ljust(6, "0")
    try:
        wall = datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"] or 0), int(m["mi"] or 0),
                        int(m["s"] or 0), int(fraction))
    except ValueError:
        raise DateParseError(local) from None
    tz = _zone(timezone)
    earliest = wall.replace(tzinfo=tz, fold=0).astimezone(_UTC)
    if earliest.astimezone(tz).replace(tzinfo=None) == wall:
        return earliest  # exists (fold=0 is the earlier of two occurrences)
    return _gap_end(wall, tz)


def is_valid_timezone(name: str) -> str | None:
    """Canonical IANA name for a case-insensitive match, else None (Cube's ``canonicalTimezone``).

    >>> is_valid_timezone("america/new_york")
    'America/New_York'
    >>> is_valid_timezone("Mars/Base") is None
    True
    """
    if not isinstance(name, str) or not name:
        return None
    return _zone_names().get(name.lower())


# ---------------------------------------------------------------------------------------------
# Time zones and wall-clock arithmetic (what moment-timezone does)
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    # Python's list includes two names moment-timezone does not know.
    return {n.lower(): n for n in available_timezones() if n not in ("localtime", "Factory")}


@functools.lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    canonical = is_valid_timezone(name)
    if canonical is None:
        raise ValueError(f"Unknown time zone: {name!r}")
    return ZoneInfo(canonical)


def _settle(wall: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock point made real: one inside a spring-forward gap moves forward by the gap's
    length, as moment does when it parses or sets one (New York's 02:30 on 2024-03-10 is 03:30).

    fold=0 reads a gap time with the offset before the change, so the round trip moves it forward.
    """
    return wall.replace(tzinfo=tz).astimezone(_UTC).astimezone(tz).replace(tzinfo=None)


def _first_real(wall: datetime, tz: ZoneInfo) -> datetime:
    """A period start the clocks skipped becomes the first wall-clock time after the skip.

    Cairo's 2024-04-26 starts at 01:00, Lord Howe's 02:00 hour on its spring-forward day at
    02:30.  This equals moment's result whenever the gap begins on the period boundary; where a
    boundary falls strictly inside a gap (Chatham jumps 02:45 -> 03:45, so its 03:00 hour),
    moment moves 03:00 by the gap's length to 04:00 and Cube answers an inverted 'this hour'
    [04:00, 03:59:59.999]; we start it at 03:45.
    """
    if _settle(wall, tz) == wall:
        return wall
    return _gap_end(wall, tz).astimezone(tz).replace(tzinfo=None)


def _gap_end(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant a spring-forward gap containing ``wall`` ends (binary search on seconds).

    zoneinfo exposes no transition list; the gap's end lies between the two readings of ``wall``
    (with the offset after, then before, the change) and is the first instant with the new offset.
    """
    lo = int(wall.replace(tzinfo=tz, fold=1).astimezone(_UTC).timestamp())  # before the change
    hi = int(math.ceil(wall.replace(tzinfo=tz, fold=0).astimezone(_UTC).timestamp()))
    new_offset = datetime.fromtimestamp(hi, _UTC).astimezone(tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, _UTC).astimezone(tz).utcoffset() == new_offset:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, _UTC)


def _fmt(wall: datetime) -> str:
    """'2024-01-05T13:04:05.123', milliseconds truncated like a JS Date."""
    return wall.isoformat(timespec="milliseconds")


_SUB_DAY_UNITS = {"second": timedelta(seconds=1), "minute": timedelta(minutes=1), "hour": timedelta(hours=1)}
_CALENDAR_UNITS = {"day": relativedelta(days=1), "week": relativedelta(days=7), "month": relativedelta(months=1),
                   "quarter": relativedelta(months=3), "year": relativedelta(years=1)}


def _start_of(wall: datetime, unit: str) -> datetime:
    """moment's ``startOf(unit)`` on a wall clock; weeks are ISO weeks (Monday)."""
    if unit == "second":
        return wall.replace(microsecond=0)
    if unit == "minute":
        return wall.replace(second=0, microsecond=0)
    if unit == "hour":
        return wall.replace(minute=0, second=0, microsecond=0)
    day = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)  # year


def _end_of(wall: datetime, unit: str) -> datetime:
    """moment's ``endOf(unit)``: the last millisecond of the period (``...23:59:59.999``)."""
    step = _SUB_DAY_UNITS.get(unit) or _CALENDAR_UNITS[unit]
    return _start_of(wall, unit) + step - _MS


@dataclass(frozen=True)
class _Now:
    """The reference instant, as moment would hold it: UTC instant plus the local wall clock."""

    utc: datetime
    tz: ZoneInfo
    wall: datetime

    @classmethod
    def of(cls, now: datetime, tz: ZoneInfo) -> "_Now":
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise ValueError(f"now must be an aware datetime, got {now!r}")
        utc = now.astimezone(_UTC)
        utc = utc.replace(microsecond=utc.microsecond // 1000 * 1000)  # JS Dates hold milliseconds
        return cls(utc, tz, utc.astimezone(tz).replace(tzinfo=None))

    def shifted(self, n: int, unit: str) -> datetime:
        """moment's ``add(n, unit)``: hours and smaller are real elapsed time (so a DST change in
        between is counted), days and larger keep the wall-clock time (calendar arithmetic)."""
        if unit in _SUB_DAY_UNITS:
            return (self.utc + n * _SUB_DAY_UNITS[unit]).astimezone(self.tz).replace(tzinfo=None)
        return self.wall + n * _CALENDAR_UNITS[unit]


# ---------------------------------------------------------------------------------------------
# Cube's dateParser: a table of rules tried in order on the lower-cased string
# ---------------------------------------------------------------------------------------------

_Range = tuple[datetime, datetime]

# Cube's regexes are unanchored: "this weekend" matches "this week", "last days" matches "last day".
_UNIT = r"(day|week|month|year|quarter|hour|minute|second)"
_THIS_LAST_NEXT_RE = re.compile(r"(this|last|next)\s+" + _UNIT)
_LAST_NEXT_N_RE = re.compile(r"(last|next)\s+([0-9]+)\s+" + _UNIT)
# JavaScript's "." stops at line terminators only; "$" is the very end.
_JS_DOT = "[^\n\r\u2028\u2029]"
_FROM_TO_RE = re.compile(f"from ({_JS_DOT}*) to ({_JS_DOT}*)\\Z")
_FROM_TO_SPLIT_RE = re.compile(f"from({_JS_DOT}{{0,50}})to({_JS_DOT}{{0,50}})\\Z")


def _rule_this_last_next(s: str, now: _Now) -> _Range | None:
    """'this|last|next <unit>' anywhere: the whole period containing now, shifted by 0/-1/+1.

    'last day' is yesterday; 'from last week to now' is last week (the substring wins).
    """
    m = _THIS_LAST_NEXT_RE.search(s)
    if not m:
        return None
    unit = m[2]
    moved = now.shifted({"this": 0, "last": -1, "next": 1}[m[1]], unit)
    return _first_real(_start_of(moved, unit), now.tz), _end_of(moved, unit)


def _rule_last_next_n(s: str, now: _Now) -> _Range | None:
    """'last|next N <unit>(s)': N whole periods before/after the current one (which is excluded).

    'last 7 days' on a Sunday = Sunday-7 .. Saturday; 'last 0 days' is Cube's inverted range
    (today 00:00 .. yesterday 23:59:59.999).
    """
    m = _LAST_NEXT_N_RE.search(s)
    if not m:
        return None
    n, unit = int(m[2]), m[3]
    first, last = (-n, -1) if m[1] == "last" else (1, n)
    return _first_real(_start_of(now.shifted(first, unit), unit), now.tz), _end_of(now.shifted(last, unit), unit)


def _day_rule(word: str, days: int) -> Callable[[str, _Now], _Range | None]:
    def rule(s: str, now: _Now) -> _Range | None:
        if word not in s:
            return None
        # Cube: startOf('day') then add(days) (so a 01:00 start after a midnight gap stays 01:00).
        start = _first_real(_first_real(_start_of(now.wall, "day"), now.tz) + timedelta(days=days), now.tz)
        return start, _end_of(now.wall, "day") + timedelta(days=days)

    rule.__name__ = f"_rule_{word}"
    rule.__doc__ = f"'{word}' anywhere in the string: that whole day ('from 2 days ago to {word}' too)."
    return rule


def _granularity(s: str) -> str:
    """Chrono results are aligned to second/minute/hour if that word occurs anywhere, else day."""
    return next((g for g in ("second", "minute", "hour") if g in s), "day")


def _rule_from_to(s: str, now: _Now) -> _Range | None:
    """'from A to B': each side parsed by chrono; A -> start of its period, B -> end of its period.

    The split is Cube's ``/^from(.{0,50})to(.{0,50})$/``: the LAST "to" wins, so
    'from now to october 2027' splits into 'now to oc' / 'ber 2027' and fails on the latter.
    """
    if not _FROM_TO_RE.match(s):
        return None
    m = _FROM_TO_SPLIT_RE.match(s)
    if m is None:  # a side longer than 50 characters (Cube crashes with a TypeError here)
        raise DateParseError(s)
    g = _granularity(s)
    sides = []
    for text in (m[1].strip(), m[2].strip()):
        results = _chrono_parse(text, now.wall)
        if not results:
            raise DateParseError(text)
        sides.append(_settle(results[0].start.to_wall(), now.tz))
    return _first_real(_start_of(sides[0], g), now.tz), _end_of(sides[1], g)


def _rule_chrono(s: str, now: _Now) -> _Range | None:
    """Anything else: chrono on the whole string; its range if it found one, else that one point,
    widened to the granularity ('2 weeks ago' = that day, '2 weeks ago by hour' = that hour)."""
    results = _chrono_parse(s, now.wall)
    if not results:
        raise DateParseError(s)
    first = results[0]
    g = _granularity(s)
    start = _settle(first.start.to_wall(), now.tz)
    end = _settle((first.end or first.start).to_wall(), now.tz)
    return _first_real(_start_of(start, g), now.tz), _end_of(end, g)


_RULES: tuple[Callable[[str, _Now], _Range | None], ...] = (
    _rule_this_last_next,
    _rule_last_next_n,
    _day_rule("today", 0),
    _day_rule("yesterday", -1),
    _day_rule("tomorrow", 1),
    _rule_from_to,
    _rule_chrono,
)


def _date_parser(value: str, tz: ZoneInfo, now: datetime) -> tuple[str, str]:
    """Cube's ``dateParser``: the first rule that applies decides."""
    reference = _Now.of(now, tz)
    s = value.lower()
    try:
        for rule in _RULES:
            found = rule(s, reference)
            if found is not None:
                return _fmt(found[0]), _fmt(found[1])
    except (OverflowError, ValueError) as exc:  # e.g. 'last 99999 years' runs off the calendar
        if isinstance(exc, DateParseError):
            raise
        raise DateParseError(s) from None
    raise DateParseError(s)  # unreachable: _rule_chrono always answers or raises


# ---------------------------------------------------------------------------------------------
# Absolute values (arrays, filter values)
# ---------------------------------------------------------------------------------------------

_DATE_ONLY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_LOCAL_MS_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\Z")
# The gateway's test for "already absolute" filter values (anything else is resolved as relative).
_ABSOLUTE_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?\Z")
# moment's extended ISO 8601 (calendar dates only): what moment.utc(s) / moment.tz(s, tz) accept.
_ISO_RE = re.compile(
    r"\s*(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})(?:-(?P<d>[0-9]{2}))?"
    r"(?:[Tt ](?P<h>[0-9]{2})(?::(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:[.,](?P<f>[0-9]+))?)?)?"
    r"(?P<tz>[+-][0-9]{2}(?::?[0-9]{2})?|\s*Z)?)?\Z")
_LOCAL_RE = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:[T ](?P<h>[0-9]{2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,6}))?)?)?\Z")


def _parse_iso(value: str) -> tuple[datetime, timedelta | None] | None:
    """An ISO 8601 string as moment reads it -> (wall clock as written, its UTC offset or None).

    Fractions are truncated to milliseconds; '24:00' is the next midnight.  None if invalid.
    """
    m = _ISO_RE.match(value)
    if m is None:
        return None
    hour, minute, second = int(m["h"] or 0), int(m["mi"] or 0), int(m["s"] or 0)
    millis = int(float("0." + m["f"]) * 1000) if m["f"] else 0
    next_day = hour == 24 and minute == second == millis == 0
    try:
        wall = datetime(int(m["y"]), int(m["mo"]), int(m["d"] or 1), 0 if next_day else hour, minute, second,
                        millis * 1000) + timedelta(days=next_day)
    except ValueError:
        return None
    zone = (m["tz"] or "").strip()
    if not zone:
        return wall, None
    if zone == "Z":
        return wall, timedelta(0)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return wall, sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))


@functools.lru_cache(maxsize=4096)  # pure; the same bounds come back query after query (0.03 ms each)
def _array_bound(value: str, side: str) -> str:
    """One element of a dateRange array, as Cube's ``resolveDateRange`` normalises it:
    'YYYY-MM-DD' -> that day's start/end; anything else -> ``moment.utc(s)`` wall clock (so an
    offset is converted to UTC and then read as local: avoid offsets in dateRange arrays)."""
    parsed = _parse_iso(value)
    if parsed is None:
        raise DateParseError(value)
    if _DATE_ONLY_RE.match(value):
        return value + ("T00:00:00.000" if side == "from" else "T23:59:59.999")
    wall, offset = parsed
    return _fmt(wall - (offset or timedelta(0)))


# ---------------------------------------------------------------------------------------------
# chrono-node (English, casual configuration), the parts a date range can reach
# ---------------------------------------------------------------------------------------------
#
# Chrono runs every parser over the text, sorts what they found by position, then lets refiners
# drop overlaps, merge a date with a following time, merge "A to B" into a range, and drop
# impossible dates.  Cube takes the first result.  Dates are built from "components", each known
# (written in the text) or implied (defaulted: the reference date, 12:00:00.000).  The reference
# is the wall clock in the query time zone read on a UTC server, so all arithmetic here is naive
# wall-clock arithmetic (chrono adds hours on the wall clock, unlike the moment rules above).

_AM, _PM = 0, 1


def _js_weekday(d: datetime) -> int:
    """JavaScript ``getDay()``: Sunday is 0."""
    return (d.weekday() + 1) % 7


def _js_round(x: float) -> int:
    """``Math.round``: halves go up."""
    return math.floor(x + 0.5)


def _js_date(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
             millis: int = 0) -> datetime:
    """``new Date(y, m - 1, d, ...)``: out-of-range fields overflow into the next ones."""
    months = year * 12 + month - 1
    base = datetime(months // 12, months % 12 + 1, 1)
    return base + timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second, milliseconds=millis)


def _add_duration(ref: datetime, duration: dict[str, float]) -> datetime:
    """chrono's ``addDuration`` (mutates ``duration`` like the original, which callers look at).

    Years, quarters and months go in one step, clamped to the target month (Jan 31 + 1 month is
    Feb 28); fractions spill into the next smaller unit (1.5 days = 1 day 12 hours).
    """
    months = 0
    if "year" in duration:
        whole = math.floor(duration["year"])
        months += whole * 12
        if duration["year"] - whole > 0:
            duration["month"] = duration.get("month", 0) + (duration["year"] - whole) * 12
    if "quarter" in duration:
        months += math.floor(duration["quarter"]) * 3
    if "month" in duration:
        whole = math.floor(duration["month"])
        months += whole
        if duration["month"] - whole > 0:
            duration["week"] = duration.get("week", 0) + (duration["month"] - whole) * 4
    date = ref + relativedelta(months=months) if months else ref
    spill = (("week", 7, "day", 7), ("day", 1, "hour", 24), ("hour", 1 / 24, "minute", 60),
             ("minute", 1 / 1440, "second", 60), ("second", 1 / 86400, "millisecond", 1000))
    for unit, days_each, smaller, per in spill:
        if unit in duration:
            whole = math.floor(duration[unit])
            date += timedelta(days=whole * days_each)
            if duration[unit] - whole > 0:
                duration[smaller] = duration.get(smaller, 0) + _js_round((duration[unit] - whole) * per)
    if "millisecond" in duration:
        date += timedelta(milliseconds=math.floor(duration["millisecond"]))
    return date


class _Comp:
    """chrono's ParsingComponents: fields known from the text or implied by default."""

    __slots__ = ("ref", "known", "implied", "tags")

    def __init__(self, ref: datetime, known: dict[str, int] | None = None):
        self.ref = ref
        self.known: dict[str, int] = dict(known or {})
        self.implied: dict[str, int] = {}
        self.tags: set[str] = set()
        for key, value in (("day", ref.day), ("month", ref.month), ("year", ref.year), ("hour", 12),
                           ("minute", 0), ("second", 0), ("millisecond", 0)):
            self.imply(key, value)

    def get(self, key: str) -> int | None:
        return self.known[key] if key in self.known else self.implied.get(key)

    def certain(self, key: str) -> bool:
        return key in self.known

    def imply(self, key: str, value: int) -> "_Comp":
        if key not in self.known:
            self.implied[key] = value
        return self

    def assign(self, key: str, value: int) -> "_Comp":
        self.known[key] = value
        self.implied.pop(key, None)
        return self

    def delete(self, *keys: str) -> None:
        for key in keys:
            self.known.pop(key, None)
            self.implied.pop(key, None)

    def clone(self) -> "_Comp":
        copy = _Comp.__new__(_Comp)
        copy.ref, copy.known, copy.implied, copy.tags = self.ref, dict(self.known), dict(self.implied), set(self.tags)
        return copy

    def set_date(self, d: datetime, known: bool = True) -> "_Comp":
        """chrono's assignSimilarDate / implySimilarDate."""
        put = self.assign if known else self.imply
        for key, value in (("day", d.day), ("month", d.month), ("year", d.year)):
            put(key, value)
        return self

    def set_time(self, d: datetime, known: bool = True) -> "_Comp":
        """chrono's assignSimilarTime / implySimilarTime (meridiem included)."""
        put = self.assign if known else self.imply
        for key, value in (("hour", d.hour), ("minute", d.minute), ("second", d.second),
                           ("millisecond", d.microsecond // 1000), ("meridiem", _AM if d.hour < 12 else _PM)):
            put(key, value)
        return self

    def only_date(self) -> bool:
        return not (self.certain("hour") or self.certain("minute") or self.certain("second"))

    def only_time(self) -> bool:
        return not any(self.certain(k) for k in ("weekday", "day", "month", "year"))

    def only_weekday(self) -> bool:
        return self.certain("weekday") and not self.certain("day") and not self.certain("month")

    def unknown_year(self) -> bool:
        return self.certain("month") and not self.certain("year")

    def _fields(self) -> tuple[int, ...]:
        return tuple(self.get(k) for k in ("year", "month", "day", "hour", "minute", "second", "millisecond"))

    def to_wall(self) -> datetime:
        """The date these components name (fields overflow like JavaScript's Date setters)."""
        return _js_date(*self._fields())

    def valid(self) -> bool:
        """chrono's ``isValidDate``: no field overflowed into the next one."""
        year, month, day, hour, minute = self._fields()[:5]
        try:
            d = self.to_wall()
        except (OverflowError, ValueError, TypeError):
            return False
        return (d.year, d.month, d.day, d.hour, d.minute) == (year, month, day, hour, minute)

    def add_duration_as_implied(self, duration: dict[str, float]) -> "_Comp":
        date = _add_duration(self.to_wall(), dict(duration))
        if any(k in duration for k in ("day", "week", "month", "year")):
            self.delete("day", "weekday", "month", "year")
            self.set_date(date, known=False)
            self.imply("weekday", _js_weekday(date))
        if any(k in duration for k in ("second", "minute", "hour")):
            self.delete("second", "minute", "hour")
            self.imply("second", date.second).imply("minute", date.minute).imply("hour", date.hour)
        return self


@dataclass
class _Result:
    index: int
    text: str
    start: _Comp
    end: _Comp | None = None

    def clone(self) -> "_Result":
        return _Result(self.index, self.text, self.start.clone(), self.end.clone() if self.end else None)


def _relative(ref: datetime, duration: dict[str, float]) -> _Comp:
    """chrono's ``createRelativeFromReference``: the reference moved by ``duration``; a duration
    with a time unit fixes the time too, otherwise the time is only implied."""
    date = _add_duration(ref, duration)
    comp = _Comp(ref)
    comp.tags.add("result/relativeDate")
    if any(k in duration for k in ("hour", "minute", "second", "millisecond")):
        comp.set_time(date).set_date(date)
    else:
        comp.set_time(date, known=False)
        if "day" in duration or "week" in duration:
            comp.set_date(date)
            (comp.assign if "day" in duration else comp.imply)("weekday", _js_weekday(date))
        else:
            comp.imply("day", date.day)
            (comp.assign if "month" in duration else comp.imply)("month", date.month)
            (comp.assign if "month" in duration or "year" in duration else comp.imply)("year", date.year)
    return comp


# --- vocabulary (chrono's English dictionaries) ---

def _any_of(words: Sequence[str]) -> str:
    """chrono's ``matchAnyPattern``: longest first, dots escaped."""
    return "(?:" + "|".join(w.replace(".", r"\.") for w in sorted(words, key=len, reverse=True)) + ")"


_WEEKDAYS = {"sunday": 0, "sun": 0, "sun.": 0, "monday": 1, "mon": 1, "mon.": 1, "tuesday": 2, "tue": 2,
             "tue.": 2, "wednesday": 3, "wed": 3, "wed.": 3, "thursday": 4, "thurs": 4, "thurs.": 4,
             "thur": 4, "thur.": 4, "thu": 4, "thu.": 4, "friday": 5, "fri": 5, "fri.": 5, "saturday": 6,
             "sat": 6, "sat.": 6}
_FULL_MONTHS = {name: i for i, name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"), start=1)}
_MONTHS = {**_FULL_MONTHS, **{abbr: _FULL_MONTHS[full] for full in _FULL_MONTHS
                              for abbr in (full[:3], full[:3] + ".") if full != "may"},
           "sept": 9, "sept.": 9}
_NUMBER_WORDS = {w: i for i, w in enumerate(
    ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"), 1)}
_ORDINAL_WORDS = {w: i for i, w in enumerate(
    ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
     "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth",
     "nineteenth", "twentieth"), 1)}
for _tens, _base in (("twenty", 20), ("thirty", 30)):
    for _unit_word, _n in (("first", 1), ("second", 2), ("third", 3), ("fourth", 4), ("fifth", 5), ("sixth", 6),
                           ("seventh", 7), ("eighth", 8), ("ninth", 9)):
        if _base + _n <= 31:
            _ORDINAL_WORDS[f"{_tens} {_unit_word}"] = _ORDINAL_WORDS[f"{_tens}-{_unit_word}"] = _base + _n
_ORDINAL_WORDS["thirtieth"] = 30
_TIME_UNITS = {"s": "second", "sec": "second", "second": "second", "seconds": "second", "m": "minute",
               "min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute", "h": "hour",
               "hr": "hour", "hrs": "hour", "hour": "hour", "hours": "hour", "d": "day", "day": "day",
               "days": "day", "w": "week", "week": "week", "weeks": "week", "mo": "month", "mon": "month",
               "mos": "month", "month": "month", "months": "month", "qtr": "quarter", "quarter": "quarter",
               "quarters": "quarter", "y": "year", "yr": "year", "year": "year", "years": "year"}

_NUMBER = (r"(?:" + _any_of(list(_NUMBER_WORDS)) + r"|[0-9]+|[0-9]+\.[0-9]+|half(?:\s{0,2}an?)?"
           r"|an?\b(?:\s{0,2}few)?|few|several|the|a?\s{0,2}couple\s{0,2}(?:of)?)")
_ORDINAL = r"(?:" + _any_of(list(_ORDINAL_WORDS)) + r"|[0-9]{1,2}(?:st|nd|rd|th)?)"
_YEAR = (r"(?:[1-9][0-9]{0,3}\s{0,2}(?:be|ad|bc|bce|ce)|[1-9][0-9]{3}"
         r"|[0-9]{2}(?!\w|:\d|\s+(?:am|pm|o\s*clock|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)))")
_UNIT_WORD = _any_of(list(_TIME_UNITS))
_ONE_UNIT = _NUMBER + r"\s{0,3}" + _UNIT_WORD
# "2 days", "1 hour and 30 minutes", "about a week"
_TIME_UNITS_PATTERN = (r"(?:(?:about|around)\s{0,3})?" + _ONE_UNIT
                       + r"(?:\s{0,5},?(?:\s*and)?\s{0,5}" + _ONE_UNIT + r"){0,10}")
_FLAGS = re.IGNORECASE | re.ASCII  # JavaScript's \d \w \b are ASCII-only
_ONE_UNIT_RE = re.compile(f"({_NUMBER})\\s{{0,3}}({_UNIT_WORD})", _FLAGS)
_LETTERS_RE = re.compile(r"[a-zA-Z]+\Z")


def _parse_number(text: str) -> float:
    t = text.lower()
    if t in _NUMBER_WORDS:
        return _NUMBER_WORDS[t]
    if t in ("a", "an", "the"):
        return 1
    for word, value in (("few", 3), ("half", 0.5), ("couple", 2), ("several", 7)):
        if word in t:
            return value
    return float(t)


def _parse_ordinal(text: str) -> int:
    t = text.lower()
    return _ORDINAL_WORDS[t] if t in _ORDINAL_WORDS else int(re.sub(r"(?:st|nd|rd|th)\Z", "", t))


def _parse_year(text: str) -> int:
    t = text.lower()
    digits = int(re.match(r"[0-9]+", t).group())
    if "be" in t:
        return digits - 543
    if re.search("bce?", t):
        return -digits
    if "ad" in t or "ce" in t:
        return digits
    return digits + (1900 if 50 < digits < 100 else 2000 if digits < 100 else 0)


def _parse_duration(text: str) -> dict[str, float] | None:
    """'2 days 3 hours' -> {'day': 2, 'hour': 3} (chrono's ``parseDuration``)."""
    fragments: dict[str, float] = {}
    remaining = text
    m = _ONE_UNIT_RE.search(remaining)
    while m:
        if not _LETTERS_RE.match(m[0]):  # "am" is not "a minute"
            fragments[_TIME_UNITS[m[2].lower()]] = _parse_number(m[1])
        remaining = remaining[len(m[0]):].strip()  # chrono cuts from the front, like this
        m = _ONE_UNIT_RE.search(remaining)
    return fragments or None


def _reverse(duration: dict[str, float]) -> dict[str, float]:
    return {k: -v for k, v in duration.items()}


def _closest_year(ref: datetime, day: int, month: int) -> int:
    """chrono's ``findYearClosestToRef``: 'jan 5' is the Jan 5 nearest to the reference."""
    date = _js_date(ref.year, month, ref.day, ref.hour, ref.minute, ref.second, ref.microsecond // 1000)
    date = _js_date(date.year, date.month, day, date.hour, date.minute, date.second, date.microsecond // 1000)
    later, earlier = _add_duration(date, {"year": 1}), _add_duration(date, {"year": -1})
    if abs(later - ref) < abs(date - ref):
        return later.year
    if abs(earlier - ref) < abs(date - ref):
        return earlier.year
    return date.year


def _days_to_weekday(ref: datetime, weekday: int, modifier: str | None) -> int:
    """chrono's weekday arithmetic: 'this' counts forward (today included), 'last' strictly
    backward, 'next' skips to the following week, plain 'friday' is the nearest one."""
    today = _js_weekday(ref)
    forward = (weekday - today) % 7
    backward = forward - 7
    if modifier == "this":
        return forward
    if modifier == "last":
        return backward
    if modifier == "next":
        if today == 0:
            return 7 if weekday == 0 else weekday
        if today == 6:
            return {6: 7, 0: 8}.get(weekday, 1 + weekday)
        return forward if weekday < today and weekday != 0 else forward + 7
    return forward if forward < -backward else backward


def _at_weekday(ref: datetime, weekday: int, modifier: str | None) -> _Comp:
    comp = _Comp(ref).add_duration_as_implied({"day": _days_to_weekday(ref, weekday, modifier)})
    return comp.assign("weekday", weekday)


# --- parsers: each a regex plus a small extract function, in chrono's order ---


class _Hit:
    """A regex match on the remaining text, positions made absolute (chrono's ``match.index``)."""

    __slots__ = ("m", "offset", "text")

    def __init__(self, m: re.Match, offset: int, text: str):
        self.m, self.offset, self.text = m, offset, text

    def __getitem__(self, group: str | int) -> str | None:
        return self.m.group(group)

    @property
    def start(self) -> int:
        return self.m.start() + self.offset

    @property
    def end(self) -> int:
        return self.m.end() + self.offset


# An extract function gets the hit, the reference and (index, text) with the word-boundary
# prefix removed.  It returns components, a result, None (no date here), or an int: "no date,
# and carry on searching after this position" (chrono moves ``match.index`` that way).
_Extract = Callable[[_Hit, datetime, int, str], "_Comp | _Result | int | None"]


@dataclass(frozen=True)
class _Parser:
    name: str
    regex: re.Pattern
    extract: _Extract
    word_boundary: bool = True  # pattern is (\W|^) + inner, the prefix is not part of the result


def _parser(name: str, inner: str, word_boundary: bool = True) -> Callable[[_Extract], _Parser]:
    pattern = (r"(?P<_lead>\W|^)" + inner) if word_boundary else inner
    return lambda extract: _Parser(name, re.compile(pattern, _FLAGS), extract, word_boundary)


@_parser("year-month-day", r"(?P<y>[0-9]{4})[-./\s](?:(?P<mn>" + _any_of(list(_MONTHS))
         + r")|(?P<mo>[0-9]{1,2}))[-./\s](?P<d>[0-9]{1,2})(?=\W|$)")
def _p_year_month_day(hit, ref, index, text):
    """'2024/01/15', '2024.01.15', '2024 jan 15' (a month above 12 swaps with the day)."""
    day = int(hit["d"])
    month = int(hit["mo"]) if hit["mo"] else _MONTHS[hit["mn"].lower()]
    if (month < 1 or month > 12) and 1 <= day <= 12:
        month, day = day, month
    if not 1 <= day <= 31:
        return None
    return _Comp(ref, {"day": day, "month": month, "year": int(hit["y"])})


@_parser("iso", r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{1,2})-(?P<d>[0-9]{1,2})(?:t(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{1,2})"
         r"(?::(?P<s>[0-9]{1,2})(?:\.(?P<ms>\d{1,4}))?)?(?:z|[+-]\d{2}:?(?:\d{2})?)?)?(?=\W|$)")
def _p_iso(hit, ref, index, text):
    """'2024-01-15', '2024-01-15t10:30:00.250z' (Cube ignores the offset: the hour is local)."""
    comp = _Comp(ref, {"year": int(hit["y"]), "month": int(hit["mo"]), "day": int(hit["d"])})
    if hit["h"] is not None:
        comp.assign("hour", int(hit["h"])).assign("minute", int(hit["mi"]))
        if hit["s"] is not None:
            comp.assign("second", int(hit["s"]))
        if hit["ms"] is not None:
            comp.assign("millisecond", int(hit["ms"]))
    return comp


@_parser("slash-date", r"(?P<open>[^\d]|^)(?P<a>[0-3]?[0-9])[/.\-](?P<b>[0-3]?[0-9])"
         r"(?:[/.\-](?P<y>[0-9]{4}|[0-9]{2}))?(?P<close>\W|$)", word_boundary=False)
def _p_slash_date(hit, ref, index, text):
    """US order 'm/d/yyyy', '1/15' (year nearest the reference); '15/1/2024' swaps."""
    full = hit.text
    begin = hit.start + len(hit["open"])
    finish = hit.end - len(hit["close"])
    if begin > 0 and re.search(r"\d/?\Z", full[:begin]):
        return None
    if finish < len(full) and re.match(r"/?\d", full[finish:]):
        return None
    found = full[begin:finish]
    if re.fullmatch(r"\d\.\d", found) or re.fullmatch(r"\d\.\d{1,2}\.\d{1,2}\s*", found):
        return None
    if not hit["y"] and "/" not in found:
        return None
    month, day = int(hit["a"]), int(hit["b"])
    if month > 12:
        if 1 <= day <= 12 and month <= 31:
            month, day = day, month
        else:
            return None
    if not 1 <= day <= 31:
        return None
    comp = _Comp(ref, {"day": day, "month": month})
    if hit["y"]:
        raw = int(hit["y"])
        comp.assign("year", raw + (1900 if 50 < raw < 100 else 2000 if raw < 100 else 0))
    else:
        comp.imply("year", _closest_year(ref, day, month))
    return _Result(begin, found, comp)


@_parser("within", r"(?:within|in|for)\s*(?:(?:about|around|roughly|approximately|just)\s*(?:~\s*)?)?"
         r"(?P<u>" + _TIME_UNITS_PATTERN + r")(?=\W|$)")
def _p_within(hit, ref, index, text):
    """'in 3 days', 'within 2 hours'."""
    if re.match(r"for\s*the\s*\w+", text, _FLAGS):
        return None
    duration = _parse_duration(hit["u"])
    return _relative(ref, duration) if duration else None


@_parser("day-month", r"(?:on\s{0,3})?(?P<d>" + _ORDINAL + r")(?:\s{0,3}(?:to|-|–|until|through|till)\s{0,3}(?P<d2>"
         + _ORDINAL + r"))?(?:-|/|\s{0,3}(?:of)?\s{0,3})(?P<mn>" + _any_of(list(_MONTHS))
         + r")(?:(?:-|/|,?\s{0,3})(?P<y>" + _YEAR + r"(?!\w)))?(?=\W|$)")
def _p_day_month(hit, ref, index, text):
    """'5 january 2024', '5th of jan', '5-10 jan' (a range)."""
    month, day = _MONTHS[hit["mn"].lower()], _parse_ordinal(hit["d"])
    if day > 31:
        return index + len(hit["d"])
    comp = _Comp(ref, {"month": month, "day": day})
    if hit["y"]:
        comp.assign("year", _parse_year(hit["y"]))
    else:
        comp.imply("year", _closest_year(ref, day, month))
    result = _Result(index, text, comp)
    if hit["d2"]:
        result.end = comp.clone().assign("day", _parse_ordinal(hit["d2"]))
    return result


@_parser("month-day", r"(?P<mn>" + _any_of(list(_MONTHS)) + r")(?:-|/|\s*,?\s*)(?P<d>" + _ORDINAL
         + r")(?!\s*(?:am|pm))\s*(?:(?:to|-)\s*(?P<d2>" + _ORDINAL + r")\s*)?(?:(?:-|/|\s*,\s*|\s+)(?P<y>"
         + _YEAR + r"))?(?=\W|$)(?!:\d)")
def _p_month_day(hit, ref, index, text):
    """'jan 5 2024', 'January 5, 2024', 'jan 5' (year nearest the reference)."""
    month, day = _MONTHS[hit["mn"].lower()], _parse_ordinal(hit["d"])
    if day > 31:
        return None
    comp = _Comp(ref, {"day": day, "month": month})
    if hit["y"]:
        comp.assign("year", _parse_year(hit["y"]))
    else:
        comp.imply("year", _closest_year(ref, day, month))
    if not hit["d2"]:
        return comp
    return _Result(index, text, comp, comp.clone().assign("day", _parse_ordinal(hit["d2"])))


@_parser("weekday", r"(?:(?:,|\(|（)\s*)?(?:on\s*?)?(?:(?P<pre>this|last|past|next)\s*)?(?P<wd>"
         + _any_of(list(_WEEKDAYS)) + r"|weekend|weekday)(?:\s*(?:,|\)|）))?(?:\s*(?:of\s*)?"
         r"(?P<post>this|last|past|next)\s*week)?(?=\W|$)")
def _p_weekday(hit, ref, index, text):
    """'friday' (nearest), 'this friday' (this or coming), 'last friday', 'next friday'."""
    word = (hit["pre"] or hit["post"] or "").lower()
    modifier = {"last": "last", "past": "last", "next": "next", "this": "this"}.get(word)
    name = hit["wd"].lower()
    if name in _WEEKDAYS:
        weekday = _WEEKDAYS[name]
    elif name == "weekend":
        weekday = 0 if modifier == "last" else 6
    else:  # "weekday": the working day before/after today
        today = _js_weekday(ref)
        if today in (0, 6):
            weekday = 5 if modifier == "last" else 1
        else:
            weekday = ((today - 1) + (-1 if modifier == "last" else 1)) % 5 + 1
    return _at_weekday(ref, weekday, modifier)


@_parser("month/year", r"(?P<mo>[0-9]|0[1-9]|1[012])/(?P<y>[0-9]{4})")
def _p_month_slash_year(hit, ref, index, text):
    """'1/2024': the first of that month."""
    return _Comp(ref).imply("day", 1).assign("month", int(hit["mo"])).assign("year", int(hit["y"]))


_TIME_PRIMARY = (r"(?P<_lead>^|\s|t|\b)(?:(?:at|from)\s*)??(?P<h>\d{1,4})(?:(?:\.|:|：)(?P<mi>\d{1,2})"
                 r"(?:(?::|：)(?P<s>\d{2})(?:\.(?P<ms>\d{1,6}))?)?)?(?:\s*(?P<ap>a\.m\.|p\.m\.|am?|pm?))?"
                 r"(?:\s*(?:o\W*clock|at\s*night|in\s*the\s*(?:morning|afternoon)))?(?!/)(?=\W|$)")
_TIME_FOLLOWING_RE = re.compile(
    r"(?P<ph>\s*(?:-|–|~|〜|to|until|through|till|\?)\s*)(?P<h>\d{1,4})(?:(?:\.|:|：)(?P<mi>\d{1,2})"
    r"(?:(?:\.|:|：)(?P<s>\d{1,2})(?:\.(?P<ms>\d{1,6}))?)?)?(?:\s*(?P<ap>a\.m\.|p\.m\.|am?|pm?))?(?!/)(?=\W|$)",
    _FLAGS)


def _primary_time(hit, ref) -> _Comp | None:
    comp = _Comp(ref)
    minute, meridiem, hour = 0, None, int(hit["h"])
    if hour > 100:
        if len(hit["h"]) == 4 and hit["mi"] is None and not hit["ap"]:
            return None  # a year, not 20:24
        if hit["mi"] is not None:
            return None
        hour, minute = divmod(hour, 100)
    if hour > 24:
        return None
    if hit["mi"] is not None:
        if len(hit["mi"]) == 1 and not hit["ap"]:
            return None
        minute = int(hit["mi"])
    if minute >= 60:
        return None
    if hour > 12:
        meridiem = _PM
    if hit["ap"] is not None:
        if hour > 12:
            return None
        if hit["ap"][0].lower() == "a":
            meridiem, hour = _AM, 0 if hour == 12 else hour
        else:
            meridiem, hour = _PM, hour if hour == 12 else hour + 12
    comp.assign("hour", hour).assign("minute", minute)
    if meridiem is not None:
        comp.assign("meridiem", meridiem)
    else:
        comp.imply("meridiem", _AM if hour < 12 else _PM)
    if hit["ms"] is not None:
        comp.assign("millisecond", int(hit["ms"][:3]))
    if hit["s"] is not None:
        if int(hit["s"]) >= 60:
            return None
        comp.assign("second", int(hit["s"]))
    whole = hit[0]
    if whole.endswith("night"):
        if 6 <= hour < 12:
            comp.assign("hour", hour + 12).assign("meridiem", _PM)
        elif hour < 6:
            comp.assign("meridiem", _AM)
    if whole.endswith("afternoon"):
        comp.assign("meridiem", _PM)
        if 0 <= hour <= 6:
            comp.assign("hour", hour + 12)
    if whole.endswith("morning"):
        comp.assign("meridiem", _AM)
    return comp


def _following_time(m: re.Match, ref: datetime, result: _Result) -> _Comp | None:
    """The end of '10am - 2pm'."""
    comp = _Comp(ref)
    if m["ms"] is not None:
        comp.assign("millisecond", int(m["ms"][:3]))
    if m["s"] is not None:
        if int(m["s"]) >= 60:
            return None
        comp.assign("second", int(m["s"]))
    hour, minute, meridiem = int(m["h"]), 0, None
    if m["mi"] is not None:
        minute = int(m["mi"])
    elif hour > 100:
        hour, minute = divmod(hour, 100)
    if minute >= 60 or hour > 24:
        return None
    if hour >= 12:
        meridiem = _PM
    start = result.start
    if m["ap"] is not None:
        if hour > 12:
            return None
        if m["ap"][0].lower() == "a":
            meridiem = _AM
            if hour == 12:
                hour = 0
                if not comp.certain("day"):
                    comp.imply("day", comp.get("day") + 1)
        else:
            meridiem = _PM
            if hour != 12:
                hour += 12
        if not start.certain("meridiem"):
            if meridiem == _AM:
                start.imply("meridiem", _AM)
                if start.get("hour") == 12:
                    start.assign("hour", 0)
            else:
                start.imply("meridiem", _PM)
                if start.get("hour") != 12:
                    start.assign("hour", start.get("hour") + 12)
    comp.assign("hour", hour).assign("minute", minute)
    if meridiem is not None:
        comp.assign("meridiem", meridiem)
    elif start.certain("meridiem") and start.get("hour") > 12:
        if start.get("hour") - 12 > hour:
            comp.imply("meridiem", _AM)
        elif hour <= 12:
            comp.assign("hour", hour + 12).assign("meridiem", _PM)
    else:
        comp.imply("meridiem", _PM if hour > 12 else _AM)
    if comp.to_wall() < start.to_wall():
        comp.imply("day", comp.get("day") + 1)
    return comp


def _ending_numbers_ok(numbers: str) -> bool:
    if "." in numbers and not re.search(r"\d(\.\d{2})+\Z", numbers):
        return False
    return int(re.match(r"\d+", numbers).group()) <= 24


@_parser("time", _TIME_PRIMARY, word_boundary=False)
def _p_time(hit, ref, index, text):
    """'10:30', '5pm', 'at 10', '10am - 2pm' (bare numbers and years are rejected)."""
    comp = _primary_time(hit, ref)
    if comp is None:
        return hit.start + (4 if re.match(r"\d{4}", hit[0]) else len(hit[0]))
    lead = len(hit["_lead"])
    result = _Result(hit.start + lead, hit[0][lead:], comp)
    after = hit.end
    following = _TIME_FOLLOWING_RE.match(hit.text, after)
    found = following[0] if following else ""
    if re.match(r"\d{3,4}", result.text) and following:
        if re.fullmatch(r"\s*[+-]\s*\d{2,4}", found) or re.match(r"\s*[+-]\s*\d{2}\W\d{2}", found):
            return after  # an offset like '1230 +0100', not a range
    if not following or re.fullmatch(r"\s*[+-]\s*\d{3,4}", found):
        t = result.text
        if re.fullmatch(r"\d", t) or re.fullmatch(r"\d\d\d+", t) or re.search(r"\d[apAP]\Z", t):
            return after
        ending = re.search(r"[^\d:.](\d[\d.]+)\Z", t)
        if ending and not _ending_numbers_ok(ending[1]):
            return after
        return result
    result.end = _following_time(following, ref, result)
    if result.end is not None:
        result.text += found
    if re.fullmatch(r"\d+-\d+", result.text):
        return after
    ending = re.search(r"[^\d:.](\d[\d.]+)\s*-\s*(\d[\d.]+)\Z", result.text)
    if ending and not (_ending_numbers_ok(ending[2]) and int(re.match(r"\d+", ending[1]).group()) <= 24):
        return after
    return result


@_parser("ago", r"(?P<u>" + _TIME_UNITS_PATTERN + r")\s{0,5}(?:ago|before|earlier)(?=\W|$)")
def _p_ago(hit, ref, index, text):
    """'3 days ago', '2 hours earlier'."""
    duration = _parse_duration(hit["u"])
    return _relative(ref, _reverse(duration)) if duration else None


@_parser("later", r"(?P<u>" + _TIME_UNITS_PATTERN + r")\s{0,5}(?:later|after|from now|henceforth|forward|out)(?=\W|$)")
def _p_later(hit, ref, index, text):
    """'3 days from now', '2 weeks later'."""
    duration = _parse_duration(hit["u"])
    return _relative(ref, duration) if duration else None


@_parser("year-month", r"(?P<y>[1-9][0-9]{0,3}\s{0,2}(?:be|ad|bc|bce|ce)|[1-9][0-9]{3})(?:\s*[-./,]?\s*|\s+of\s+)"
         r"(?P<mn>" + _any_of(list(_MONTHS)) + r")(?=[^\s\w]|\s+[^0-9]|\s+$|$)")
def _p_year_month(hit, ref, index, text):
    """'2024 january': the first of that month."""
    comp = _Comp(ref).imply("day", 1).assign("month", _MONTHS[hit["mn"].lower()])
    return comp.assign("year", _parse_year(hit["y"]))


@_parser("casual-date", r"(?P<w>now|today|tonight|tomorrow|overmorrow|tmr|tmrw|yesterday|last\s*night)(?=\W|$)")
def _p_casual_date(hit, ref, index, text):
    """'now', 'tonight', 'tmr', 'last night' (today/yesterday/tomorrow never get this far)."""
    word = hit["w"].lower()
    comp = _Comp(ref)
    if word == "now":
        comp.set_date(ref).set_time(ref)
    elif word == "tonight":
        comp.set_date(ref)
        comp.imply("hour", 22).imply("meridiem", _PM)
    elif word.startswith("last"):
        comp.set_date(ref - timedelta(days=1) if ref.hour > 6 else ref)
        comp.imply("hour", 0)
    else:
        shift = {"today": 0, "yesterday": -1, "overmorrow": 2}.get(word, 1)
        day = ref + timedelta(days=shift)
        comp.set_date(day).set_time(day, known=False)
        comp.delete("meridiem")
    comp.tags.add(f"casualReference/{word}")
    return comp


@_parser("casual-time", r"(?:this)?\s{0,3}(?P<w>morning|afternoon|evening|night|midnight|midday|noon)(?=\W|$)")
def _p_casual_time(hit, ref, index, text):
    """'this morning' (06:00), 'afternoon' (15:00), 'evening' (20:00), 'noon', 'midnight' (next)."""
    word = hit["w"].lower()
    comp = _Comp(ref)
    if word == "midnight":
        if ref.hour > 2:
            comp.add_duration_as_implied({"day": 1})
        comp.assign("hour", 0)
    elif word in ("noon", "midday"):
        comp.imply("meridiem", _AM).assign("hour", 12)
    else:
        hour = {"morning": 6, "afternoon": 15}.get(word, 20)
        comp.imply("meridiem", _AM if hour < 12 else _PM).imply("hour", hour)
    comp.tags.add(f"casualReference/{word}")
    return comp


@_parser("month", r"(?P<pre>in\s*)?(?P<mn>" + _any_of(list(_MONTHS)) + r")\s*(?:(?:,|-|of)?\s*(?P<y>" + _YEAR
         + r"))?(?=[^\s\w]|\s+[^0-9]|\s+$|$)")
def _p_month(hit, ref, index, text):
    """'january 2024', 'in may': the FIRST of that month, not the month (chrono gives no range)."""
    name = hit["mn"].lower()
    if len(text) <= 3 and name not in _FULL_MONTHS:
        return None
    month = _MONTHS[name]
    comp = _Comp(ref).imply("day", 1).assign("month", month)
    if hit["y"]:
        comp.assign("year", _parse_year(hit["y"]))
    else:
        comp.imply("year", _closest_year(ref, 1, month))
    begin = index + len(hit["pre"] or "")
    return _Result(begin, hit.text[begin:index + len(text)], comp)


@_parser("relative-unit", r"(?P<mod>this|last|past|next|after\s*this)\s*(?P<u>" + _UNIT_WORD + r")(?=\W|$)")
def _p_relative_unit(hit, ref, index, text):
    """'past week' (7 days ago), 'next mo' (a month from now), 'this yr' (Jan 1)."""
    modifier, word = hit["mod"].lower(), hit["u"].lower()
    unit = _TIME_UNITS[word]
    if modifier == "next" or modifier.startswith("after"):
        return _relative(ref, {unit: 1})
    if modifier in ("last", "past"):
        return _relative(ref, {unit: -1})
    comp = _Comp(ref)
    if "week" in word:
        comp.set_date(ref - timedelta(days=_js_weekday(ref)), known=False)  # chrono's weeks start Sunday
    elif "month" in word:
        comp.imply("day", 1).assign("year", ref.year).assign("month", ref.month)
    elif "year" in word:
        comp.imply("day", 1).imply("month", 1).assign("year", ref.year)
    return comp


@_parser("relative-units", r"(?P<p>this|last|past|next|after|\+|-)\s*(?P<u>" + _TIME_UNITS_PATTERN + r")(?=\W|$)")
def _p_relative_units(hit, ref, index, text):
    """'past 3 days' / 'last two weeks' / '+2 days': ONE point in time, not a range."""
    duration = _parse_duration(hit["u"])
    if not duration:
        return None
    return _relative(ref, _reverse(duration) if hit["p"].lower() in ("last", "past", "-") else duration)


_PARSERS: tuple[_Parser, ...] = (
    _p_year_month_day, _p_iso, _p_slash_date, _p_within, _p_day_month, _p_month_day, _p_weekday,
    _p_month_slash_year, _p_time, _p_ago, _p_later, _p_year_month, _p_casual_date, _p_casual_time, _p_month,
    _p_relative_unit, _p_relative_units,
)


def _run_parser(parser: _Parser, text: str, ref: datetime) -> list[_Result]:
    """chrono's ``executeParser``: search, extract, continue after the result (or one character
    after a rejected match; like chrono, each search runs on the rest of the text, so ``^``
    matches where the previous result ended)."""
    results: list[_Result] = []
    position = 0
    m = parser.regex.search(text)
    while m:
        hit = _Hit(m, position, text)
        index, found = hit.start, hit[0]
        if parser.word_boundary:
            lead = len(hit["_lead"])
            index, found = index + lead, found[lead:]
        outcome = parser.extract(hit, ref, index, found)
        if outcome is None or isinstance(outcome, int):
            position = (index if outcome is None else outcome) + 1
        else:
            result = outcome if isinstance(outcome, _Result) else _Result(index, found, outcome)
            results.append(result)
            position = result.index + len(result.text)
        if position > len(text):
            break
        m = parser.regex.search(text[position:])
    return results


# --- refiners ---


def _js_between(text: str, left: _Result, right: _Result) -> str:
    """``text.substring(a, b)`` swaps reversed bounds."""
    a, b = left.index + len(left.text), right.index
    return text[min(a, b):max(a, b)]


def _merge_adjacent(text: str, results: list[_Result],
                    should: Callable[[str, _Result, _Result], bool],
                    merge: Callable[[str, _Result, _Result], _Result]) -> list[_Result]:
    """chrono's MergingRefiner: fold each result into the previous one when ``should`` says so."""
    if len(results) < 2:
        return results
    merged, current = [], results[0]
    for following in results[1:]:
        between = _js_between(text, current, following)
        if should(between, current, following):
            current = merge(between, current, following)
        else:
            merged.append(current)
            current = following
    merged.append(current)
    return merged


def _remove_overlaps(text: str, results: list[_Result]) -> list[_Result]:
    """Of two overlapping results keep the longer one (the earlier one on a tie)."""
    if len(results) < 2:
        return results
    kept, previous = [], results[0]
    for result in results[1:]:
        if result.index >= previous.index + len(previous.text):
            kept.append(previous)
            previous = result
        elif len(result.text) > len(previous.text):
            previous = result
    kept.append(previous)
    return kept


def _merge_relative_after_date(text: str, results: list[_Result]) -> list[_Result]:
    """'2024-01-01 +2 days' -> two days after that date."""
    def should(between, cur, nxt):
        return re.fullmatch(r"\s*", between) is not None and nxt.text[:1] in ("+", "-")

    def merge(between, cur, nxt):
        duration = _parse_duration(nxt.text) or {}
        if nxt.text.startswith("-"):
            duration = _reverse(duration)
        return _Result(cur.index, cur.text + between + nxt.text, _relative(cur.start.to_wall(), duration))

    return _merge_adjacent(text, results, should, merge)


def _merge_relative_follow_by_date(text: str, results: list[_Result]) -> list[_Result]:
    """'2 days before 2024-01-01', '3 weeks after jan 5 2024'."""
    def should(between, cur, nxt):
        if re.fullmatch(r"\s*", between) is None:
            return False
        if not re.search(r"\s+(before|from|after|since)\Z", cur.text, _FLAGS):
            return False
        return bool(nxt.start.get("day") and nxt.start.get("month") and nxt.start.get("year"))

    def merge(between, cur, nxt):
        duration = _parse_duration(cur.text) or {}
        if re.search(r"\s+(before|from)\Z", cur.text, _FLAGS):
            duration = _reverse(duration)
        return _Result(cur.index, cur.text + between + nxt.text, _relative(nxt.start.to_wall(), duration))

    return _merge_adjacent(text, results, should, merge)


def _merge_weekday(text: str, results: list[_Result]) -> list[_Result]:
    """'friday, jan 5 2024' is the date, not the nearest friday."""
    def should(between, cur, nxt):
        return (cur.start.only_weekday() and not cur.start.certain("hour") and nxt.start.certain("day")
                and re.fullmatch(r",?\s*", between) is not None)

    def merge(between, cur, nxt):
        result = nxt.clone()
        result.index, result.text = cur.index, cur.text + between + result.text
        for comp in (result.start, result.end):
            if comp is not None:
                comp.assign("weekday", cur.start.get("weekday"))
        return result

    return _merge_adjacent(text, results, should, merge)


def _merge_date_time_components(date: _Comp, time: _Comp) -> _Comp:
    merged = date.clone()
    if time.certain("hour"):
        merged.assign("hour", time.get("hour")).assign("minute", time.get("minute"))
        if time.certain("second"):
            merged.assign("second", time.get("second"))
            (merged.assign if time.certain("millisecond") else merged.imply)("millisecond", time.get("millisecond"))
        else:
            merged.imply("second", time.get("second")).imply("millisecond", time.get("millisecond"))
    else:
        for key in ("hour", "minute", "second", "millisecond"):
            merged.imply(key, time.get(key))
    meaningful = date.get("meridiem") is not None and (
        date.certain("meridiem") or any(t.startswith("casualReference/") for t in date.tags))
    if time.certain("meridiem"):
        merged.assign("meridiem", time.get("meridiem"))
    elif time.get("meridiem") is not None and not meaningful:
        merged.imply("meridiem", time.get("meridiem"))
    if merged.get("meridiem") == _PM and merged.get("hour") < 12:
        (merged.assign if time.certain("hour") else merged.imply)("hour", merged.get("hour") + 12)
    merged.tags |= date.tags | time.tags
    return merged


def _merge_date_time(text: str, results: list[_Result]) -> list[_Result]:
    """'2024-01-15 10:30', 'jan 5 at 3pm': a date next to a time becomes one result."""
    def should(between, cur, nxt):
        pair = (cur.start.only_date() and nxt.start.only_time()) or (nxt.start.only_date() and cur.start.only_time())
        return pair and re.fullmatch(r"\s*(T|at|after|before|on|of|,|-|\.|∙|:)?\s*", between) is not None

    def merge(between, cur, nxt):
        date_r, time_r = (cur, nxt) if cur.start.only_date() else (nxt, cur)
        result = date_r.clone()
        result.start = _merge_date_time_components(date_r.start, time_r.start)
        if date_r.end is not None or time_r.end is not None:
            end = _merge_date_time_components(date_r.end or date_r.start, time_r.end or time_r.start)
            if date_r.end is None and end.to_wall() < result.start.to_wall():
                end.set_date(end.to_wall() + timedelta(days=1), known=end.certain("day"))
            result.end = end
        result.index, result.text = cur.index, cur.text + between + nxt.text
        return result

    return _merge_adjacent(text, results, should, merge)


def _drop_unlikely(text: str, results: list[_Result]) -> list[_Result]:
    """Bare numbers and impossible dates ('2024-02-30', '25:00') are not dates."""
    return [r for r in results
            if not re.fullmatch(r"\d*(\.\d*)?", r.text.replace(" ", "", 1))
            and r.start.valid() and (r.end is None or r.end.valid())]


_YEAR_SUFFIX_RE = re.compile(r"\s*(" + _YEAR + ")", _FLAGS)


def _extract_year_suffix(text: str, results: list[_Result]) -> list[_Result]:
    """'5-10 jan 2024': a year right after a date without one."""
    for result in results:
        if not result.start.unknown_year():
            continue
        m = _YEAR_SUFFIX_RE.match(text, result.index + len(result.text))
        if m is None or len(m[0].strip()) <= 3:
            continue
        year = _parse_year(m[1])
        for comp in (result.start, result.end):
            if comp is not None:
                comp.assign("year", year)
        result.text += m[0]
    return results


def _merge_date_range(text: str, results: list[_Result]) -> list[_Result]:
    """'2024-01-01 to 2024-01-31', 'jan 5 - jan 9': one result with a start and an end."""
    def should(between, cur, nxt):
        return (cur.end is None and nxt.end is None
                and re.fullmatch(r"\s*(to|-|–|until|through|till)\s*", between, _FLAGS) is not None)

    def merge(between, first, second):
        a, b = first.start, second.start
        if not a.only_weekday() and not b.only_weekday():
            for key in list(b.known):
                if not a.certain(key):
                    a.imply(key, b.get(key))
            for key in list(a.known):
                if not b.certain(key):
                    b.imply(key, a.get(key))
        if a.to_wall() > b.to_wall():
            a_date, b_date = a.to_wall(), b.to_wall()
            if b.only_weekday() and b_date + timedelta(days=7) > a_date:
                b.set_date(b_date + timedelta(days=7), known=False)
            elif a.only_weekday() and a_date - timedelta(days=7) < b_date:
                a.set_date(a_date - timedelta(days=7), known=False)
            elif b.unknown_year() and _add_duration(b_date, {"year": 1}) > a_date:
                b.imply("year", _add_duration(b_date, {"year": 1}).year)
            elif a.unknown_year() and _add_duration(a_date, {"year": -1}) < b_date:
                a.imply("year", _add_duration(a_date, {"year": -1}).year)
            else:
                first, second = second, first
        result = first.clone()
        result.start, result.end = first.start, second.start
        result.index = min(first.index, second.index)
        if first.index < second.index:
            result.text = first.text + between + second.text
        else:
            result.text = second.text + between + first.text
        return result

    return _merge_adjacent(text, results, should, merge)


def _drop_unlikely_english(text: str, results: list[_Result]) -> list[_Result]:
    """'may' alone is a verb unless it is the whole text or follows 'in'."""
    def likely(result: _Result) -> bool:
        found = result.text.strip()
        if found == text.strip():
            return True
        if found.lower() == "may" and not re.search(r"\b(in)\Z", text[:result.index].strip(), _FLAGS):
            return False
        return not found.lower().endswith("the second")

    return [r for r in results if likely(r)]


# chrono's casual English refiners, in order (the time-zone suffix refiners are left out: Cube
# ignores offsets, and the forward-date refiner is off in Cube's call).
_REFINERS = (
    _remove_overlaps, _merge_relative_after_date, _merge_relative_follow_by_date, _remove_overlaps,
    _merge_weekday, _merge_date_time, _remove_overlaps, _drop_unlikely, _merge_date_time,
    _extract_year_suffix, _merge_date_range, _drop_unlikely_english,
)


def _chrono_parse(text: str, ref: datetime) -> list[_Result]:
    """Every date chrono finds in ``text`` (reference: the naive local wall clock), first first."""
    results: list[_Result] = []
    for parser in _PARSERS:
        results.extend(_run_parser(parser, text, ref))
    results.sort(key=lambda r: r.index)  # stable, like chrono's: parser order breaks ties
    for refine in _REFINERS:
        results = refine(text, results)
    return results
