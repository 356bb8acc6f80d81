"""A decision the wire lane begins at once, and hands over to Sanic's handler when it cannot finish it there.

The wire lane answers from inside the protocol's ``data_received``, which cannot await. Most decisions never
wait for anything (the keys are at hand, no Backend API call is due), so ``begin_now`` runs the decision's
coroutine up to its first real wait, as Python 3.12's eager tasks do (3.11 has none): one that finishes there is
answered on the wire. One that has to wait (a key to fetch, a session to refresh) goes on as a task, and one that
raised keeps its exception; either is handed over (``hand_over``) to the connection, whose next request, Sanic's
reading of these same bytes, takes it (``take_handed_over``) instead of deciding again. The decision's side
effects (a cache miss counted, a Backend API call made) thus happen once, and its answer, log line and counts
are Sanic's own.

A hand-over belongs to the head it was made for: the handler takes it only for a request of exactly those bytes,
and one left untaken (which the protocol never leaves: it gives Sanic those bytes right after) is dropped when
the connection is next idle.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from types import SimpleNamespace
from typing import Any, Final, NamedTuple, TypeVar

from sanic import Request

from clerk_authd.rules.verdict import Verdict

T = TypeVar("T")

_ATTR: Final = "clerk_handed_over"


def begin_now(coroutine: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
    """``coroutine`` run at once up to its first wait: a future already done when it finished (or raised) without
    waiting, else the task that goes on with it; a cancelled one when its first step was cancelled (something it
    awaited was cancelled under it, as at shutdown), which nobody should take. Call from within the running loop.

    The first step runs in a copy of the current context, which the task goes on in, as an eager task's does;
    unlike one, it runs in no task (``asyncio.current_task()`` is ``None``), so nothing before a decision's first
    wait may need one (``asyncio.timeout``, an aiohttp request): every call to Clerk runs as its own task
    (``CallGuard``, ``KeyStore``), which the decision awaits. ``tests/service/test_wire_lane.py`` hands over a
    decision that fetches keys and one that asks the Backend API.
    """
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    future: asyncio.Future[T]
    try:
        waiting_on = context.run(coroutine.send, None)
    except StopIteration as finished:
        future = loop.create_future()
        future.set_result(finished.value)
        return future
    except asyncio.CancelledError:
        future = loop.create_future()
        future.cancel()
        return future
    except Exception as exc:  # the handler re-raises it, as the same decision raising there would
        future = loop.create_future()
        future.set_exception(exc)
        return future
    task = loop.create_task(_go_on(coroutine, waiting_on), context=context)
    task.add_done_callback(lambda _: coroutine.close())  # a task cancelled before it ran never entered _go_on
    return task


async def _go_on(coroutine: Coroutine[Any, Any, T], waiting_on: Any) -> T:
    """``coroutine``, which has yielded ``waiting_on`` (a future it awaits), driven on by this task."""
    result: T = await _GoingOn(coroutine, waiting_on)
    return result


class _GoingOn:
    """An awaitable that hands a started coroutine's first yield to the task awaiting it, then relays every value
    and exception between the two until the coroutine returns: ``yield from`` for a coroutine already begun."""

    __slots__ = ("_coroutine", "_waiting_on")

    def __init__(self, coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coroutine = coroutine
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, waiting_on = self._coroutine, self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as thrown:  # a cancellation, or the exception of the future it awaited
                try:
                    waiting_on = coroutine.throw(thrown)
                except StopIteration as finished:
                    return finished.value
                continue
            try:
                waiting_on = coroutine.send(sent)
            except StopIteration as finished:
                return finished.value


class HandedOver(NamedTuple):
    """A decision the wire lane began for the request whose head is ``head`` (without its blank line), at
    ``started`` (``time.perf_counter()``), which the decision's duration counts from."""

    head: bytes
    decision: asyncio.Future[Verdict]
    started: float


def hand_over(connection: SimpleNamespace, handed: HandedOver) -> None:
    """Leave ``handed`` to the connection's next request (``connection``: Sanic's ``ConnInfo.ctx``)."""
    setattr(connection, _ATTR, handed)


def forget_handed_over(connection: SimpleNamespace) -> None:
    """Drop what a connection was handed and never took: when it is next idle, and when it closes."""
    left: HandedOver | None = connection.__dict__.pop(_ATTR, None)
    if left is not None:
        _drop(left.decision)


def is_handed_over(request: Request) -> bool:
    """Whether ``request`` has a decision the wire lane began for it."""
    left = _left_for(request)
    return left is not None and left.head == request.head


def take_handed_over(request: Request) -> HandedOver | None:
    """The decision the wire lane began for ``request``, taken; ``None`` when there is none."""
    if request.conn_info is None:
        return None
    left: HandedOver | None = request.conn_info.ctx.__dict__.pop(_ATTR, None)
    if left is None:
        return None
    if left.head != request.head:
        _drop(left.decision)
        return None
    return left


def _drop(decision: asyncio.Future[Verdict]) -> None:
    """A decision nobody will await: cancelled while it goes on, its exception retrieved once it is done (so that
    asyncio logs no "exception was never retrieved")."""
    if not decision.done():
        decision.cancel()
    elif not decision.cancelled():
        decision.exception()


def _left_for(request: Request) -> HandedOver | None:
    conn_info = request.conn_info
    if conn_info is None:
        return None
    left: HandedOver | None = getattr(conn_info.ctx, _ATTR, None)
    return left
