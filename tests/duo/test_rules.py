"""GitLab's argument rules: default windows, maximum ranges, the retention window, and errors
worded as GitLab words them (GraphQL errors with the field's path, the field null)."""

from __future__ import annotations

import pytest

from duo_helpers import (
    GITLAB_ORG, data_of, db, engine_docs, engine_now, errors_of, example, gql, iso, scalar,
    sql)
from engine.web.duo import DuoSettings
from engine.web.duo.rules import RESOURCE_ACCESS_ERROR

ALL = """{ group(fullPath: "gitlab-org") { aiUsageData { all(%s) {
  nodes { event timestamp user { username } } pageInfo { hasNextPage } } } } }"""
USER_METRICS = """{ group(fullPath: "gitlab-org") { aiUserMetrics(%s) { nodes { user { username }
  totalEventCount } } } }"""
METRICS = """{ group(fullPath: "gitlab-org") { aiMetrics(%s) { duoUsedCount codeContributorsCount
  codeSuggestions { shownCount } } } }"""


def test_docs_examples_today_get_gitlabs_errors(engine_now):
    """On 2026-11-23 GitLab itself rejects the dated examples: `startDate: "2025-09-26"` with the
    default end (today) spans more than a month; the instance example's September 2025 is past
    the three-month retention of raw events."""
    query, _ = example("group_code_suggestion_events")
    body = gql(engine_now, query)
    assert body["data"] == {"group": {"aiUsageData": {"codeSuggestionEvents": None}}}
    assert body["errors"] == [{
        "message": "maximum date range is 1 month", "locations": [{"line": 4, "column": 1}],
        "path": ["group", "aiUsageData", "codeSuggestionEvents"]}]
    query, _ = example("instance_all_events")
    assert errors_of(engine_now, query) == [
        "Data is retained for three months: startDate must be on or after 2026-08-23"]
    # the aggregates have no retention (GitLab serves them from ClickHouse) and run today
    query, _ = example("ai_metrics")
    assert data_of(engine_now, query)["group"]["aiMetrics"]["duoUsedCount"] > 0


def test_retention_is_configurable(engine_now):
    query, _ = example("instance_all_events")
    data = data_of(engine_now, query, settings=DuoSettings(retention_months=0))
    assert data["aiUsageData"]["all"]["nodes"]
    six = DuoSettings(retention_months=6)
    assert errors_of(engine_now, ALL % 'startDate: "2026-05-22", endDate: "2026-06-20"',
                     settings=six) == [
        "Data is retained for six months: startDate must be on or after 2026-05-23"]
    assert data_of(engine_now, ALL % 'startDate: "2026-05-23", endDate: "2026-06-20"', settings=six)


@pytest.mark.parametrize("args, ok", [
    ('startDate: "2026-10-24", endDate: "2026-11-23"', True),    # 2026-10-24 > 2026-10-23
    ('startDate: "2026-10-23", endDate: "2026-11-23"', False),   # exactly a month: rejected
    ('startDate: "2026-10-23"', False),                          # end: end of today
    ('startDate: "2026-10-24"', True),
    ('startDate: "2026-09-01", endDate: "2026-09-30"', True),
    ('startDate: "2026-09-01", endDate: "2026-10-01"', False),
])
def test_usage_events_maximum_range(engine_now, args, ok):
    body = gql(engine_now, ALL % args)
    if ok:
        assert "errors" not in body
    else:
        assert [e["message"] for e in body["errors"]] == ["maximum date range is 1 month"]


def test_usage_events_default_window(engine_now, db):
    """No dates: 7 days ago (beginning of day) to the end of today."""
    nodes = data_of(engine_now, ALL % "first: 100")["group"]["aiUsageData"]["all"]["nodes"]
    oldest = data_of(engine_now, ALL % "last: 1")["group"]["aiUsageData"]["all"]["nodes"]
    lo, hi, n = sql(db, f"""SELECT min(timestamp), max(timestamp), count(*) FROM duo_usage_events
        WHERE starts_with(namespace_path, '{GITLAB_ORG}')
          AND timestamp >= TIMESTAMP '2026-11-16 00:00:00'""")[0]
    assert nodes[0]["timestamp"] == iso(hi)
    assert oldest[0]["timestamp"] == iso(lo)
    assert n > 100


def test_end_date_is_its_midnight(engine_docs, db):
    """A Date endDate bounds timestamps at its midnight, as GitLab's `timestamp <= to` does."""
    nodes = data_of(engine_docs, ALL % 'startDate: "2025-09-20", endDate: "2025-09-24", first: 1')
    newest = nodes["group"]["aiUsageData"]["all"]["nodes"][0]["timestamp"]
    assert newest == iso(scalar(db, f"""SELECT max(timestamp) FROM duo_usage_events
        WHERE starts_with(namespace_path, '{GITLAB_ORG}')
          AND timestamp <= TIMESTAMP '2025-09-24 00:00:00'"""))
    assert newest < "2025-09-24"


def test_user_metrics_ranges(engine_now):
    assert errors_of(engine_now, USER_METRICS % 'startDate: "2025-11-22", endDate: "2026-11-23"') == [
        "maximum date range is 1 year"]
    assert data_of(engine_now, USER_METRICS % 'startDate: "2025-11-23", endDate: "2026-11-23"')


def test_metrics_ranges(engine_now):
    assert errors_of(engine_now, METRICS % 'startDate: "2026-11-02", endDate: "2026-11-01"') == [
        "start date cannot be after end date"]
    assert errors_of(engine_now, METRICS % 'startDate: "2024-12-01", endDate: "2025-12-02"') == [
        "maximum date range is 1 year"]
    assert data_of(engine_now, METRICS % 'startDate: "2024-12-01", endDate: "2025-12-01"')


def test_metrics_default_window_is_the_current_month(engine_now):
    a = data_of(engine_now, METRICS.replace("(%s)", ""))
    b = data_of(engine_now, METRICS % 'startDate: "2026-11-01", endDate: "2026-11-30"')
    assert a == b


def test_invalid_arguments_are_graphql_errors(engine_now):
    body = gql(engine_now, ALL % 'startDate: "2026-02-30"')
    assert body["errors"][0]["message"].endswith("invalid date")
    assert "data" not in body  # validation errors: nothing executed
    body = gql(engine_now, ALL % 'userIds: ["101"]')
    assert '"101" is not a valid Global ID' in body["errors"][0]["message"]
    body = gql(engine_now, ALL % 'userIds: ["gid://gitlab/Project/1"]')
    assert 'does not represent an instance of User' in body["errors"][0]["message"]
    body = gql(engine_now, ALL % "events: [NOT_AN_EVENT]")
    assert "NOT_AN_EVENT" in body["errors"][0]["message"]
    body = gql(engine_now, "{ group(fullPath: \"gitlab-org\") { nope } }")
    assert "Cannot query field 'nope' on type 'Group'." in body["errors"][0]["message"]


def test_variables(engine_now):
    query = """query($path: ID!, $from: Date, $to: Date) { group(fullPath: $path) {
      aiMetrics(startDate: $from, endDate: $to) { duoUsedCount } } }"""
    a = data_of(engine_now, query, variables={"path": "gitlab-org", "from": "2025-01-01",
                                              "to": "2025-01-31"})
    b = data_of(engine_now, METRICS % 'startDate: "2025-01-01", endDate: "2025-01-31"')
    assert a["group"]["aiMetrics"]["duoUsedCount"] == b["group"]["aiMetrics"]["duoUsedCount"] > 0
    body = gql(engine_now, query, variables={"path": "gitlab-org", "from": "01/01/2025"})
    assert "invalid date" in body["errors"][0]["message"]


def test_unknown_namespace_is_null(engine_now):
    body = gql(engine_now, '{ group(fullPath: "nope") { id } project(fullPath: "gitlab-org/nope") { id } }')
    assert body == {"data": {"group": None, "project": None}}
    assert RESOURCE_ACCESS_ERROR.startswith("The resource that you are attempting to access")
