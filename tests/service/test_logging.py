"""One log line per decision: JSON by default or text, the facts an operator needs, never a token."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from clerk_authd.service import logging as decision_logging
from clerk_authd.service.logging import DecisionLine, configure_logging, log_decision
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import Running, bearer

StartService = Callable[..., Awaitable[Running]]


def decision_lines(err: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("msg") == "decision"]


async def test_each_decision_is_one_json_line(
    start_service: StartService, live_clerk: FakeClerk, capsys: pytest.CaptureFixture[str]
) -> None:
    """endpoint, status, reason, user id, kid, cache hit or miss, duration; no message unless debugging."""
    running = await start_service(live_clerk, CLERK_AUTHD_LOG_LEVEL="info")
    token = live_clerk.session_token(user_id="user_1", ttl_s=600)
    await running.call("/verify", headers=bearer(token))
    await running.call("/verify?role=admin", headers=bearer(token))
    await running.call("/forward-auth", headers=bearer("garbage"))
    first, second, third = decision_lines(capsys.readouterr().err)
    assert first["endpoint"] == "/verify"
    assert (first["status"], first["auth_status"], first["user_id"]) == (200, "signed-in", "user_1")
    assert (first["kid"], first["cache"]) == (live_clerk.mint.kid, "miss")
    assert first["duration_ms"] >= 0
    assert "reason" not in first
    assert (second["status"], second["reason"], second["cache"]) == (403, "requirement-not-met", "hit")
    assert second["requirement"] == "role=admin"
    assert (third["status"], third["reason"]) == (401, "token-invalid")
    assert "message" not in third


async def test_debug_adds_clerks_message_but_never_the_token(
    start_service: StartService, live_clerk: FakeClerk, capsys: pytest.CaptureFixture[str]
) -> None:
    """CLERK_AUTHD_DEBUG=true logs the message; neither the token nor the handshake URL (which holds it) appears."""
    running = await start_service(live_clerk, CLERK_AUTHD_LOG_LEVEL="info", CLERK_AUTHD_DEBUG="true")
    token = live_clerk.session_token(user_id="user_1", ttl_s=60, now=0)
    cookie = {"Cookie": f"__session={token}; __client_uat=1", "Sec-Fetch-Dest": "document"}
    await running.call("/verify", headers={"Authorization": f"Bearer {token}"})
    await running.call("/verify", headers=cookie)
    err = capsys.readouterr().err
    expired, handshake = decision_lines(err)
    assert expired["message"].startswith("JWT is expired.")
    assert handshake["auth_status"] == "handshake"
    assert token not in err
    assert token.split(".")[1] not in err


async def test_text_format(
    start_service: StartService, live_clerk: FakeClerk, capsys: pytest.CaptureFixture[str]
) -> None:
    """CLERK_AUTHD_LOG_FORMAT=text writes key=value pairs after the message."""
    running = await start_service(live_clerk, CLERK_AUTHD_LOG_LEVEL="info", CLERK_AUTHD_LOG_FORMAT="text")
    await running.call("/verify")
    assert "decision endpoint=/verify status=401 auth_status=signed-out reason=session-token-and-uat-missing" in (
        capsys.readouterr().err
    )


async def test_a_bad_request_is_logged_with_its_parameter(
    start_service: StartService, live_clerk: FakeClerk, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator's mistake is a warning naming the endpoint and parameter."""
    running = await start_service(live_clerk)
    await running.call("/verify?colour=blue")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    (warning,) = [line for line in lines if line.get("msg") == "bad request"]
    assert (warning["level"], warning["endpoint"], warning["parameter"]) == ("warning", "/verify", "colour")


@pytest.mark.parametrize("status", [200, 503])
def test_the_direct_line_is_the_one_the_logging_module_writes(monkeypatch: pytest.MonkeyPatch, status: int) -> None:
    """Where our JSON handler is the only one, a decision line skips the logging module's records; it is the line
    ``JsonFormatter`` writes for the same decision (fields, order, level), but for its own timestamp."""
    configure_logging("json", "INFO")
    handler = decision_logging._json_handler
    assert handler is not None
    stream = io.StringIO()
    monkeypatch.setattr(handler, "stream", stream)
    monkeypatch.setattr(logging.root, "handlers", [handler])
    line = DecisionLine("/verify", status, "signed-in", None, "user_1", "kid_1", "hit", 0.1234, requirement="role=x")
    log_decision(line, debug=False)
    monkeypatch.setattr(logging.root, "handlers", [handler, logging.NullHandler()])  # another handler: via logging
    log_decision(line, debug=False)
    direct, through_logging = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert direct.pop("ts") > 0
    assert through_logging.pop("ts") > 0
    assert list(direct.items()) == list(through_logging.items())
    assert direct["level"] == ("info" if status < 500 else "warning")


async def test_direct_lines_of_one_loop_iteration_are_written_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a running event loop the direct lines wait for the end of the loop iteration, then go in one write."""
    configure_logging("json", "INFO")
    handler = decision_logging._json_handler
    assert handler is not None
    writes: list[str] = []
    stream = io.StringIO()
    monkeypatch.setattr(stream, "write", writes.append)
    monkeypatch.setattr(handler, "stream", stream)
    monkeypatch.setattr(logging.root, "handlers", [handler])
    for user in ("user_1", "user_2"):
        log_decision(DecisionLine("/verify", 200, "signed-in", None, user, None, "hit", 0.1), debug=False)
    assert writes == []
    await asyncio.sleep(0)
    assert [[json.loads(line)["user_id"] for line in text.splitlines()] for text in writes] == [["user_1", "user_2"]]
