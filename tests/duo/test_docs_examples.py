"""GitLab's documented Duo GraphQL examples, run verbatim against the shipped data.

The queries and documented responses in docs_examples/ are copied verbatim from GitLab's
"Retrieve GitLab Duo and SDLC trend data" page (../shared/gitlab/docs/duo-and-sdlc-trends-graphql.txt;
a test checks the copies when that file is present). Each answer must have the documented shape
(same fields, same JSON types) and its values are recomputed here with plain DuckDB SQL over the
Parquet files. The clock is DOCS_NOW (2025-09-30T12:00:00Z), when GitLab itself accepts every
example (see test_rules for what GitLab answers to them today).
"""

from __future__ import annotations

import json

import pytest

from duo_helpers import (
    EXAMPLES, GITLAB_ORG, ROOT, data_of, db, engine_docs, enum_of, example, iso, members_sql,
    scalar, sql)
from engine.web.duo.events import EVENT_BY_ID, FEATURES

DOC = ROOT.parent / "shared" / "gitlab" / "docs" / "duo-and-sdlc-trends-graphql.txt"
NAMES = ["group_code_suggestion_events", "group_all_events", "instance_all_events",
         "user_metrics_totals", "user_metrics_features", "ai_metrics"]

# GitLab's schema types suggestionSize as String (graphql-ruby serializes the stored 2 as "2");
# the docs print the number. We follow the schema.
STRING_NUMBERS = {"suggestionSize"}
# Nullable in GitLab's schema (older IDE extensions do not send a language).
NULLABLE = {"language", "suggestionSize"}


def assert_shape(got, documented, path="") -> None:
    """`got` has the documented structure: same keys at every level, same JSON types (lists:
    every element shaped like the documented elements)."""
    if isinstance(documented, dict):
        assert isinstance(got, dict), path
        if path.endswith("extras"):  # open JSON: any object
            return
        assert set(got) == set(documented), (path, set(got) ^ set(documented))
        for key, value in documented.items():
            if key in NULLABLE and got[key] is None:
                continue
            if key in STRING_NUMBERS and isinstance(value, int):
                assert got[key] is None or (isinstance(got[key], str) and got[key].isdigit()), path
                continue
            assert_shape(got[key], value, f"{path}.{key}")
    elif isinstance(documented, list):
        assert isinstance(got, list) and got, path
        for item in got:
            assert_shape(item, documented[0], f"{path}[]")
    elif isinstance(documented, bool):
        assert isinstance(got, bool), path
    elif isinstance(documented, int):
        assert isinstance(got, int) and not isinstance(got, bool), (path, got)
    elif isinstance(documented, str):
        assert isinstance(got, str), (path, got)


def test_examples_are_verbatim_copies():
    names = sorted(p.stem for p in EXAMPLES.glob("*.graphql"))
    assert names == sorted(NAMES)
    if not DOC.exists():
        pytest.skip("GitLab's docs page is not next to the repository")
    text = DOC.read_text()
    for name in NAMES:
        assert (EXAMPLES / f"{name}.graphql").read_text().rstrip("\n") in text, name
        assert (EXAMPLES / f"{name}.json").read_text().rstrip("\n") in text, name


@pytest.mark.parametrize("name", NAMES)
def test_example_has_documented_shape(engine_docs, name):
    query, documented = example(name)
    got = data_of(engine_docs, query)
    assert_shape({"data": got}, documented)


def _events_sql(db, where: str, start: str, end: str) -> list[tuple]:
    return sql(db, f"""
        SELECT e.event, e.timestamp, u.username, e.extras, e.namespace_path
        FROM duo_usage_events e JOIN duo_users u ON u.id = e.user_id
        WHERE e.timestamp >= TIMESTAMP '{start}' AND e.timestamp <= TIMESTAMP '{end}' AND {where}
        ORDER BY e.timestamp DESC, e.user_id DESC, e.id DESC LIMIT 100""")


def test_group_code_suggestion_events(engine_docs, db):
    """startDate 2025-09-26, default end: the end of today; the 5 Code Suggestions events of
    gitlab-org and its subgroups, newest first, 100 per page."""
    query, _ = example("group_code_suggestion_events")
    nodes = data_of(engine_docs, query)["group"]["aiUsageData"]["codeSuggestionEvents"]["nodes"]
    rows = _events_sql(db, f"starts_with(e.namespace_path, '{GITLAB_ORG}') AND e.event BETWEEN 1 AND 5",
                       "2025-09-26 00:00:00", "2025-09-30 23:59:59.999999")
    assert len(nodes) == len(rows) > 50
    expected = []
    for event, ts, username, extras, _path in rows:
        x = json.loads(extras)
        size = x.get("suggestion_size")
        expected.append({"event": enum_of(event), "timestamp": iso(ts), "language": x.get("language"),
                         "suggestionSize": None if size is None else str(size),
                         "user": {"username": username}})
    assert nodes == expected
    assert {n["event"] for n in nodes} <= {EVENT_BY_ID[i].enum for i in range(1, 6)}


def test_group_all_events(engine_docs, db):
    query, _ = example("group_all_events")
    nodes = data_of(engine_docs, query)["group"]["aiUsageData"]["all"]["nodes"]
    rows = _events_sql(db, f"starts_with(e.namespace_path, '{GITLAB_ORG}')",
                       "2025-09-26 00:00:00", "2025-09-30 23:59:59.999999")
    assert nodes == [{"event": enum_of(e), "timestamp": iso(ts), "user": {"username": u}}
                     for e, ts, u, _x, _p in rows]
    assert len({n["event"] for n in nodes}) > 3  # more than Code Suggestions


def test_instance_all_events(engine_docs, db):
    """Administrators only; every namespace (acme-corp too); extras as JSON. endDate is a Date,
    which GitLab compares with timestamps as its midnight."""
    query, _ = example("instance_all_events")
    nodes = data_of(engine_docs, query)["aiUsageData"]["all"]["nodes"]
    rows = _events_sql(db, "TRUE", "2025-09-26 00:00:00", "2025-09-30 00:00:00")
    assert nodes == [{"event": enum_of(e), "timestamp": iso(ts), "user": {"username": u},
                      "extras": json.loads(x)} for e, ts, u, x, _p in rows]
    assert any(n["extras"] == {} for n in nodes)


def test_documented_events_are_in_the_data(engine_docs):
    """The docs' own events of 2025-09-26 (jasbourne, johndoe) exist in the shipped data."""
    data = data_of(engine_docs, """{ aiUsageData { all(startDate: "2025-09-26", endDate: "2025-09-27",
        userIds: ["gid://gitlab/User/101", "gid://gitlab/User/102"], first: 100) {
        nodes { event timestamp user { username } extras } } } }""")
    nodes = data["aiUsageData"]["all"]["nodes"]
    assert {"event": "CODE_SUGGESTION_SHOWN_IN_IDE", "timestamp": "2025-09-26T18:17:25Z",
            "user": {"username": "jasbourne"},
            "extras": {"unique_tracking_id": "5c6d3d0e-4e8a-4e7b-a9a4-2f1d9f0b7c11",
                       "suggestion_size": 2, "language": "python",
                       "ide_name": "Visual Studio Code"}} in nodes
    assert {"event": "AGENT_PLATFORM_SESSION_STARTED", "timestamp": "2025-09-26T18:13:44Z",
            "user": {"username": "johndoe"}, "extras": {"session_id": "abc123"}} in nodes
    jas = [n["event"] for n in nodes if n["user"]["username"] == "jasbourne"
           and n["timestamp"] in ("2025-09-26T18:17:25Z", "2025-09-26T18:13:45Z", "2025-09-26T18:13:44Z")]
    assert {"FIND_NO_ISSUES_DUO_CODE_REVIEW_AFTER_REVIEW", "REQUEST_REVIEW_DUO_CODE_REVIEW_ON_MR_BY_AUTHOR",
            "AGENT_PLATFORM_SESSION_STARTED", "CODE_SUGGESTION_REJECTED_IN_IDE",
            "CODE_SUGGESTION_ACCEPTED_IN_IDE"} <= set(jas)


def _user_metrics_sql(db, tp: str, first: str, last: str) -> dict[str, dict[int, int]]:
    """username -> {event id: count} for Duo Enterprise seat holders of the namespace."""
    users = sql(db, f"""
        SELECT DISTINCT s.user_id, u.username FROM duo_seat_assignments s
        JOIN duo_users u ON u.id = s.user_id
        WHERE s.add_on_name = 'duo_enterprise' AND s.unassigned_at IS NULL
          AND s.namespace_id = {int(tp.split('/')[0])} AND s.user_id IN ({members_sql(tp)})
        ORDER BY s.user_id""")
    out = {}
    for user_id, username in users:
        counts = dict(sql(db, f"""
            SELECT event, count(*) FROM duo_usage_events
            WHERE user_id = ? AND starts_with(namespace_path, '{tp}')
              AND CAST(timestamp AS DATE) BETWEEN DATE '{first}' AND DATE '{last}'
            GROUP BY event""", [user_id]))
        out[username] = counts
    return out


@pytest.mark.parametrize("name", ["user_metrics_totals", "user_metrics_features"])
def test_user_metrics_examples(engine_docs, db, name):
    """Default window: the current month (September 2025 on DOCS_NOW); rows: users with a Duo
    Enterprise seat who are members of gitlab-org; totals consistent at every level."""
    query, _ = example(name)
    nodes = data_of(engine_docs, query)["group"]["aiUserMetrics"]["nodes"]
    expected = _user_metrics_sql(db, GITLAB_ORG, "2025-09-01", "2025-09-30")
    assert [n["user"]["username"] for n in nodes] == list(expected)
    by_feature = {f.field: f for f in FEATURES}
    for node in nodes:
        counts = expected[node["user"]["username"]]
        if "totalEventCount" in node:
            assert node["totalEventCount"] == sum(counts.values())
        for field, values in node.items():
            if field in by_feature:
                feature = by_feature[field]
                assert values["totalEventCount"] == sum(counts.get(i, 0) for i in feature.ids)
                for event in feature.events:
                    if event.count_field in values:
                        assert values[event.count_field] == counts.get(event.id, 0)
    assert sum(n.get("totalEventCount", 0) for n in nodes) > 0 or name == "user_metrics_features"
    assert any(n["codeSuggestions"]["totalEventCount"] for n in nodes)


def test_ai_metrics_example(engine_docs, db):
    query, _ = example("ai_metrics")
    m = data_of(engine_docs, query)["group"]["aiMetrics"]
    tp, a, b = GITLAB_ORG, "2024-12-01", "2024-12-31"
    day = f"CAST(timestamp AS DATE) BETWEEN DATE '{a}' AND DATE '{b}'"
    ns = f"starts_with(namespace_path, '{tp}')"
    size = "TRY_CAST(json_extract_string(extras, '$.suggestion_size') AS INTEGER)"
    shown, accepted, shown_loc, accepted_loc = sql(db, f"""
        SELECT count(*) FILTER (WHERE event = 2), count(*) FILTER (WHERE event = 3),
               sum({size}) FILTER (WHERE event = 2), sum({size}) FILTER (WHERE event = 3)
        FROM duo_usage_events WHERE {ns} AND {day}""")[0]
    assert m["codeSuggestions"] == {"shownCount": shown, "acceptedCount": accepted,
                                    "acceptedLinesOfCode": accepted_loc, "shownLinesOfCode": shown_loc}
    assert m["codeContributorsCount"] == scalar(db, f"""
        SELECT count(DISTINCT author_id) FROM duo_contributions
        WHERE starts_with(path, '{tp}') AND action = 5 AND created_at BETWEEN DATE '{a}' AND DATE '{b}'""")
    assert m["duoChatContributorsCount"] == scalar(db, f"""
        SELECT count(DISTINCT user_id) FROM duo_usage_events WHERE event = 6 AND {ns} AND {day}""")
    assert m["duoAssignedUsersCount"] == scalar(db, f"""
        SELECT count(DISTINCT (user_id, add_on_name)) FROM duo_seat_assignments
        WHERE namespace_id = 9970 AND unassigned_at IS NULL
          AND add_on_name IN ('code_suggestions', 'duo_enterprise') AND user_id IN ({members_sql(tp)})""")
    assert m["duoUsedCount"] == scalar(db, f"""
        SELECT count(DISTINCT user_id) FROM duo_usage_events WHERE {ns}
          AND timestamp >= TIMESTAMP '{a} 00:00:00' AND timestamp <= TIMESTAMP '{b} 00:00:00'""")
    assert shown > 100 and accepted > 10 and m["codeContributorsCount"] > 10
    assert 0 < m["duoChatContributorsCount"] <= m["duoUsedCount"] <= m["duoAssignedUsersCount"] + 5
