"""The one error type the engine raises for bad input, carrying Cube's HTTP status and body.

Cube answers client mistakes in three shapes, and clients (and our conformance tests) can tell them
apart, so each has its own constructor:

>>> QueryError("Query param is required").body
{'error': 'Query param is required'}
>>> SchemaError("'nope' not found for path 'A.nope'").body
{'type': 'UserError', 'error': "'nope' not found for path 'A.nope'"}
"""

from __future__ import annotations


class CubeError(Exception):
    """An answer that is not data: HTTP `status` and the JSON `body` Cube sends with it."""

    def __init__(self, status: int, body: dict):
        super().__init__(body.get("error", ""))
        self.status = status
        self.body = body

    @property
    def message(self) -> str:
        return self.body.get("error", "")


class QueryError(CubeError):
    """The API gateway's validation errors: 400 `{"error": msg}`."""

    def __init__(self, message: str):
        super().__init__(400, {"error": message})


class SchemaError(CubeError):
    """The schema compiler's user errors (unknown member, no join path...): 400 with `type: UserError`."""

    def __init__(self, message: str):
        super().__init__(400, {"type": "UserError", "error": message})


class DatabaseError(CubeError):
    """The database refused the generated query (bad cast of a filter value...): 400 `Error: <db message>`."""

    def __init__(self, message: str):
        super().__init__(400, {"error": f"Error: {message}"})


class ModelError(Exception):
    """A cube model that cannot be loaded, naming the file, line and member at fault."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")
        self.file = file
        self.line = line
        self.reason = message
