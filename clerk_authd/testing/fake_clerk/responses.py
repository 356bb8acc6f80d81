"""How FakeClerk answers: Clerk's JSON, and Clerk's error body (``errors[]`` and ``clerk_trace_id``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson
from aiohttp import web

MSG_INVALID_SECRET_KEY: Final = (
    "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct."
)
GARBAGE_BODY: Final = "<html><body>502 Bad Gateway (not JSON)</body></html>"
TRACE_ID: Final = "fake"


def clerk_error(
    code: str, message: str, long_message: str | None = None, meta: Mapping[str, Any] | None = None
) -> dict[str, object]:
    """One entry of Clerk's ``errors[]``."""
    return {"code": code, "message": message, "long_message": long_message or message, "meta": dict(meta or {})}


def errors_response(
    status: int, errors: list[dict[str, object]], headers: Mapping[str, str] | None = None
) -> web.Response:
    """Clerk's error body with ``status``."""
    return json_response({"errors": errors, "clerk_trace_id": TRACE_ID}, status=status, headers=headers)


def json_response(value: object, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(value, status=status, headers=headers, dumps=lambda v: orjson.dumps(v).decode())
