"""A decision begun at once on the wire, finished there or handed over to Sanic's reading of the same request."""

from __future__ import annotations

import asyncio
import gc
from contextvars import ContextVar
from types import SimpleNamespace
from typing import Any

import pytest
from sanic import Request, Sanic
from sanic.compat import Header

from clerk_authd.service.handover import (
    HandedOver,
    begin_now,
    forget_handed_over,
    hand_over,
    is_handed_over,
    take_handed_over,
)
from tests.servers import unique_app_name

APP = Sanic(unique_app_name("handover"))
HEAD = b"GET /verify HTTP/1.1\r\nhost: authd.test"


async def answer_now() -> str:
    return "answered"


async def fail_now() -> str:
    raise LookupError("no such key")


async def wait_for(future: asyncio.Future[str]) -> str:
    try:
        return "got " + await future
    except LookupError as exc:
        return f"caught {exc}"


async def test_a_decision_that_never_waits_is_done_at_once() -> None:
    decision = begin_now(answer_now())
    assert decision.done()
    assert decision.result() == "answered"


async def test_a_decision_that_raises_at_once_keeps_its_exception_for_the_handler() -> None:
    decision = begin_now(fail_now())
    assert decision.done()
    with pytest.raises(LookupError, match="no such key"):
        decision.result()


async def test_a_decision_that_waits_goes_on_as_a_task_with_what_it_awaited() -> None:
    awaited: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    decision = begin_now(wait_for(awaited))
    await asyncio.sleep(0)
    assert not decision.done()
    awaited.set_result("keys")
    assert await decision == "got keys"


async def test_the_exception_of_what_it_awaited_is_raised_inside_the_decision() -> None:
    awaited: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    decision = begin_now(wait_for(awaited))
    awaited.set_exception(LookupError("gone"))
    assert await decision == "caught gone"


async def test_a_decision_going_on_is_cancelled_with_its_task() -> None:
    awaited: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    decision = begin_now(wait_for(awaited))
    await asyncio.sleep(0)
    decision.cancel()
    with pytest.raises(asyncio.CancelledError):
        await decision
    assert awaited.cancelled()


async def cancelled_under_it() -> str:
    cancelled: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    cancelled.cancel()
    return await cancelled


async def test_a_decision_cancelled_in_its_first_step_is_a_cancelled_future_nobody_takes() -> None:
    assert begin_now(cancelled_under_it()).cancelled()


STEP: ContextVar[str] = ContextVar("step", default="none")


async def set_then_wait(future: asyncio.Future[str]) -> str:
    STEP.set("first step")
    await future
    return STEP.get()


async def test_the_first_step_runs_in_a_copy_of_the_context_that_the_task_goes_on_in() -> None:
    """What a decision sets in its context stays its own: the protocol's callbacks do not see it."""
    awaited: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    decision = begin_now(set_then_wait(awaited))
    assert STEP.get() == "none"
    awaited.set_result("")
    assert await decision == "first step"


def request_on(connection: SimpleNamespace, head: bytes) -> Request:
    """A request Sanic read with ``head`` on a connection whose ``ConnInfo.ctx`` is ``connection``."""
    request = Request(b"/verify", Header({"host": "authd.test"}), "1.1", "GET", None, APP, head=head)
    conn_info: Any = SimpleNamespace(ctx=connection)
    request.conn_info = conn_info
    return request


async def test_the_request_of_the_same_head_takes_the_decision_once() -> None:
    connection = SimpleNamespace()
    handed = HandedOver(HEAD, begin_now(answer_now()), 1.0)
    hand_over(connection, handed)  # type: ignore[arg-type]
    request = request_on(connection, HEAD)
    assert is_handed_over(request)
    assert take_handed_over(request) is handed
    assert not is_handed_over(request)
    assert take_handed_over(request) is None


async def test_a_request_of_another_head_takes_nothing_and_the_decision_is_dropped() -> None:
    connection = SimpleNamespace()
    awaited: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    decision = begin_now(wait_for(awaited))
    hand_over(connection, HandedOver(HEAD, decision, 1.0))  # type: ignore[arg-type]  # a str for a verdict
    other = request_on(connection, HEAD + b"\r\nx-other: 1")
    assert not is_handed_over(other)
    assert take_handed_over(other) is None
    await asyncio.sleep(0)
    assert decision.cancelled()


async def test_what_an_idle_connection_was_left_is_forgotten_and_cancelled() -> None:
    connection = SimpleNamespace()
    awaited: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    decision = begin_now(wait_for(awaited))
    hand_over(connection, HandedOver(HEAD, decision, 1.0))  # type: ignore[arg-type]
    forget_handed_over(connection)
    assert take_handed_over(request_on(connection, HEAD)) is None
    await asyncio.sleep(0)
    assert decision.cancelled()


async def test_a_failed_decision_left_untaken_has_its_exception_retrieved() -> None:
    """Dropped without a word: asyncio logs no "exception was never retrieved" for it."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        connection = SimpleNamespace()
        hand_over(connection, HandedOver(HEAD, begin_now(fail_now()), 1.0))  # type: ignore[arg-type]
        forget_handed_over(connection)
        gc.collect()
    finally:
        loop.set_exception_handler(None)
    assert reported == []


def test_a_request_without_a_connection_has_nothing_handed_over() -> None:
    request = Request(b"/verify", Header(), "1.1", "GET", None, APP, head=HEAD)
    assert request.conn_info is None
    assert not is_handed_over(request)
    assert take_handed_over(request) is None
