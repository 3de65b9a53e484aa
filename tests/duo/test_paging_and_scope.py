"""Connections (first/after/last/before, 100 per page, opaque cursors, pageInfo) and namespace
scoping (a group includes its subgroups and their projects; a project its own events)."""

from __future__ import annotations

import base64
import json

from duo_helpers import data_of, db, engine_docs, enum_of, errors_of, iso, scalar, sql
WINDOW = 'startDate: "2025-09-01", endDate: "2025-09-30"'


def page(engine, args: str, path: str = "gitlab-org", kind: str = "group") -> dict:
    q = f"""{{ {kind}(fullPath: "{path}") {{ aiUsageData {{ all({WINDOW}, {args}) {{
      edges {{ cursor node {{ timestamp event user {{ username }} }} }}
      nodes {{ timestamp event user {{ username }} }}
      pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }} }} }}"""
    return data_of(engine, q)[kind]["aiUsageData"]["all"]


def expected(db, where: str = "starts_with(e.namespace_path, '9970/')") -> list[dict]:
    rows = sql(db, f"""SELECT e.timestamp, e.event, u.username FROM duo_usage_events e
        JOIN duo_users u ON u.id = e.user_id
        WHERE e.timestamp >= TIMESTAMP '2025-09-01' AND e.timestamp <= TIMESTAMP '2025-09-30' AND {where}
        ORDER BY e.timestamp DESC, e.user_id DESC, e.id DESC""")
    return [{"timestamp": iso(t), "event": enum_of(e), "user": {"username": u}} for t, e, u in rows]


def test_forward_pages_cover_the_result(engine_docs, db):
    want = expected(db)
    assert len(want) > 250
    got, after, pages = [], None, 0
    while True:
        p = page(engine_docs, f'first: 100{f", after: {json.dumps(after)}" if after else ""}')
        assert len(p["nodes"]) <= 100
        assert p["nodes"] == [e["node"] for e in p["edges"]]
        assert p["pageInfo"]["hasPreviousPage"] is (pages > 0)
        got += p["nodes"]
        pages += 1
        if not p["pageInfo"]["hasNextPage"]:
            break
        after = p["pageInfo"]["endCursor"]
    assert got == want
    assert pages == -(-len(want) // 100)


def test_default_and_maximum_page_size(engine_docs, db):
    want = expected(db)
    assert page(engine_docs, "first: 1000")["nodes"] == want[:100]
    default = page(engine_docs, "after: null")
    assert default["nodes"] == want[:100] and default["pageInfo"]["hasNextPage"] is True


def test_backward_pagination(engine_docs, db):
    want = expected(db)
    last = page(engine_docs, "last: 7")
    assert last["nodes"] == want[-7:]
    assert last["pageInfo"]["hasNextPage"] is False and last["pageInfo"]["hasPreviousPage"] is True
    before = page(engine_docs, f"last: 5, before: {json.dumps(last['pageInfo']['startCursor'])}")
    assert before["nodes"] == want[-12:-7]
    assert before["pageInfo"]["hasNextPage"] is True
    mid = page(engine_docs, "first: 10")
    between = page(engine_docs, f"first: 3, after: {json.dumps(mid['edges'][2]['cursor'])}, "
                                f"before: {json.dumps(mid['edges'][8]['cursor'])}")
    assert between["nodes"] == want[3:6]
    assert page(engine_docs, "first: 0")["nodes"] == []


def test_cursors_are_opaque_and_checked(engine_docs):
    cursor = page(engine_docs, "first: 2")["pageInfo"]["endCursor"]
    assert json.loads(base64.b64decode(cursor)) == {"offset": "1"}
    query = f"""{{ group(fullPath: "gitlab-org") {{ aiUsageData {{ all({WINDOW}, after: "garbage") {{
      nodes {{ event }} }} }} }} }}"""
    assert errors_of(engine_docs, query) == ["Please provide a valid cursor"]


def test_subgroup_and_project_scope(engine_docs, db):
    """gitlab-org/ci-cd includes its subgroup runner-fleet; a project only its own events."""
    ci = expected(db, "starts_with(e.namespace_path, '9970/9972/')")
    fleet = expected(db, "starts_with(e.namespace_path, '9970/9972/9973/')")
    assert fleet and len(ci) > len(fleet)
    got = page(engine_docs, "first: 100", "gitlab-org/ci-cd")["nodes"]
    assert got == ci[:100]
    assert page(engine_docs, "first: 100", "gitlab-org/ci-cd/runner-fleet")["nodes"] == fleet[:100]
    project = page(engine_docs, "first: 100", "gitlab-org/ci-cd/runner-fleet/fleeting", "project")
    path = scalar(db, "SELECT traversal_path FROM duo_projects WHERE full_path = 'gitlab-org/ci-cd/runner-fleet/fleeting'")
    assert project["nodes"] == expected(db, f"e.namespace_path = '{path}'")[:100]


def test_events_and_user_filters(engine_docs, db):
    q = f"""{{ group(fullPath: "gitlab-org") {{ aiUsageData {{
      all({WINDOW}, events: [REQUEST_DUO_CHAT_RESPONSE, TROUBLESHOOT_JOB], userIds: ["gid://gitlab/User/102", "gid://gitlab/User/107"]) {{
        nodes {{ timestamp event user {{ username }} }} }}
      codeSuggestionEvents({WINDOW}, events: [REQUEST_DUO_CHAT_RESPONSE], first: 5) {{
        nodes {{ event uniqueTrackingId }} }} }} }} }}"""
    data = data_of(engine_docs, q)["group"]["aiUsageData"]
    assert data["all"]["nodes"] == expected(
        db, "starts_with(e.namespace_path, '9970/') AND e.event IN (6, 7) AND e.user_id IN (102, 107)")[:100]
    assert data["all"]["nodes"]
    # codeSuggestionEvents forces the Code Suggestions events whatever `events` says
    assert {n["event"] for n in data["codeSuggestionEvents"]["nodes"]} <= {
        "CODE_SUGGESTION_SHOWN_IN_IDE", "CODE_SUGGESTION_ACCEPTED_IN_IDE",
        "CODE_SUGGESTION_REJECTED_IN_IDE"}
    assert all(n["uniqueTrackingId"] for n in data["codeSuggestionEvents"]["nodes"])


def test_instance_level_fields(engine_docs, db):
    q = """{ aiUsageData { all(startDate: "2025-09-01", endDate: "2025-09-30", first: 100) {
      nodes { namespacePath extras event } } } }"""
    nodes = data_of(engine_docs, q)["aiUsageData"]["all"]["nodes"]
    rows = sql(db, """SELECT namespace_path, extras FROM duo_usage_events
        WHERE timestamp >= TIMESTAMP '2025-09-01' AND timestamp <= TIMESTAMP '2025-09-30'
        ORDER BY timestamp DESC, user_id DESC, id DESC LIMIT 100""")
    assert [(n["namespacePath"], n["extras"]) for n in nodes] == [(p, json.loads(x)) for p, x in rows]
    # the instance type has extras; the group/project event type does not
    bad = """{ group(fullPath: "gitlab-org") { aiUsageData { all { nodes { extras } } } } }"""
    assert "Cannot query field 'extras' on type 'AiUsageEvent'." in errors_of(engine_docs, bad)[0]


def test_full_paths_are_case_insensitive(engine_docs):
    q = """{ group(fullPath: "GitLab-Org") { fullPath } prefix: group(fullPath: "gitlab") { fullPath }
      project(fullPath: "gitlab-org/GITLAB") { fullPath } }"""
    assert data_of(engine_docs, q) == {"group": {"fullPath": "gitlab-org"}, "prefix": None,
                                       "project": {"fullPath": "gitlab-org/gitlab"}}
