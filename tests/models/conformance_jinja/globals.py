# Python helpers for the Jinja version of the conformance model, written against Cube's API.
from cube import TemplateContext

from helpers_sibling import count_measure  # a sibling module, found beside globals.py

template = TemplateContext()

template.add_variable("amount_aggregates", {
    "totalAmount": "sum", "averageAmount": "avg", "minAmount": "min", "maxAmount": "max",
})


@template.function("table")
def table(name):
    return name


@template.function
def count():
    return count_measure()


@template.filter("camel")
def camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)
