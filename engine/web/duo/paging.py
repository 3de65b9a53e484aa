"""Relay connection pagination over an ordered list fetched with Cube's limit/offset.

Cursors are opaque to clients, as GitLab's are: the base64 of a small JSON object holding the
row's offset in the ordered result. Page size: 100 by default and at most 100 (GitLab's
`default_max_page_size`); a larger `first`/`last` is capped, as graphql-ruby caps it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Callable

from graphql import GraphQLError

MAX_PAGE_SIZE = 100
INVALID_CURSOR = "Please provide a valid cursor"


def encode_cursor(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": str(offset)}, separators=(",", ":"))
                            .encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        value = json.loads(base64.b64decode(cursor.encode(), validate=True))
        offset = int(value["offset"])
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise GraphQLError(INVALID_CURSOR) from None
    if offset < 0:
        raise GraphQLError(INVALID_CURSOR)
    return offset


@dataclass(frozen=True)
class Slice:
    offset: int   # first row of the page in the ordered result
    limit: int    # rows in the page (fetch limit + 1 to learn whether more follow)


def plan(args: dict, total: Callable[[], int]) -> Slice:
    """The page `first/after/last/before` select (Relay's algorithm); `total()` is only called
    for `last` without `before`."""
    for name in ("first", "last"):
        if args.get(name) is not None and args[name] < 0:
            raise GraphQLError(f"Argument '{name}' must be a non-negative integer")
    start = decode_cursor(args["after"]) + 1 if args.get("after") else 0
    end = decode_cursor(args["before"]) if args.get("before") else None
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        first = MAX_PAGE_SIZE
    if first is not None:
        first = min(first, MAX_PAGE_SIZE)
        end = start + first if end is None else min(end, start + first)
    if last is not None:
        last = min(last, MAX_PAGE_SIZE)
        if end is None:
            end = total()
        start = max(start, end - last)
    return Slice(start, max(0, end - start))


def connection(rows: list, window: Slice, to_node: Callable[[object], object]) -> dict:
    """The connection object for `rows` fetched at `window.offset` with `window.limit + 1`."""
    more = len(rows) > window.limit
    rows = rows[:window.limit]
    edges = [{"cursor": encode_cursor(window.offset + i), "node": to_node(row)}
             for i, row in enumerate(rows)]
    return {
        "edges": edges,
        "nodes": [e["node"] for e in edges],
        "pageInfo": {
            "hasNextPage": more,
            "hasPreviousPage": window.offset > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }
