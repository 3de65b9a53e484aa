"""GitLab's argument rules for the Duo analytics fields: default windows, maximum ranges, the
retention window, and their error messages (worded as GitLab's resolvers word them).

All instants are naive UTC datetimes (GitLab's `Time.current` in a UTC instance). A `Date`
argument stands for midnight at the start of that day, as it does when GitLab hands it to a
timestamp comparison (`where(timestamp: from..to)`, ClickHouse `timestamp <= {to:Date}`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from graphql import GraphQLError

# Gitlab::Graphql::Authorize::AuthorizeResource::RESOURCE_ACCESS_ERROR
RESOURCE_ACCESS_ERROR = ("The resource that you are attempting to access does not exist or you "
                         "don't have permission to perform this action")
MAX_RANGE_MONTH = "maximum date range is 1 month"
MAX_RANGE_YEAR = "maximum date range is 1 year"
START_AFTER_END = "start date cannot be after end date"

_NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
            8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve"}


def _instant(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time())


def beginning_of_day(now: dt.datetime) -> dt.datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def end_of_day(now: dt.datetime) -> dt.datetime:
    return now.replace(hour=23, minute=59, second=59, microsecond=999999)


def beginning_of_month(now: dt.datetime) -> dt.datetime:
    return beginning_of_day(now).replace(day=1)


def end_of_month(now: dt.datetime) -> dt.datetime:
    return end_of_day(now.replace(day=1) + relativedelta(months=1, days=-1))


@dataclass(frozen=True)
class Window:
    """A resolved [start, end] window; `start`/`end` are instants (inclusive)."""
    start: dt.datetime
    end: dt.datetime

    @property
    def first_day(self) -> dt.date:
        return self.start.date()

    @property
    def last_day(self) -> dt.date:
        return self.end.date()


def usage_events_window(args: dict, now: dt.datetime, retention_months: int | None) -> Window:
    """`aiUsageData { all / codeSuggestionEvents }` (UsageEventsResolver): startDate defaults to
    7 days ago (beginning of day), endDate to the end of today; error unless
    `startDate > endDate - 1.month`. Then the retention window: with Postgres-only GitLab the
    events are kept `retention_months` (3) months, so a start before that is an error here
    rather than an answer silently missing its first weeks (None or 0: no retention, ClickHouse)."""
    start = _instant(args["startDate"]) if args.get("startDate") is not None else \
        beginning_of_day(now - dt.timedelta(days=7))
    end = _instant(args["endDate"]) if args.get("endDate") is not None else end_of_day(now)
    if not start > end - relativedelta(months=1):
        raise GraphQLError(MAX_RANGE_MONTH)
    if retention_months:
        earliest = beginning_of_day(now) - relativedelta(months=retention_months)
        if start < earliest:
            months = _NUMBERS.get(retention_months, str(retention_months))
            unit = "month" if retention_months == 1 else "months"
            raise GraphQLError(f"Data is retained for {months} {unit}: startDate must be on or "
                               f"after {earliest.date().isoformat()}")
    return Window(start, end)


def user_metrics_window(args: dict, now: dt.datetime) -> Window:
    """`aiUserMetrics` (UserMetricsResolver): the current month by default; error
    `maximum date range is 1 year` if `startDate < endDate - 1.year`. Applied to daily data."""
    start = _instant(args["startDate"]) if args.get("startDate") is not None else beginning_of_month(now)
    end = _instant(args["endDate"]) if args.get("endDate") is not None else end_of_month(now)
    if start < end - relativedelta(years=1):
        raise GraphQLError(MAX_RANGE_YEAR)
    return Window(start, end)


def metrics_window(args: dict, now: dt.datetime) -> Window:
    """`aiMetrics` (AiMetricsResolver): the current month by default; errors `start date cannot
    be after end date` and `maximum date range is 1 year`."""
    start = _instant(args["startDate"]) if args.get("startDate") is not None else beginning_of_month(now)
    end = _instant(args["endDate"]) if args.get("endDate") is not None else end_of_month(now)
    if start.date() > end.date():
        raise GraphQLError(START_AFTER_END)
    if start < end - relativedelta(years=1):
        raise GraphQLError(MAX_RANGE_YEAR)
    return Window(start, end)


def cube_instant(value: dt.datetime) -> str:
    """An instant as a Cube dateRange bound (exact, milliseconds)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
