"""The wire lane: a session token's auth subrequest answered from the bytes of its head, before Sanic reads it.

A proxy asks the same few questions over kept-alive connections: ``GET /verify?accepts=session_token`` with the
client's ``Authorization``, and the cache knows the token (or its key is at hand to verify it at once). The bearer
lane (``bearer_lane``) answers those without Clerk's view of the request, but only inside Sanic's handler, after
Sanic has parsed the head, built a ``Request``, routed it, run its handler as a task and written the
``IdentityResponse``: with the lane that was about two thirds of such a request's CPU (py-spy, ``loadtests/bench``'s
cached scenario). Here the protocol (``limits.GuardedHttpProtocol.data_received``) hands each chunk that arrives on
an idle connection to ``answer_on_wire`` first, which answers it only when it is exactly one request head that Sanic
would read the way this module does and route to ``/verify``, ``/forward-auth`` or ``GET /has``, and the bearer lane
allows it; the answer is the bytes Sanic would write for the bearer lane's response
(``AnswerPolicy.allowed_from_cache_on_wire``), logged and counted as every decision is (``record``).

Anything else is left to Sanic, untouched: a partial head or more than one request in the chunk, a head at or
over the size limit (Sanic answers 431), a byte that is not ASCII, another method, path or protocol version,
a target with a fragment or a character outside RFC 3986's, a header line without a colon, a request with a
body or an ``Expect`` or ``Upgrade``, one that does not keep its connection alive, and every request the bearer
lane declines but a ``/verify`` (below). Only here is a token the cache does not know verified at once
(``verify_now``); what it finds is handed over to the full decision of a request left to Sanic.

A ``/verify`` the bearer lane declines (signed out, the cookie path, a refused token, a JSON body, an unmet
requirement: everything but a cached or just verified session it allows) is decided in full here, on the
question Sanic's handler would read (``proxied_question``), when it names its original request with an absolute
``X-Original-URL`` (what every recipe sends): the service's own URL, which a relative one is resolved against,
only Sanic knows. The decision is run up to its first wait (``handover.begin_now``); one that finishes there is
answered with the bytes Sanic writes for the same answer (``IdentityResponse.on_wire``), and one that waits or
raises is handed over to Sanic's reading of the request, which takes it instead of deciding again.
``tests/service/test_wire_lane.py`` holds the answers equal to Sanic's, byte for byte.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, Final, NamedTuple
from urllib.parse import parse_qsl

from sanic import Sanic

from clerk_authd.clerk.runtime import AllowedOnToken
from clerk_authd.rules.cached_verdict import CachedVerdict
from clerk_authd.rules.proxied import Family
from clerk_authd.rules.requirements import RequirementError
from clerk_authd.sanic.answers import AnswerPolicy, IdentityResponse
from clerk_authd.sanic.install import answers_of, runtime_of
from clerk_authd.service.bearer_lane import Headers, has_allowed, proxied_allowed
from clerk_authd.service.handover import HandedOver, begin_now, forget_handed_over, hand_over
from clerk_authd.service.proxied_question import read_proxied_question
from clerk_authd.service.record import record_lane_answer, record_verdict

_HEAD_END: Final = b"\r\n\r\n"
_GET: Final = b"GET /"
#: a request target of RFC 3986's characters only (no fragment): one Sanic's URL parser reads as we split it
_PLAIN_TARGET: Final = re.compile(r"/[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*")
#: headers after which Sanic reads a body, or answers something other than the request (417, a websocket)
_NOT_A_LONE_HEAD: Final = frozenset({"content-length", "transfer-encoding", "expect", "upgrade"})


class WireHead(NamedTuple):
    """One ``GET`` request head as Sanic's HTTP/1 parser reads it (``Http.http1_request_header``)."""

    path: str
    query: str
    #: names lowercased, values without leading whitespace, in order (ASCII, so as Node reads them too)
    headers: Headers


class _WireEndpoint(NamedTuple):
    """What the wire lane does for one path: whether the bearer lane allows the request, and its answer."""

    allowed: Callable[[Sanic[Any, Any], str, Headers], AllowedOnToken | None]
    answer: Callable[[AnswerPolicy, CachedVerdict, float], bytes]


def _verify_allowed(app: Sanic[Any, Any], query: str, headers: Headers) -> AllowedOnToken | None:
    return proxied_allowed(app, Family.ORIGINAL, query, headers, verify_now=True)


def _forward_auth_allowed(app: Sanic[Any, Any], query: str, headers: Headers) -> AllowedOnToken | None:
    return proxied_allowed(app, Family.FORWARDED, query, headers, verify_now=True)


def _has_allowed(app: Sanic[Any, Any], query: str, headers: Headers) -> AllowedOnToken | None:
    return has_allowed(app, query, headers, verify_now=True)


#: what the wire lane answers, by the path it reads (also the decision line's endpoint)
_ENDPOINTS: Final = {
    "/verify": _WireEndpoint(_verify_allowed, AnswerPolicy.allowed_from_cache_on_wire),
    "/forward-auth": _WireEndpoint(_forward_auth_allowed, AnswerPolicy.allowed_from_cache_on_wire),
    "/has": _WireEndpoint(_has_allowed, AnswerPolicy.has_allowed_from_cache_on_wire),
}


def answer_on_wire(app: Sanic[Any, Any], data: bytes, max_head: int, connection: SimpleNamespace) -> bytes | None:
    """The bytes that answer ``data``, a chunk received on an idle keep-alive connection, when it is one request
    the bearer lane allows, or a ``/verify`` decided in full without waiting (each logged and counted); ``None``
    leaves the chunk to Sanic. ``max_head`` is Sanic's head size limit (``Http.HEADER_MAX_SIZE``), ``connection``
    the connection's ``ConnInfo.ctx``, where a decision begun here is handed over (``handover``)."""
    started = time.perf_counter()
    forget_handed_over(connection)
    head = read_lone_get(data, max_head)
    if head is None:
        return None
    endpoint = _ENDPOINTS.get(head.path)
    if endpoint is None:
        return None
    allowed = endpoint.allowed(app, head.query, head.headers)
    if allowed is not None:
        answer = endpoint.answer(answers_of(app), allowed.verdict, runtime_of(app).clock())
        record_lane_answer(app, head.path, started, allowed)
        return answer
    if head.path != "/verify":
        return None
    return _verify_in_full(app, head, data[: -len(_HEAD_END)], connection, started)


class _OwnUrlNeededError(Exception):
    """The service's own URL was needed, which only Sanic knows (its scheme, ``Host`` and forwarding settings)."""


def _own_url() -> str:
    raise _OwnUrlNeededError


def _verify_in_full(
    app: Sanic[Any, Any], head: WireHead, raw_head: bytes, connection: SimpleNamespace, started: float
) -> bytes | None:
    """A ``/verify`` the bearer lane declined, decided in full as Sanic's handler decides it (``routes.verify``):
    its answer, when the decision did not have to wait; else ``None``, the decision handed over to Sanic's reading
    of the request. One that asks about the service's own URL (no absolute ``X-Original-URL``, which every recipe
    sends) or has a query the operator got wrong (a 400) is left to Sanic before anything is decided. The query is
    parsed as Sanic's ``Request.get_query_args`` parses it."""
    query = head.query
    try:
        question = read_proxied_question(
            Family.ORIGINAL,
            "GET",
            _own_url,
            head.headers,
            query=query,
            query_pairs=lambda: parse_qsl(
                query, keep_blank_values=True, encoding="utf-8", errors="replace"
            ),  # as Sanic's
        )
        question.view.url  # noqa: B018  # resolved now, to leave a question about the own URL to Sanic
    except (RequirementError, _OwnUrlNeededError):
        return None
    decision = begin_now(runtime_of(app).decide(question.view, question.requirements))
    if decision.cancelled():
        return None  # cancelled under it (the server stopping): Sanic decides it afresh
    if decision.done() and decision.exception() is None:
        verdict = decision.result()
        response = question.answer(answers_of(app), verdict)
        answer = response.on_wire() if isinstance(response, IdentityResponse) else None
        if answer is not None:
            record_verdict(app, head.path, verdict, response.status, started)
            return answer
    hand_over(connection, HandedOver(raw_head, decision, started))
    return None


def read_lone_get(data: bytes, max_head: int) -> WireHead | None:
    """``data`` read as Sanic reads a request head, when it is exactly one ``GET`` head with no body that keeps
    its connection alive, of plain ASCII; ``None`` for anything else."""
    end = data.find(_HEAD_END)
    if end == -1 or end + len(_HEAD_END) != len(data) or end >= max_head:
        return None
    if not data.startswith(_GET) or not data.isascii():
        return None
    request_line, *lines = data[:end].decode("ascii").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or parts[2] != "HTTP/1.1" or not _PLAIN_TARGET.fullmatch(parts[1]):
        return None
    keep_alive = True
    headers: list[tuple[str, str]] = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            return None
        name, value = name.lower(), value.lstrip()
        if name in _NOT_A_LONE_HEAD:
            return None
        if name == "connection":
            keep_alive = value.lower() == "keep-alive"
        headers.append((name, value))
    if not keep_alive:
        return None
    path, _, query = parts[1].partition("?")
    return WireHead(path, query, headers)
