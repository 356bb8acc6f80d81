"""Where Clerk's ``authenticateRequest`` throws for input a client chose, the service and the Sanic SDK answer an
ordinary signed-out decision (reason ``unexpected-error``, Clerk's message) instead of a 500.

The two triggers of clerk-semantics §2 and §9: a handshake token that does not verify on a development instance,
and a satellite request whose ``Origin`` is its sign-in URL's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse, text

from clerk_authd.config import load_settings
from clerk_authd.sanic import clerk_middleware, get_auth, require_auth
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import Answer, Running, assert_identity_headers, unique_app_name

StartService = Callable[..., Awaitable[Running]]
ServeApp = Callable[[Sanic[Any, Any]], Awaitable[Running]]
#: Clerk's message for a handshake token that is not a JWT, on a development instance
BAD_HANDSHAKE_MESSAGE = re.compile(r"^Clerk: Handshake token verification failed: .+\.$")
SATELLITE_MESSAGE = "The signInUrl needs to be on a different origin than your satellite application."
SATELLITE = {
    "CLERK_IS_SATELLITE": "true",
    "CLERK_DOMAIN": "satellite.example.com",
    "CLERK_SIGN_IN_URL": "https://app.example.com/sign-in",
}
FROM_SIGN_IN_ORIGIN = {"Origin": "https://app.example.com"}
HANDSHAKE_COOKIE = {"Cookie": "__clerk_handshake=abc"}


class Call(NamedTuple):
    """One decision request and the status its answer family gives a signed-out request."""

    endpoint: str
    path: str
    headers: dict[str, str]
    status: int


BAD_HANDSHAKE_CALLS = [
    Call("/verify", "/verify", {"X-Original-URL": "https://app.example/x?__clerk_handshake=abc"}, 401),
    Call("/verify", "/verify", HANDSHAKE_COOKIE, 401),
    Call("/forward-auth", "/forward-auth", HANDSHAKE_COOKIE, 401),
    Call("/ext-authz", "/ext-authz/x?__clerk_handshake=abc", {"Host": "app.example"}, 401),
    Call("/auth", "/auth", HANDSHAKE_COOKIE, 200),
    Call("/has", "/has?permission=org:invoices:read", HANDSHAKE_COOKIE, 401),
    Call("/auth", "/auth?__clerk_handshake=abc", {}, 200),
    Call("/has", "/has?permission=org:invoices:read&__clerk_handshake=abc", {}, 401),
]


def decision_lines(err: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("msg") == "decision"]


def assert_signed_out_unexpected(answer: Answer, message: re.Pattern[str] | str) -> None:
    """A complete signed-out decision answer: every identity header, no-store, Clerk's thrown message."""
    assert_identity_headers(answer)
    assert answer.headers["X-Clerk-Auth-Status"] == "signed-out"
    assert answer.headers["X-Clerk-Auth-Reason"] == "unexpected-error"
    if isinstance(message, str):
        assert answer.headers["X-Clerk-Auth-Message"] == message
    else:
        assert message.match(answer.headers["X-Clerk-Auth-Message"])
    assert answer.headers["X-Clerk-User-Id"] == ""
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("call", BAD_HANDSHAKE_CALLS, ids=lambda call: f"{call.path} {sorted(call.headers)}")
async def test_a_bad_handshake_token_on_a_development_instance_is_signed_out(
    start_service: StartService, fake_clerk: FakeClerk, capsys: pytest.CaptureFixture[str], call: Call
) -> None:
    """Clerk throws; each endpoint answers signed-out (unexpected-error) as its family does, logged and counted."""
    dev = await start_service(fake_clerk, CLERK_AUTHD_LOG_LEVEL="info")
    answer = await dev.call(call.path, headers=call.headers)
    endpoint, status = call.endpoint, call.status
    assert answer.status == status
    assert_signed_out_unexpected(answer, BAD_HANDSHAKE_MESSAGE)
    (line,) = decision_lines(capsys.readouterr().err)
    assert (line["endpoint"], line["status"], line["auth_status"], line["reason"]) == (
        endpoint,
        status,
        "signed-out",
        "unexpected-error",
    )
    metrics = (await dev.call("/metrics")).body.decode()
    assert f'clerk_authd_decisions_total{{endpoint="{endpoint}",reason="unexpected-error",status="{status}"}} 1.0' in (
        metrics
    )


async def test_forward_auth_answers_the_bad_handshake_with_401_json(
    start_service: StartService, fake_clerk: FakeClerk
) -> None:
    """The JSON denial says why in Clerk's words."""
    dev = await start_service(fake_clerk)
    body = (await dev.call("/forward-auth", headers=HANDSHAKE_COOKIE)).json()
    assert (body["status"], body["reason"]) == ("signed-out", "unexpected-error")
    assert BAD_HANDSHAKE_MESSAGE.match(body["message"])


async def test_a_satellite_request_from_its_sign_in_origin_is_signed_out(
    start_service: StartService, live_clerk: FakeClerk
) -> None:
    """Clerk throws for a satellite whose sign-in page is on the requesting origin; we answer signed-out, 401."""
    running = await start_service(live_clerk, **SATELLITE)
    answer = await running.call("/verify", headers=FROM_SIGN_IN_ORIGIN)
    assert answer.status == 401
    assert_signed_out_unexpected(answer, SATELLITE_MESSAGE)


# --- the Sanic SDK -------------------------------------------------------------------------------------------


def sdk_app(settings: Any) -> Sanic[Any, Any]:
    app: Sanic[Any, Any] = Sanic(unique_app_name("sdk_throws"), configure_logging=False)
    clerk_middleware(app, settings=settings)

    @app.get("/api/me")
    async def me(request: Request) -> HTTPResponse:
        return text(f"user={get_auth(request).user_id}")

    @app.get("/dashboard")
    @require_auth
    async def dashboard(request: Request) -> HTTPResponse:
        return text("dashboard")

    return app


@pytest.mark.parametrize("trigger", ["bad-handshake", "satellite"])
async def test_the_sdk_runs_the_handler_signed_out_where_clerk_throws(
    serve_app: ServeApp,
    fake_clerk: FakeClerk,
    fake_variables: Callable[[FakeClerk], dict[str, str]],
    trigger: str,
) -> None:
    """clerk_middleware: the handler sees a signed-out auth object and the answer carries Clerk's debug headers;
    require_auth: 401 JSON. Never a 500."""
    extra, headers = ({}, HANDSHAKE_COOKIE) if trigger == "bad-handshake" else (SATELLITE, FROM_SIGN_IN_ORIGIN)
    running = await serve_app(sdk_app(load_settings({**fake_variables(fake_clerk), **extra})))
    me = await running.call("/api/me", headers=headers)
    assert (me.status, me.body) == (200, b"user=None")
    assert me.headers["x-clerk-auth-status"] == "signed-out"
    assert me.headers["x-clerk-auth-reason"] == "unexpected-error"
    guarded = await running.call("/dashboard", headers=headers)
    assert guarded.status == 401
    assert guarded.json()["reason"] == "unexpected-error"
