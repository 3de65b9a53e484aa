"""Cube's GraphQL API over the conformance model: schema, query translation, results."""

import pytest

from engine.web.graphql import GraphQLAPI, type_name

api = GraphQLAPI()


def run(engine, source, variables=None):
    return api.execute(engine, source, variables)


def json_query(engine, source, variables=None):
    """The Cube JSON query a GraphQL request becomes."""
    seen = {}

    class Spy:
        model, model_version = engine.model, engine.model_version

        def meta(self):
            return engine.meta()

        def load(self, query, *args, **kwargs):
            seen["query"] = query
            return engine.load(query)

    status, body = api.execute(Spy(), source, variables)
    assert status == 200, body
    return seen["query"]


def test_the_spec_example(engine):
    status, body = run(engine, """
      query { cube(limit: 2, where: {orders: {status: {equals: "completed"}}},
                   orderBy: {orders: {count: desc}}) {
        orders { count status createdAt { month } } } }""")
    assert status == 200
    rows = body["data"]["cube"]
    expected = engine.load({"measures": ["Orders.count"], "dimensions": ["Orders.status"],
                            "timeDimensions": [{"dimension": "Orders.createdAt",
                                                "granularity": "month"}],
                            "filters": [{"member": "Orders.status", "operator": "equals",
                                         "values": ["completed"]}],
                            "order": [["Orders.count", "desc"]], "limit": 2})["data"]
    assert rows == [{"orders": {"count": int(r["Orders.count"]), "status": "completed",
                                "createdAt": {"month": r["Orders.createdAt.month"] + "Z"}}}
                    for r in expected]
    assert set(body["extensions"]) == {"annotation", "lastRefreshTime"}


def test_selection_arguments_and_filters_become_a_cube_query(engine):
    query = json_query(engine, """
      query { cube(limit: 5, offset: 1, timezone: "America/New_York", renewQuery: true,
                   where: {OR: [{orders: {status: {in: ["completed", "shipped"]}}},
                                {orders: {amount: {gt: 100}}}]}) {
        orders(where: {createdAt: {inDateRange: "last year"}, isPaid: {set: true}},
               orderBy: {createdAt: asc}) {
          totalAmount createdAt { value day } } } }""")
    assert query == {
        "measures": ["Orders.totalAmount"],
        "dimensions": ["Orders.createdAt"],
        "timeDimensions": [{"dimension": "Orders.createdAt", "granularity": "day",
                            "dateRange": "last year"}],
        "order": [["Orders.createdAt", "asc"]],
        "limit": 5, "offset": 1, "timezone": "America/New_York",
        "filters": [{"member": "Orders.isPaid", "operator": "set"},
                    {"or": [{"member": "Orders.status", "operator": "equals",
                             "values": ["completed", "shipped"]},
                            {"member": "Orders.amount", "operator": "gt", "values": ["100"]}]}],
        "renewQuery": True,
    }


def test_date_range_without_a_granularity_becomes_a_time_dimension_filter(engine):
    query = json_query(engine, """
      query { cube { orders(where: {createdAt: {inDateRange: ["2024-01-01", "2024-01-31"]}}) {
        count } } }""")
    assert query["timeDimensions"] == [{"dimension": "Orders.createdAt",
                                        "dateRange": ["2024-01-01", "2024-01-31"]}]
    assert "filters" not in query


def test_variables_and_directives(engine):
    query = json_query(engine, """
      query ($status: String, $withAmount: Boolean!) { cube(where: {orders: {status: {equals: $status}}}) {
        orders { count totalAmount @include(if: $withAmount) } } }""",
                       {"status": "completed", "withAmount": False})
    assert query == {"measures": ["Orders.count"],
                     "filters": [{"member": "Orders.status", "operator": "equals",
                                  "values": ["completed"]}]}


def test_times_are_utc_instants_in_the_query_time_zone(engine):
    status, body = run(engine, """
      query { cube(limit: 1, timezone: "America/New_York", orderBy: {orders: {createdAt: asc}}) {
        orders { createdAt { day } } } }""")
    assert status == 200
    day = engine.load({"timeDimensions": [{"dimension": "Orders.createdAt", "granularity": "day"}],
                       "timezone": "America/New_York", "limit": 1,
                       "order": [["Orders.createdAt", "asc"]]})["data"][0]["Orders.createdAt.day"]
    assert body["data"]["cube"][0]["orders"]["createdAt"]["day"] == day.replace(
        "T00:00:00.000", "T05:00:00.000Z")


def test_the_schema_follows_the_model(engine):
    status, body = run(engine, '{ __type(name: "OrdersMembers") { fields { name type { name } } } }')
    fields = {f["name"]: f["type"]["name"] for f in body["data"]["__type"]["fields"]}
    assert fields["count"] == "Float" and fields["status"] == "String"
    assert fields["createdAt"] == "TimeDimension" and fields["amount"] == "Float"
    assert "id" in fields  # public primary key
    status, body = run(engine, '{ __type(name: "SessionsMembers") { fields { name } } }')
    assert "sessionId" not in {f["name"] for f in body["data"]["__type"]["fields"]}  # hidden


@pytest.mark.parametrize("source, status", [
    ("{ cube { orders { nope } } }", 400),  # not in the schema
    ("{ cube { orders { count ", 400),  # does not parse
    ("", 400),
])
def test_bad_requests_are_400_with_errors(engine, source, status):
    got, body = run(engine, source)
    assert got == status and body["errors"]


def test_a_cube_error_is_a_graphql_error(engine):
    status, body = run(engine, '{ cube(where: {orders: {createdAt: {inDateRange: "someday"}}}) '
                               "{ orders { count } } }")
    assert status == 400 and body["data"] is None
    assert "someday" in body["errors"][0]["message"]


def test_type_names_camelize_like_inflection():
    assert type_name("tracked_events") == "TrackedEvents" and type_name("Orders") == "Orders"
