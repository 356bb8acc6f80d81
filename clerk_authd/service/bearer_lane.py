"""The bearer lane: a ``/verify``, ``/forward-auth`` or ``GET /has`` that a session token in ``Authorization``
allows, answered before the request view is built.

Most of a gateway's auth subrequests carry a session token the cache already knows in ``Authorization`` (a
browser's XHR, one service calling another), and for those Clerk's answer depends on nothing else. The full
decision still builds Clerk's view of the request (every header as Node combines it, the original request), a
request state and a ``Verdict``, and answers from them: about two thirds of a cached ``/verify``'s handler time
(py-spy and an in-process loop: 34 µs a call, of which the lane keeps about 9). The lane reads a few headers,
asks the runtime (``ClerkRuntime.allowed_on_token``: a session the cache knows, or, for the wire lane, one
verified at once because its key is at hand) and writes the answer from the verdict's lines
(``AnswerPolicy.allowed_from_cache``); ``record`` logs and counts it like any other decision. Its cores
(``proxied_allowed``, ``has_allowed``) read only a query string and header lines, so the wire lane (``wire_lane``)
asks them too, before Sanic has read the request.

It answers only where the full decision could answer nothing else, and leaves the request to it otherwise:

- the auth URL's query (every generated recipe asks with ``?accepts=session_token``, and may add requirements)
  is read strictly as the full decision reads it: a query the full decision would refuse, or one that is
  exactly the original request's (which it reads leniently, ``operator_requirements``), goes to it;
- the ``Authorization`` value Clerk reads (the first header of the name, trimmed) is ASCII: Node reads other
  bytes differently, and a token the cache knows has none;
- ``/verify``: no ``Accept`` header asks for JSON (``auth_request`` then answers with a body);
- ``/forward-auth``: an ``accepts`` in the query is the configured one. That endpoint completes a handshake in
  place, deciding it with the configured ``accepts``; Clerk never resolves a handshake for a token in
  ``Authorization``, which it decides first, so that answer is the lane's 200 whenever the two agree. (An allowed
  answer there has no body whatever the request accepts.)
- ``GET /has`` (``has_lane``): its own query names at least one requirement, is one the full decision accepts,
  is short enough to be kept parsed, and names no parameter of Clerk's (Clerk's input, left to the full decision);
- the runtime allows the request on that value alone: a cached or just verified, unexpired, not pending session
  that meets every requirement (a denial, 401 or 403, is the full decision's), under options that read nothing
  else of the request (not a satellite).

A declined request has cost a header scan, the query's parse (kept per query string), at most one uncounted
cache look and, in the wire lane, for a session token the cache does not know, its decoding and verification,
whose outcome the full decision then takes instead of verifying again (``SessionVerifier.hand_over``). Inside
Sanic's handler the lane verifies nothing: a request there either came in a way the wire lane does not read
(split, pipelined) or was declined by it, its verification already handed over.
``tests/service/test_bearer_lane.py`` holds the lane's answers, decision lines and counts equal to the full
decision's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from clerk_authd.clerk.runtime import AllowedOnToken
from clerk_authd.js.headers import HTTP_WHITESPACE
from clerk_authd.rules.cached_verdict import CachedVerdict
from clerk_authd.rules.proxied import Family, original_query
from clerk_authd.rules.requirements import NO_REQUIREMENTS, RequirementError, Requirements
from clerk_authd.sanic.answers import AnswerPolicy, asks_for_json
from clerk_authd.sanic.install import answers_of, node_headers, runtime_of
from clerk_authd.service.auth_query import REQUIREMENTS_MEMO_MAX_QUERY, names_clerk_parameter, query_requirements

#: a request's header lines as Clerk reads them (``node_headers``): lowercased names, values as Node's bytes
Headers = Sequence[tuple[str, str]]
#: what a lane answers with: the response, and the verdict behind it with the cache's part (for the decision line)
LaneAnswer = tuple[HTTPResponse, AllowedOnToken]
#: an endpoint's allowed answer from a cached verdict at a time (``AnswerPolicy.allowed_from_cache``, ...)
CachedAnswer = Callable[[AnswerPolicy, CachedVerdict, float], HTTPResponse]


def bearer_lane(request: Request, family: Family) -> LaneAnswer | None:
    """The answer of ``family``'s endpoint (``ORIGINAL``: ``/verify``, ``FORWARDED``: ``/forward-auth``) and the
    verdict behind it, when the lane may give it; ``None`` otherwise."""
    allowed = proxied_allowed(request.app, family, request.query_string, node_headers(request))
    return _answer(request.app, allowed, AnswerPolicy.allowed_from_cache)


def has_lane(request: Request) -> LaneAnswer | None:
    """``GET /has``'s 200 ``{"allowed": true}`` and the verdict behind it, when the lane may give it."""
    allowed = has_allowed(request.app, request.query_string, node_headers(request))
    return _answer(request.app, allowed, AnswerPolicy.has_allowed_from_cache)


def proxied_allowed(
    app: Sanic[Any, Any], family: Family, query: str, headers: Headers, *, verify_now: bool = False
) -> AllowedOnToken | None:
    """The verdict that allows a proxy's question to ``family``'s endpoint whose auth URL query is the raw
    ``query`` and whose header lines are ``headers``, when the lane may answer it; ``None`` otherwise.
    ``verify_now``: a session token the cache does not know is verified here when its key is at hand."""
    authorization, wants_json = _read_lane_headers(headers)
    if wants_json and family is Family.ORIGINAL:
        return None
    requirements = _strict_requirements(family, query, headers)
    if requirements is None:
        return None
    runtime = runtime_of(app)
    accepts = requirements.accepts_token
    if family is Family.FORWARDED and accepts is not None and accepts != runtime.settings.accepts_token:
        return None  # a forwarded request carrying a handshake is decided with the configured accepts
    return _allowed_on_token(app, authorization, requirements, verify_now)


def has_allowed(
    app: Sanic[Any, Any], query: str, headers: Headers, *, verify_now: bool = False
) -> AllowedOnToken | None:
    """The verdict that allows a ``GET /has`` whose own query is the raw ``query``, when the lane may answer
    it; ``None`` otherwise. ``verify_now`` as for ``proxied_allowed``.

    The requirements are that query, as the full decision reads it; a query that names none (a 400 there), one
    the full decision refuses, one naming a parameter of Clerk's (which the full decision leaves to Clerk) and one
    too long to be kept parsed go to it.
    """
    if not query or len(query) > REQUIREMENTS_MEMO_MAX_QUERY or names_clerk_parameter(query):
        return None
    try:
        requirements = query_requirements(query, own_url=True)
    except RequirementError:
        return None
    if not requirements.checks:
        return None
    authorization, _ = _read_lane_headers(headers)
    return _allowed_on_token(app, authorization, requirements, verify_now)


def _answer(app: Sanic[Any, Any], allowed: AllowedOnToken | None, answer: CachedAnswer) -> LaneAnswer | None:
    """``answer`` of the allowing verdict, if any, at the runtime's time."""
    if allowed is None:
        return None
    return answer(answers_of(app), allowed.verdict, runtime_of(app).clock()), allowed


def _allowed_on_token(
    app: Sanic[Any, Any], authorization: str | None, requirements: Requirements, verify_now: bool
) -> AllowedOnToken | None:
    """The verdict when the runtime allows the request on its ``Authorization`` value alone."""
    if authorization is None or not authorization.isascii():
        return None
    return runtime_of(app).allowed_on_token(authorization, requirements, verify_now=verify_now)


def _strict_requirements(family: Family, query: str, headers: Headers) -> Requirements | None:
    """The auth URL's requirements where the full decision reads them strictly and accepts them; ``None``
    otherwise."""
    if not query:
        return NO_REQUIREMENTS
    if query == original_query(family, headers):
        return None
    try:
        return query_requirements(query)
    except RequirementError:
        return None


def _read_lane_headers(headers: Headers) -> tuple[str | None, bool]:
    """The ``Authorization`` value as ``js.headers`` reads it (the first of the name, trimmed; names trimmed and
    lowercased as ``combine_headers`` does, though Sanic's HTTP/1 parser already lowercases them), and whether an
    ``Accept`` value asks for JSON (as their Node-joined value would)."""
    authorization: str | None = None
    wants_json = False
    for raw_name, value in headers:
        name = raw_name.strip(HTTP_WHITESPACE).lower()
        if name == "authorization":
            if authorization is None:
                authorization = value.strip(HTTP_WHITESPACE)
        elif name == "accept" and asks_for_json(value):
            wants_json = True
    return authorization, wants_json
