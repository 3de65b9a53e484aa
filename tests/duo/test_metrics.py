"""aiMetrics and aiUserMetrics: every metric recomputed with plain SQL over the raw tables, on
several namespaces and periods, plus the totals' consistency, sorting, seats windows, paging
and the chat namespace feature flag."""

from __future__ import annotations

import pytest

from duo_helpers import GITLAB_ORG, data_of, db, engine_now, members_sql, scalar, sql
from engine.web.duo import DuoSettings
from engine.web.duo.events import EVENTS, FEATURES, FEATURE_BY_NAME
from engine.web.duo.schema import METRICS_FEATURES

SIZE = "TRY_CAST(json_extract_string(extras, '$.suggestion_size') AS INTEGER)"

METRICS = """{ %s(fullPath: "%s") { aiMetrics(startDate: "%s", endDate: "%s") {
  codeContributorsCount
  codeSuggestions { contributorsCount shownCount acceptedCount shownLinesOfCode acceptedLinesOfCode
                    languages ideNames }
  duoChatContributorsCount duoAssignedUsersCount duoUsedCount rootCauseAnalysisUsersCount
  codeSuggestionsContributorsCount codeSuggestionsShownCount codeSuggestionsAcceptedCount
  %s } } }""" % ("%s", "%s", "%s", "%s", " ".join(
    f"{field} {{ {' '.join(e.count_field for e in FEATURE_BY_NAME[name].events)} }}"
    for field, name in METRICS_FEATURES.items()))

CASES = [  # kind, full path, start, end
    ("group", "gitlab-org", "2024-12-01", "2024-12-31"),
    ("group", "gitlab-org", "2025-07-01", "2025-09-30"),
    ("group", "gitlab-org/ci-cd", "2025-01-15", "2025-12-14"),
    ("project", "gitlab-org/gitlab", "2025-09-01", "2025-09-30"),
    ("group", "acme-corp", "2025-06-01", "2025-11-30"),
    ("group", "gitlab-org/ai-powered", "2026-11-01", "2026-11-30"),
]


def traversal(db, kind: str, path: str) -> str:
    table = "duo_groups" if kind == "group" else "duo_projects"
    return scalar(db, f"SELECT traversal_path FROM {table} WHERE full_path = ?", [path])


def expected_metrics(db, tp: str, a: str, b: str) -> dict:
    ns = f"starts_with(namespace_path, '{tp}')"
    day = f"CAST(timestamp AS DATE) BETWEEN DATE '{a}' AND DATE '{b}'"
    (contributors, shown, accepted, shown_loc, accepted_loc) = sql(db, f"""
        SELECT count(DISTINCT user_id) FILTER (WHERE event IN (1, 2, 5)),
               count(*) FILTER (WHERE event = 2), count(*) FILTER (WHERE event = 3),
               coalesce(sum({SIZE}) FILTER (WHERE event = 2), 0),
               coalesce(sum({SIZE}) FILTER (WHERE event = 3), 0)
        FROM duo_usage_events WHERE {ns} AND {day}""")[0]
    languages = [r[0] for r in sql(db, f"""SELECT DISTINCT coalesce(json_extract_string(extras, '$.language'), '')
        FROM duo_usage_events WHERE {ns} AND {day} AND event IN (2, 3) ORDER BY 1""")]
    ides = [r[0] for r in sql(db, f"""SELECT DISTINCT coalesce(json_extract_string(extras, '$.ide_name'), '')
        FROM duo_usage_events WHERE {ns} AND {day} AND event IN (2, 3) ORDER BY 1""")]
    counts = dict(sql(db, f"SELECT event, count(*) FROM duo_usage_events WHERE {ns} AND {day} GROUP BY 1"))
    root = int(tp.split("/")[0])
    out = {
        "codeContributorsCount": scalar(db, f"""SELECT count(DISTINCT author_id) FROM duo_contributions
            WHERE starts_with(path, '{tp}') AND action = 5 AND created_at BETWEEN DATE '{a}' AND DATE '{b}'"""),
        "codeSuggestions": {"contributorsCount": contributors, "shownCount": shown,
                            "acceptedCount": accepted, "shownLinesOfCode": shown_loc,
                            "acceptedLinesOfCode": accepted_loc, "languages": languages,
                            "ideNames": ides},
        "duoChatContributorsCount": scalar(db, f"""SELECT count(DISTINCT user_id) FROM duo_usage_events
            WHERE event = 6 AND {ns} AND {day}"""),
        "duoAssignedUsersCount": scalar(db, f"""SELECT count(*) FROM (SELECT DISTINCT user_id, add_on_name
            FROM duo_seat_assignments WHERE namespace_id = {root} AND unassigned_at IS NULL
              AND user_id IN ({members_sql(tp)}))"""),
        "duoUsedCount": scalar(db, f"""SELECT count(DISTINCT user_id) FROM duo_usage_events WHERE {ns}
            AND timestamp >= TIMESTAMP '{a}' AND timestamp <= TIMESTAMP '{b}'"""),
        "rootCauseAnalysisUsersCount": scalar(db, f"""SELECT count(DISTINCT user_id) FROM duo_usage_events
            WHERE event = 7 AND {ns} AND timestamp >= TIMESTAMP '{a}' AND timestamp <= TIMESTAMP '{b}'"""),
        "codeSuggestionsContributorsCount": contributors,
        "codeSuggestionsShownCount": shown,
        "codeSuggestionsAcceptedCount": accepted,
    }
    for field, name in METRICS_FEATURES.items():
        out[field] = {e.count_field: counts.get(e.id, 0) for e in FEATURE_BY_NAME[name].events}
    return out


@pytest.mark.parametrize("kind, path, a, b", CASES)
def test_ai_metrics_against_sql(engine_now, db, kind, path, a, b):
    got = data_of(engine_now, METRICS % (kind, path, a, b))[kind]["aiMetrics"]
    assert got == expected_metrics(db, traversal(db, kind, path), a, b)


def test_ai_metrics_are_not_all_zero(engine_now):
    got = data_of(engine_now, METRICS % CASES[1])["group"]["aiMetrics"]
    assert got["codeSuggestions"]["shownCount"] > got["codeSuggestions"]["acceptedCount"] > 0
    assert got["codeReview"]["requestReviewDuoCodeReviewOnMrByAuthorEventCount"] > 0
    assert got["mcp"]["startMcpToolCallEventCount"] == got["mcp"]["finishMcpToolCallEventCount"] > 0
    assert got["troubleshoot"]["troubleshootJobEventCount"] > 0
    assert got["rootCauseAnalysisUsersCount"] > 0


def test_subgroups_add_up(engine_now, db):
    """Counts (not distinct users) of a group = its own namespaces' + its subgroups'."""
    def shown(path):
        q = METRICS % ("group", path, "2025-03-01", "2025-08-31")
        return data_of(engine_now, q)["group"]["aiMetrics"]["codeSuggestions"]["shownCount"]
    own = scalar(db, """SELECT count(*) FROM duo_usage_events WHERE event = 2
        AND CAST(timestamp AS DATE) BETWEEN DATE '2025-03-01' AND DATE '2025-08-31'
        AND NOT starts_with(namespace_path, '9970/9971/') AND NOT starts_with(namespace_path, '9970/9972/')
        AND starts_with(namespace_path, '9970/')""")
    assert shown("gitlab-org") == own + shown("gitlab-org/ai-powered") + shown("gitlab-org/ci-cd")


def test_code_suggestion_filters(engine_now, db):
    q = """{ group(fullPath: "gitlab-org") { aiMetrics(startDate: "2025-05-01", endDate: "2025-05-31") {
      all: codeSuggestions { shownCount }
      py: codeSuggestions(languages: ["python"]) { shownCount acceptedCount languages }
      pyGo: codeSuggestions(languages: ["python", "go"], ideNames: ["Neovim"]) { shownCount ideNames }
      none: codeSuggestions(languages: []) { shownCount } } } }"""
    m = data_of(engine_now, q)["group"]["aiMetrics"]
    where = ("starts_with(namespace_path, '9970/') AND event = 2 AND CAST(timestamp AS DATE) "
             "BETWEEN DATE '2025-05-01' AND DATE '2025-05-31'")
    lang = "json_extract_string(extras, '$.language')"
    assert m["py"]["shownCount"] == scalar(db, f"SELECT count(*) FROM duo_usage_events WHERE {where} AND {lang} = 'python'")
    assert m["pyGo"]["shownCount"] == scalar(db, f"""SELECT count(*) FROM duo_usage_events WHERE {where}
        AND {lang} IN ('python', 'go') AND json_extract_string(extras, '$.ide_name') = 'Neovim'""")
    assert m["py"]["languages"] == ["python"]
    assert m["pyGo"]["ideNames"] in (["Neovim"], [])
    assert m["none"] == m["all"]
    assert 0 < m["py"]["shownCount"] < m["all"]["shownCount"]


def test_chat_namespace_filter_flag_off(engine_now, db):
    """Without `use_duo_chat_namespace_path_filter`: chat users anywhere who contributed to the
    namespace in the period; chat event counts ignore the namespace."""
    q = METRICS % ("group", "gitlab-org/ci-cd", "2025-09-01", "2025-11-30")
    m = data_of(engine_now, q, settings=DuoSettings(chat_namespace_filter=False))["group"]["aiMetrics"]
    assert m["duoChatContributorsCount"] == scalar(db, """SELECT count(DISTINCT user_id) FROM duo_usage_events
        WHERE event = 6 AND CAST(timestamp AS DATE) BETWEEN DATE '2025-09-01' AND DATE '2025-11-30'
          AND user_id IN (SELECT author_id FROM duo_contributions WHERE starts_with(path, '9970/9972/')
                          AND created_at BETWEEN DATE '2025-09-01' AND DATE '2025-11-30')""")
    assert m["chat"]["requestDuoChatResponseEventCount"] == scalar(db, """SELECT count(*) FROM duo_usage_events
        WHERE event = 6 AND CAST(timestamp AS DATE) BETWEEN DATE '2025-09-01' AND DATE '2025-11-30'""")


# --------------------------------------------------------------------------- aiUserMetrics

ALL_FIELDS = " ".join(
    f"{f.field} {{ totalEventCount lastDuoActivityOn {' '.join(e.count_field for e in f.events)} }}"
    for f in FEATURES)
USER_METRICS = """{ %s(fullPath: "%s") { aiUserMetrics%s {
  nodes { user { id username name } totalEventCount lastDuoActivityOn %s
          codeSuggestionsAcceptedCount duoChatInteractionsCount }
  pageInfo { hasNextPage hasPreviousPage endCursor } } } }""" % ("%s", "%s", "%s", ALL_FIELDS)


def um(kind: str, path: str, args: str) -> str:
    return USER_METRICS % (kind, path, f"({args})" if args else "")


def seat_users(db, tp: str, window: tuple[str, str] | None = None) -> list[tuple[int, str]]:
    when = "s.unassigned_at IS NULL" if window is None else (
        f"s.assigned_at <= TIMESTAMP '{window[1]} 23:59:59.999' AND "
        f"(s.unassigned_at IS NULL OR s.unassigned_at >= TIMESTAMP '{window[0]}')")
    return sql(db, f"""SELECT DISTINCT s.user_id, u.username FROM duo_seat_assignments s
        JOIN duo_users u ON u.id = s.user_id
        WHERE s.add_on_name = 'duo_enterprise' AND s.namespace_id = {int(tp.split('/')[0])}
          AND {when} AND s.user_id IN ({members_sql(tp)}) ORDER BY s.user_id""")


def user_counts(db, tp: str, a: str, b: str) -> dict[int, dict[int, tuple[int, object]]]:
    rows = sql(db, f"""SELECT user_id, event, count(*), max(CAST(timestamp AS DATE)) FROM duo_usage_events
        WHERE starts_with(namespace_path, '{tp}') AND CAST(timestamp AS DATE) BETWEEN DATE '{a}' AND DATE '{b}'
        GROUP BY 1, 2""")
    out: dict = {}
    for user, event, n, last in rows:
        out.setdefault(user, {})[event] = (n, last)
    return out


def check_node(node: dict, counts: dict[int, tuple[int, object]]) -> None:
    def total(ids):
        return sum(counts.get(i, (0, None))[0] for i in ids)

    def last(ids):
        days = [counts[i][1] for i in ids if i in counts]
        return max(days).isoformat() if days else None

    all_ids = [e.id for e in EVENTS]
    assert node["totalEventCount"] == total(all_ids)
    assert node["lastDuoActivityOn"] == last(all_ids)
    assert node["totalEventCount"] == sum(node[f.field]["totalEventCount"] for f in FEATURES)
    for f in FEATURES:
        values = node[f.field]
        assert values["totalEventCount"] == total(f.ids) == sum(values[e.count_field] for e in f.events)
        assert values["lastDuoActivityOn"] == last(f.ids)
        for e in f.events:
            assert values[e.count_field] == counts.get(e.id, (0, None))[0]
    assert node["codeSuggestionsAcceptedCount"] == node["codeSuggestions"]["codeSuggestionAcceptedInIdeEventCount"]
    assert node["duoChatInteractionsCount"] == node["chat"]["requestDuoChatResponseEventCount"]


@pytest.mark.parametrize("kind, path, args, window", [
    ("group", "gitlab-org", "", ("2026-11-01", "2026-11-30")),
    ("group", "gitlab-org", 'startDate: "2025-01-01", endDate: "2025-06-30"', ("2025-01-01", "2025-06-30")),
    ("group", "gitlab-org/ci-cd", 'startDate: "2026-01-01"', ("2026-01-01", "2026-11-30")),
    ("project", "gitlab-org/gitlab", 'endDate: "2026-11-10"', ("2026-11-01", "2026-11-10")),
    ("group", "acme-corp", 'startDate: "2025-05-01", endDate: "2025-12-31"', ("2025-05-01", "2025-12-31")),
])
def test_user_metrics_against_sql(engine_now, db, kind, path, args, window):
    data = data_of(engine_now, um(kind, path, args))[kind]["aiUserMetrics"]
    tp = scalar(db, f"SELECT traversal_path FROM {'duo_groups' if kind == 'group' else 'duo_projects'} "
                    "WHERE full_path = ?", [path])
    # seats: current ones without dates; with dates, those assigned at some point of the window
    seats = seat_users(db, tp, None if not args else (
        "2025-01-01" if "startDate" not in args else window[0],
        "9999-12-31" if "endDate" not in args else window[1]))
    assert [(int(n["user"]["id"].split("/")[-1]), n["user"]["username"]) for n in data["nodes"]] == seats
    counts = user_counts(db, tp, *window)
    for node in data["nodes"]:
        check_node(node, counts.get(int(node["user"]["id"].split("/")[-1]), {}))
    assert any(n["totalEventCount"] for n in data["nodes"])


def test_historical_seats_differ_from_current(db):
    now = {u for u, _ in seat_users(db, GITLAB_ORG)}
    early = {u for u, _ in seat_users(db, GITLAB_ORG, ("2024-10-01", "2024-12-31"))}
    assert early and early != now


@pytest.mark.parametrize("sort, measure_ids, reverse", [
    ("TOTAL_EVENTS_COUNT_DESC", None, True),
    ("CODE_SUGGESTIONS_TOTAL_COUNT_ASC", [1, 2, 3, 4, 5], False),
    ("REQUEST_DUO_CHAT_RESPONSE_DESC", [6], True),
])
def test_user_metrics_sort(engine_now, db, sort, measure_ids, reverse):
    """Sorted in the metrics query; users without any event in the window drop out."""
    q = um("group", "gitlab-org", f'startDate: "2026-10-01", endDate: "2026-11-23", sort: {sort}')
    nodes = data_of(engine_now, q)["group"]["aiUserMetrics"]["nodes"]
    counts = user_counts(db, GITLAB_ORG, "2026-10-01", "2026-11-23")
    seats = [u for u, _ in seat_users(db, GITLAB_ORG, ("2026-10-01", "2026-11-23")) if u in counts]
    key = lambda u: sum(n for e, (n, _l) in counts[u].items() if measure_ids is None or e in measure_ids)
    want = sorted(seats, key=lambda u: (-key(u) if reverse else key(u), u))
    assert [int(n["user"]["id"].split("/")[-1]) for n in nodes] == want
    assert len(want) > 5


def test_user_metrics_paging(engine_now):
    def base(args):
        return um("group", "gitlab-org", args)
    everyone = data_of(engine_now, base(""))["group"]["aiUserMetrics"]
    first = data_of(engine_now, base("first: 4"))["group"]["aiUserMetrics"]
    assert first["nodes"] == everyone["nodes"][:4] and first["pageInfo"]["hasNextPage"]
    rest = data_of(engine_now, base(f'after: "{first["pageInfo"]["endCursor"]}"'))["group"]["aiUserMetrics"]
    assert first["nodes"] + rest["nodes"] == everyone["nodes"]
    assert rest["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True,
                                "endCursor": everyone["pageInfo"]["endCursor"]}
    last = data_of(engine_now, base("last: 2, sort: TOTAL_EVENTS_COUNT_ASC"))["group"]["aiUserMetrics"]
    assert len(last["nodes"]) == 2 and last["nodes"][0]["totalEventCount"] <= last["nodes"][1]["totalEventCount"]


def test_user_metrics_chat_flag_off(engine_now, db):
    q = um("group", "gitlab-org/ai-powered", 'startDate: "2026-01-01", endDate: "2026-06-30"')
    on = data_of(engine_now, q)["group"]["aiUserMetrics"]["nodes"]
    off = data_of(engine_now, q, settings=DuoSettings(chat_namespace_filter=False))["group"]["aiUserMetrics"]["nodes"]
    assert [n["user"] for n in on] == [n["user"] for n in off]
    for a, b in zip(on, off):
        user = int(a["user"]["id"].split("/")[-1])
        chats = scalar(db, """SELECT count(*) FROM duo_usage_events WHERE event = 6 AND user_id = ?
            AND CAST(timestamp AS DATE) BETWEEN DATE '2026-01-01' AND DATE '2026-06-30'""", [user])
        assert b["chat"]["requestDuoChatResponseEventCount"] == chats
        assert a["codeSuggestions"] == b["codeSuggestions"]
    assert any(a["chat"] != b["chat"] for a, b in zip(on, off))
