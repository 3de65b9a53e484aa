"""What every route shares: reading a request's parameters and writing a JSON response."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Response, request

from engine.errors import CubeError
from engine.respond import encode_json, parse_json_body

log = logging.getLogger("duckcube")


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
    raw = request.get_data()
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
