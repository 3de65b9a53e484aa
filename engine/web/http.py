"""What every route shares: reading a request's parameters and writing a JSON response."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from flask import Response, request

from engine.errors import CubeError
from engine.respond import encode_json, parse_json_body

log = logging.getLogger("duckcube")

# Largest request body read (README "Reliability"); `DUCKCUBE_MAX_BODY_BYTES` overrides it.
# Larger is 413 with Cube's `{"error": ...}` shape: the status says what went wrong, and a
# client retrying a 400 unchanged is as wrong as retrying a 413.
MAX_BODY_BYTES = 1024 * 1024


def max_body_bytes() -> int:
    try:
        return int(os.environ.get("DUCKCUBE_MAX_BODY_BYTES", MAX_BODY_BYTES))
    except ValueError:
        return MAX_BODY_BYTES


def _too_large(limit: int) -> CubeError:
    return CubeError(413, {"error": f"Request body is too large: the limit is {limit} bytes"})


def json_response(body: Any, status: int = 200) -> Response:
    """`body` (or its encoding, when already `bytes`) as an application/json response."""
    data = body if isinstance(body, bytes) else encode_json(body)
    return Response(data, status=status, mimetype="application/json")


def request_params() -> dict:
    """Parameters from the query string (GET) or the JSON body (POST); a body that is not an
    object reads as no parameters. A malformed body is CubeError 400 (Cube answers 500; it is
    the caller's mistake)."""
    if request.method == "GET":
        return request.args.to_dict()
    limit = max_body_bytes()
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    # A chunked body (no Content-Length) is read only as far as the limit.
    raw = request.get_data() if request.content_length is not None else (
        request.stream.read(limit + 1))
    if len(raw) > limit:
        raise _too_large(limit)
    if not raw.strip():
        return {}
    try:
        body = parse_json_body(raw)
    except json.JSONDecodeError as exc:
        if not raw.decode(errors="replace").strip():  # only Unicode whitespace
            return {}
        raise CubeError(400, {"error": f"Unable to decode query param as JSON, error: "
                                       f"{exc.msg}"}) from None
    return body if isinstance(body, dict) else {}
