"""Multi-cube queries: join trees, fan-out safety, views. Answers checked against plain SQL.

The data has customers with several orders (one_to_many), orders with several line items,
an order whose customer is missing, a customer with no orders, and NULL amounts.
"""

import duckdb
import pytest

from engine import CubeError, Engine

MODEL = """\
cubes:
  - name: Customers
    sql_table: customers
    joins:
      - name: Orders
        relationship: one_to_many
        sql: "{CUBE}.id = {Orders}.customer_id"
    measures:
      - name: count
        type: count
      - name: totalCredit
        type: sum
        sql: credit
      - name: averageCredit
        type: avg
        sql: credit
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: city
        sql: city
        type: string
      - name: orderCount
        sql: "{Orders.count}"
        type: number
        sub_query: true
      - name: tier
        type: string
        case:
          when:
            - sql: "{CUBE}.credit >= 100"
              label: gold
          else:
            label: basic
  - name: Orders
    sql_table: orders
    joins:
      - name: LineItems
        relationship: has_many
        sql: "{CUBE}.id = {LineItems.orderId}"
    measures:
      - name: count
        type: count
      - name: totalAmount
        type: sum
        sql: amount
      - name: amountPerCustomer
        type: number
        sql: "{totalAmount} / NULLIF({Customers.count}, 0)"
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: status
        sql: status
        type: string
  - name: LineItems
    sql_table: line_items
    measures:
      - name: count
        type: count
      - name: quantity
        type: sum
        sql: quantity
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: orderId
        sql: order_id
        type: number
      - name: product
        sql: product
        type: string
  - name: Lonely
    sql_table: customers
    measures:
      - name: count
        type: count
  - name: BigCustomers
    extends: Customers
    sql: "SELECT * FROM customers WHERE credit >= 100"
views:
  - name: Sales
    cubes:
      - join_path: Customers
        includes: [city, totalCredit]
      - join_path: Customers.Orders
        prefix: true
        includes: "*"
        excludes: [id]
      - join_path: Customers.Orders.LineItems
        alias: item
        prefix: true
        includes: [quantity]
"""

DATA = """
CREATE TABLE customers AS SELECT * FROM (VALUES
  (1, 'Berlin', 100), (2, 'Berlin', 50), (3, 'Paris', NULL), (4, NULL, 30)) t(id, city, credit);
CREATE TABLE orders AS SELECT * FROM (VALUES
  (10, 1, 'paid', 20.0), (11, 1, 'paid', 30.0), (12, 1, 'open', NULL), (13, 2, 'paid', 5.0),
  (14, 3, 'open', 7.0), (15, 99, 'paid', 100.0)) t(id, customer_id, status, amount);
CREATE TABLE line_items AS SELECT * FROM (VALUES
  (100, 10, 'a', 1), (101, 10, 'b', 2), (102, 11, 'a', 3), (103, 13, 'c', 4), (104, 13, 'c', 5),
  (105, 14, 'a', 6)) t(id, order_id, product, quantity);
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    (models / "shop.yml").write_text(MODEL)
    con = duckdb.connect()
    con.execute(DATA)
    return Engine(models=models, database=con)


def answer(engine, query) -> list[tuple]:
    data = engine.load(query)["data"]
    return [tuple(row.values()) for row in data]


def sql_answer(engine, sql) -> list[tuple]:
    def js(v):
        if v is None:
            return None
        return str(int(v)) if float(v).is_integer() else str(v)
    return [tuple(js(v) if not isinstance(v, str) else v for v in row)
            for row in engine.connection.execute(sql).fetchall()]


def test_sum_of_the_one_side_is_not_inflated_by_its_many_side(engine):
    query = {"measures": ["Customers.totalCredit", "Orders.count"],
             "dimensions": ["Customers.city"], "order": {"Customers.city": "asc"}}
    assert answer(engine, query) == sql_answer(engine, """
        SELECT c.city, sum(c.credit), (SELECT count(o.id) FROM customers c2
            LEFT JOIN orders o ON o.customer_id = c2.id WHERE c2.city IS NOT DISTINCT FROM c.city)
        FROM customers c GROUP BY c.city ORDER BY c.city NULLS LAST""")


def test_average_over_a_fan_out_uses_each_row_once(engine):
    query = {"measures": ["Customers.averageCredit"], "dimensions": ["Orders.status"],
             "order": {"Orders.status": "asc"}}
    assert answer(engine, query) == sql_answer(engine, """
        SELECT k.status, avg(c.credit) FROM (SELECT DISTINCT o.status, c.id FROM customers c
            LEFT JOIN orders o ON o.customer_id = c.id) k JOIN customers c ON c.id = k.id
        GROUP BY 1 ORDER BY 1 NULLS LAST""")


def test_chain_of_one_to_many_keeps_every_level_exact(engine):
    query = {"measures": ["Customers.totalCredit", "Orders.totalAmount", "LineItems.quantity"]}
    assert answer(engine, query) == sql_answer(engine, """
        SELECT (SELECT sum(credit) FROM customers),
               (SELECT sum(amount) FROM orders WHERE customer_id IN (SELECT id FROM customers)),
               (SELECT sum(quantity) FROM line_items WHERE order_id IN
                   (SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id))""")


def test_count_of_a_multiplied_cube_counts_distinct_keys(engine):
    assert answer(engine, {"measures": ["Customers.count"], "dimensions": ["LineItems.product"],
                           "order": {"LineItems.product": "asc"}}) == sql_answer(engine, """
        SELECT li.product, count(DISTINCT c.id) FROM customers c
        LEFT JOIN orders o ON o.customer_id = c.id LEFT JOIN line_items li ON li.order_id = o.id
        GROUP BY 1 ORDER BY 1 NULLS LAST""")


def test_root_is_the_cube_that_reaches_the_others(engine):
    # Orders cannot reach Customers (the join is declared on Customers), so Customers is the root.
    sql = engine.sql({"measures": ["Orders.count"], "dimensions": ["Customers.city"]})
    assert 'FROM customers AS "customers" LEFT JOIN orders' in sql["sql"]["sql"][0]


def test_unreachable_cubes_are_refused(engine):
    with pytest.raises(CubeError, match="Can't find join path to join 'LineItems', 'Lonely'"):
        engine.load({"measures": ["LineItems.count", "Lonely.count"]})


def test_case_dimension_labels_rows(engine):
    assert answer(engine, {"measures": ["Customers.count"], "dimensions": ["Customers.tier"],
                           "order": {"Customers.tier": "asc"}}) == [("basic", "3"), ("gold", "1")]


def test_extended_cube_inherits_members_over_its_own_sql(engine):
    assert answer(engine, {"measures": ["BigCustomers.count", "BigCustomers.totalCredit"]}) == [
        ("1", "100")]


def test_view_members_answer_like_their_cube_members(engine):
    through_view = answer(engine, {"measures": ["Sales.totalCredit", "Sales.Orders_count",
                                                "Sales.item_quantity"],
                                   "dimensions": ["Sales.city"], "order": {"Sales.city": "asc"}})
    direct = answer(engine, {"measures": ["Customers.totalCredit", "Orders.count",
                                          "LineItems.quantity"],
                             "dimensions": ["Customers.city"], "order": {"Customers.city": "asc"}})
    assert through_view == direct


def test_view_rows_are_keyed_by_view_members(engine):
    data = engine.load({"measures": ["Sales.Orders_count"], "dimensions": ["Sales.Orders_status"],
                        "order": {"Sales.Orders_status": "asc"}, "limit": 1})["data"]
    assert data == [{"Sales.Orders_status": "open", "Sales.Orders_count": "2"}]


def test_view_in_meta(engine):
    sales = next(c for c in engine.meta()["cubes"] if c["name"] == "Sales")
    assert sales["type"] == "view"
    assert [m["name"] for m in sales["measures"]] == [
        "Sales.totalCredit", "Sales.Orders_count", "Sales.Orders_totalAmount",
        "Sales.Orders_amountPerCustomer", "Sales.item_quantity"]
    assert sales["measures"][1]["aliasMember"] == "Orders.count"


def test_calculated_measure_over_a_fan_out_uses_exact_parts(engine):
    # Customers is multiplied by Orders and LineItems; the number measure divides two exact sums.
    query = {"measures": ["Orders.amountPerCustomer", "LineItems.quantity"],
             "dimensions": ["Customers.city"], "order": {"Customers.city": "asc"}}
    expected = sql_answer(engine, """
        SELECT c.city, sum(o.amount) / NULLIF(count(DISTINCT c.id), 0),
               (SELECT sum(li.quantity) FROM customers c2 JOIN orders o2 ON o2.customer_id = c2.id
                JOIN line_items li ON li.order_id = o2.id WHERE c2.city IS NOT DISTINCT FROM c.city)
        FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
        GROUP BY c.city ORDER BY c.city NULLS LAST""")
    assert answer(engine, query) == expected


def test_measure_filter_on_a_multiplied_measure_filters_exact_values(engine):
    query = {"measures": ["Customers.totalCredit"], "dimensions": ["Orders.status"],
             "filters": [{"member": "Customers.totalCredit", "operator": "gt", "values": ["60"]}],
             "order": {"Orders.status": "asc"}}
    # open: customers 1 (100) and 3 (NULL); paid: 1 and 2; no orders: customer 4 (30, dropped).
    assert answer(engine, query) == [("open", "100"), ("paid", "150")]


def test_sub_query_dimension_is_computed_per_row_of_its_cube(engine):
    query = {"measures": ["Customers.count", "Customers.totalCredit"],
             "dimensions": ["Customers.orderCount"], "order": {"Customers.orderCount": "asc"}}
    assert answer(engine, query) == sql_answer(engine, """
        SELECT n, count(*), sum(credit) FROM (SELECT c.id, c.credit, count(o.id) AS n
            FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.credit)
        GROUP BY n ORDER BY n""")


def test_sub_query_dimension_does_not_join_its_measure_cube_into_the_query(engine):
    sql = engine.sql({"measures": ["Customers.totalCredit"], "dimensions": ["Customers.orderCount"]})
    text = sql["sql"]["sql"][0]
    assert 'LEFT JOIN orders AS "orders"' not in text and "customers_order_count_subquery" in text


def test_view_dimensions_are_never_primary_keys(engine):
    sales = next(c for c in engine.meta()["cubes"] if c["name"] == "Sales")
    assert all(d["primaryKey"] is False and d["public"] for d in sales["dimensions"])


def test_multiplied_measure_alone_filtered_on_the_fanning_cube(engine):
    query = {"measures": ["Customers.totalCredit"],
             "filters": [{"member": "Orders.status", "operator": "equals", "values": ["paid"]}]}
    # Customers 1 (100) and 2 (50) have paid orders; each counts once.
    assert answer(engine, query) == [("150",)]


def test_time_dimension_without_granularity_or_range_still_joins_its_cube():
    from pathlib import Path
    conformance = Path(__file__).parent.parent / "conformance"
    shop = Engine(models=conformance / "model", database=conformance / "data")
    sql = shop.sql({"measures": ["Users.count"],
                    "timeDimensions": [{"dimension": "Orders.createdAt"}]})["sql"]["sql"][0]
    assert 'FROM orders AS "orders" LEFT JOIN users AS "users"' in sql
