"""The benchmark's Cube queries, each with the SQL an expert would write by hand for DuckDB.

Every entry answers one question twice: `cube` is the Cube query sent to the engine (and to
/load), `ideal` the hand-written DuckDB SQL for the same question over the same table -- the
physical limit the engine is measured against. Ideal SQL follows the rules an expert would:

* time filters are sargable half-open bounds on the raw TIMESTAMP column
  (`derived_tstamp >= TIMESTAMP 'a' AND derived_tstamp < TIMESTAMP 'b'`), so DuckDB skips row
  groups by their min/max;
* no per-row time-zone work when the query is in UTC (`date_trunc('day', derived_tstamp)`);
* `count(*)` where the question is "how many rows", literals rather than parameters.

`columns` lists the engine's result keys in the ideal SQL's column order, so the harness can
check that both return the same rows (`ordered`: the order is fully determined by the query's
`order`, so it is compared too). `small` marks the queries used for fixed-overhead targets.

The clock is frozen at NOW (2026-11-23T12:00:00Z, a Monday), so "this year" is 2026 and the
data (bench/generate.py) ends just before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NOW = "2026-11-23T12:00:00Z"

T = "TrackedEvents"


@dataclass
class BenchQuery:
    name: str
    question: str
    cube: dict
    ideal: str
    columns: list[str]
    ordered: bool = True
    small: bool = False
    tags: list[str] = field(default_factory=list)


def queries(rows: int) -> list[BenchQuery]:
    """The benchmark queries for a table of `rows` events (thresholds scale with the size)."""
    threshold = max(10, rows // 10_000)   # measure filter: pages with more than this many events
    return [
        BenchQuery(
            "count_by_day_month",
            "Events per day in October 2026",
            {"measures": [f"{T}.count"],
             "timeDimensions": [{"dimension": f"{T}.derivedTstamp", "granularity": "day",
                                 "dateRange": ["2026-10-01", "2026-10-31"]}]},
            """SELECT date_trunc('day', derived_tstamp) AS day, count(*) AS n
               FROM snowplow_events
               WHERE derived_tstamp >= TIMESTAMP '2026-10-01' AND derived_tstamp < TIMESTAMP '2026-11-01'
               GROUP BY 1 ORDER BY 1""",
            [f"{T}.derivedTstamp.day", f"{T}.count"],
            tags=["aggregation"],
        ),
        BenchQuery(
            "count_by_day_month_ny",
            "Events per day in October 2026, New York time (the non-UTC path)",
            {"measures": [f"{T}.count"],
             "timeDimensions": [{"dimension": f"{T}.derivedTstamp", "granularity": "day",
                                 "dateRange": ["2026-10-01", "2026-10-31"]}],
             "timezone": "America/New_York"},
            # October 2026 in New York is 2026-10-01 04:00Z .. 2026-11-01 04:00Z, all of it EDT
            # (UTC-4): an expert shifts by the one offset instead of converting every row.
            """SELECT date_trunc('day', derived_tstamp - INTERVAL 4 HOUR) AS day,
                      count(*) AS n
               FROM snowplow_events
               WHERE derived_tstamp >= TIMESTAMP '2026-10-01 04:00:00'
                 AND derived_tstamp < TIMESTAMP '2026-11-01 04:00:00'
               GROUP BY 1 ORDER BY 1""",
            [f"{T}.derivedTstamp.day", f"{T}.count"],
            tags=["aggregation", "timezone"],
        ),
        BenchQuery(
            "top_pages_this_year",
            "Ten most viewed pages this year (GitLab's top-pages tile)",
            {"measures": [f"{T}.pageViewsCount"], "dimensions": [f"{T}.docPath"],
             "timeDimensions": [{"dimension": f"{T}.utcTime", "dateRange": "this year"}],
             "order": {f"{T}.pageViewsCount": "desc"}, "limit": 10},
            # A filtered measure keeps pages without views (count 0), so FILTER, not WHERE.
            """SELECT page_urlpath, count(*) FILTER (WHERE event_name = 'page_view') AS views
               FROM snowplow_events
               WHERE derived_tstamp >= TIMESTAMP '2026-01-01' AND derived_tstamp < TIMESTAMP '2027-01-01'
               GROUP BY 1 ORDER BY 2 DESC LIMIT 10""",
            [f"{T}.docPath", f"{T}.pageViewsCount"],
            tags=["aggregation"],
        ),
        BenchQuery(
            "distinct_users_by_week",
            "Unique users per ISO week over the last 12 weeks",
            {"measures": [f"{T}.uniqueUsersCount"],
             "timeDimensions": [{"dimension": f"{T}.derivedTstamp", "granularity": "week",
                                 "dateRange": ["2026-08-31", "2026-11-22"]}]},
            """SELECT date_trunc('week', derived_tstamp) AS week, count(DISTINCT user_id) AS users
               FROM snowplow_events
               WHERE derived_tstamp >= TIMESTAMP '2026-08-31' AND derived_tstamp < TIMESTAMP '2026-11-23'
               GROUP BY 1 ORDER BY 1""",
            [f"{T}.derivedTstamp.week", f"{T}.uniqueUsersCount"],
            tags=["aggregation"],
        ),
        BenchQuery(
            "string_filters",
            "Events by name on article pages matching '/12' in German or French browsers, "
            "not page pings (contains / in / notEquals over the whole table)",
            {"measures": [f"{T}.count"], "dimensions": [f"{T}.eventName"],
             "filters": [
                 {"member": f"{T}.docPath", "operator": "contains", "values": ["articles/12"]},
                 {"member": f"{T}.browserLanguage", "operator": "equals",
                  "values": ["de-DE", "fr-FR"]},
                 {"member": f"{T}.eventName", "operator": "notEquals", "values": ["page_ping"]},
             ],
             "order": [[f"{T}.count", "desc"], [f"{T}.eventName", "asc"]]},
            # Cube's contains is case-insensitive (ILIKE); notEquals keeps NULLs.
            """SELECT event_name, count(*) AS n
               FROM snowplow_events
               WHERE page_urlpath ILIKE '%articles/12%'
                 AND br_lang IN ('de-DE', 'fr-FR')
                 AND event_name IS DISTINCT FROM 'page_ping'
               GROUP BY 1 ORDER BY 2 DESC, 1 ASC""",
            [f"{T}.eventName", f"{T}.count"],
            tags=["aggregation"],
        ),
        BenchQuery(
            "measure_filter",
            f"Pages with more than {threshold} events (HAVING), most visited first",
            {"measures": [f"{T}.count"], "dimensions": [f"{T}.docPath"],
             "filters": [{"member": f"{T}.count", "operator": "gt", "values": [str(threshold)]}],
             "order": [[f"{T}.count", "desc"], [f"{T}.docPath", "asc"]]},
            f"""SELECT page_urlpath, count(*) AS n
               FROM snowplow_events
               GROUP BY 1 HAVING count(*) > {threshold}
               ORDER BY 2 DESC, 1 ASC LIMIT 10000""",
            [f"{T}.docPath", f"{T}.count"],
            tags=["aggregation"],
        ),
        BenchQuery(
            "high_cardinality_limit_10000",
            "The 10,000 most active users this year (high-cardinality GROUP BY, 10k rows back)",
            {"measures": [f"{T}.count"], "dimensions": [f"{T}.userId"],
             "timeDimensions": [{"dimension": f"{T}.derivedTstamp", "dateRange": "this year"}],
             "order": [[f"{T}.count", "desc"], [f"{T}.userId", "asc"]], "limit": 10000},
            """SELECT user_id, count(*) AS n
               FROM snowplow_events
               WHERE derived_tstamp >= TIMESTAMP '2026-01-01' AND derived_tstamp < TIMESTAMP '2027-01-01'
               GROUP BY 1 ORDER BY 2 DESC, 1 ASC LIMIT 10000""",
            [f"{T}.userId", f"{T}.count"],
            tags=["aggregation", "large-result"],
        ),
        BenchQuery(
            "ungrouped_limit_1000",
            "Raw events of November 1-20 (ungrouped), first 1000 by event id",
            {"dimensions": [f"{T}.eventId", f"{T}.eventName", f"{T}.docPath", f"{T}.userId"],
             "timeDimensions": [{"dimension": f"{T}.derivedTstamp",
                                 "dateRange": ["2026-11-01", "2026-11-20"]}],
             "ungrouped": True, "order": {f"{T}.eventId": "asc"}, "limit": 1000},
            """SELECT event_id, event_name, page_urlpath, user_id
               FROM snowplow_events
               WHERE derived_tstamp >= TIMESTAMP '2026-11-01' AND derived_tstamp < TIMESTAMP '2026-11-21'
               ORDER BY 1 LIMIT 1000""",
            [f"{T}.eventId", f"{T}.eventName", f"{T}.docPath", f"{T}.userId"],
            tags=["ungrouped"],
        ),
        BenchQuery(
            "join_users_plan",
            "Events and distinct known users per plan in October 2026 (LEFT JOIN users)",
            {"measures": [f"{T}.count", "Users.count"], "dimensions": ["Users.plan"],
             "timeDimensions": [{"dimension": f"{T}.derivedTstamp",
                                 "dateRange": ["2026-10-01", "2026-10-31"]}],
             "order": [[f"{T}.count", "desc"]]},
            """SELECT u.plan, count(*) AS events, count(DISTINCT u.user_id) AS users
               FROM snowplow_events e LEFT JOIN users u ON e.user_id = u.user_id
               WHERE e.derived_tstamp >= TIMESTAMP '2026-10-01' AND e.derived_tstamp < TIMESTAMP '2026-11-01'
               GROUP BY 1 ORDER BY 2 DESC""",
            ["Users.plan", f"{T}.count", "Users.count"],
            tags=["aggregation", "join"],
        ),
        BenchQuery(
            "small_one_hour",
            "Events by name in one hour (a small query: fixed overhead dominates)",
            {"measures": [f"{T}.count"], "dimensions": [f"{T}.eventName"],
             "timeDimensions": [{"dimension": f"{T}.derivedTstamp",
                                 "dateRange": ["2026-11-20T10:00:00.000",
                                               "2026-11-20T10:59:59.999"]}],
             "order": [[f"{T}.count", "desc"], [f"{T}.eventName", "asc"]]},
            """SELECT event_name, count(*) AS n
               FROM snowplow_events
               WHERE derived_tstamp >= TIMESTAMP '2026-11-20 10:00:00'
                 AND derived_tstamp < TIMESTAMP '2026-11-20 11:00:00'
               GROUP BY 1 ORDER BY 2 DESC, 1 ASC""",
            [f"{T}.eventName", f"{T}.count"],
            small=True, tags=["small"],
        ),
    ]
