"""CSV export of a group's AI metrics, one row per calendar month of the period (as GitLab's
"AI Metrics Exporter" offers; its exact columns are not public, these are aiMetrics' fields plus
the rates GitLab's dashboard computes from them).

Every number comes from the GraphQL API (`group { aiMetrics(startDate, endDate) }`), so the
export follows the same rules and permissions:

    python -m engine.web.duo.export ai-metrics --group gitlab-org --start 2025-01-01 --end 2025-06-30
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import sys

from dateutil.relativedelta import relativedelta

from engine.api import Engine
from engine.shipped import shipped
from engine.web.auth import Caller

from .execute import execute_graphql
from .resolvers import DuoSettings

QUERY = """
query aiMetricsExport($fullPath: ID!, $startDate: Date!, $endDate: Date!) {
  group(fullPath: $fullPath) {
    aiMetrics(startDate: $startDate, endDate: $endDate) {
      codeContributorsCount
      codeSuggestions {
        contributorsCount shownCount acceptedCount shownLinesOfCode acceptedLinesOfCode
      }
      duoChatContributorsCount
      duoAssignedUsersCount
      duoUsedCount
      rootCauseAnalysisUsersCount
      codeReview {
        requestReviewDuoCodeReviewOnMrByAuthorEventCount
        requestReviewDuoCodeReviewOnMrByNonAuthorEventCount
      }
    }
  }
}
"""

COLUMNS = [
    "group", "start_date", "end_date", "code_contributors_count",
    "code_suggestions_contributors_count", "code_suggestions_shown_count",
    "code_suggestions_accepted_count", "code_suggestions_acceptance_rate",
    "code_suggestions_usage_rate", "shown_lines_of_code", "accepted_lines_of_code",
    "duo_chat_contributors_count", "duo_chat_usage_rate", "duo_assigned_users_count",
    "duo_used_count", "root_cause_analysis_users_count", "root_cause_analysis_usage_rate",
    "duo_code_review_requests",
]


def rate(numerator, denominator) -> float | None:
    """The dashboard's calculateRate: a percentage, None unless both are positive integers."""
    if not isinstance(numerator, int) or not isinstance(denominator, int):
        return None
    if numerator < 0 or denominator <= 0:
        return None
    return round(numerator / denominator * 100, 2)


def months(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    out = []
    cursor = start
    while cursor <= end:
        month_end = cursor.replace(day=1) + relativedelta(months=1, days=-1)
        out.append((cursor, min(month_end, end)))
        cursor = month_end + dt.timedelta(days=1)
    return out


def _date(value: str | dt.date, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}: invalid date {value!r} (expected YYYY-MM-DD)") from None


def ai_metrics_rows(engine: Engine, group: str, start: str | dt.date, end: str | dt.date, *,
                    caller: Caller | None = None, settings: DuoSettings | None = None) -> list[dict]:

    first, last = _date(start, "start"), _date(end, "end")
    if first > last:
        raise ValueError("start date cannot be after end date")
    rows = []
    for a, b in months(first, last):
        _status, body = execute_graphql(engine, {"query": QUERY, "variables": {
            "fullPath": group, "startDate": a.isoformat(), "endDate": b.isoformat()}},
            caller, settings=settings)
        if body.get("errors"):
            raise ValueError(body["errors"][0]["message"])
        if not body["data"]["group"]:
            raise ValueError(f"group not found: {group}")
        m = body["data"]["group"]["aiMetrics"]
        cs = m["codeSuggestions"]
        review = m["codeReview"]
        rows.append({
            "group": group, "start_date": a.isoformat(), "end_date": b.isoformat(),
            "code_contributors_count": m["codeContributorsCount"],
            "code_suggestions_contributors_count": cs["contributorsCount"],
            "code_suggestions_shown_count": cs["shownCount"],
            "code_suggestions_accepted_count": cs["acceptedCount"],
            "code_suggestions_acceptance_rate": rate(cs["acceptedCount"], cs["shownCount"]),
            "code_suggestions_usage_rate": rate(cs["contributorsCount"], m["codeContributorsCount"]),
            "shown_lines_of_code": cs["shownLinesOfCode"],
            "accepted_lines_of_code": cs["acceptedLinesOfCode"],
            "duo_chat_contributors_count": m["duoChatContributorsCount"],
            "duo_chat_usage_rate": rate(m["duoChatContributorsCount"], m["duoAssignedUsersCount"]),
            "duo_assigned_users_count": m["duoAssignedUsersCount"],
            "duo_used_count": m["duoUsedCount"],
            "root_cause_analysis_users_count": m["rootCauseAnalysisUsersCount"],
            "root_cause_analysis_usage_rate": rate(m["rootCauseAnalysisUsersCount"],
                                                   m["duoAssignedUsersCount"]),
            "duo_code_review_requests": review["requestReviewDuoCodeReviewOnMrByAuthorEventCount"]
            + review["requestReviewDuoCodeReviewOnMrByNonAuthorEventCount"],
        })
    return rows


def ai_metrics_csv(engine: Engine, group: str, start: str | dt.date, end: str | dt.date, *,
                   caller: Caller | None = None, settings: DuoSettings | None = None) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in ai_metrics_rows(engine, group, start, end, caller=caller, settings=settings):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `export ai-metrics` options (for engine/cli.py)."""
    parser.add_argument("--group", required=True, help="full path of the group, e.g. gitlab-org")
    parser.add_argument("--start", required=True, help="YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="YYYY-MM-DD")
    parser.add_argument("--out", default="-", help="CSV file (default: standard output)")


def run(engine: Engine, args: argparse.Namespace) -> int:
    try:
        text = ai_metrics_csv(engine, args.group, args.start, args.end)
    except ValueError as exc:
        print(f"duckcube: {exc}", file=sys.stderr)
        return 2
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            f.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m engine.web.duo.export ai-metrics ...` over the shipped models and Duo sample data."""
    parser = argparse.ArgumentParser(prog="python -m engine.web.duo.export")
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("ai-metrics", help="a group's aiMetrics per month, as CSV")
    add_arguments(p)
    p.add_argument("--models", default=str(shipped("cubes")))
    p.add_argument("--db", default=str(shipped("fixtures") / "data" / "duo"))
    p.add_argument("--now", default=None)
    args = parser.parse_args(argv)
    return run(Engine(models=args.models, database=args.db, now=args.now), args)


if __name__ == "__main__":
    sys.exit(main())
