"""The bearer lane: a ``/verify`` or ``/forward-auth`` that the verified-token cache allows, answered before the
request view is built.

Most of a gateway's auth subrequests carry a session token the cache already knows in ``Authorization`` (a
browser's XHR, one service calling another), and for those Clerk's answer depends on nothing else. The full
decision still builds Clerk's view of the request (every header as Node combines it, the original request), a
request state and a ``Verdict``, and answers from them: about two thirds of a cached ``/verify``'s handler time
(py-spy and an in-process loop: 34 µs a call, of which the lane keeps about 9). The lane reads a few headers,
asks the runtime (``ClerkRuntime.cached_allowed``) and writes the answer from the verdict's cached lines
(``AnswerPolicy.cached_allowed``); ``routes`` logs and counts it like any other decision.

It answers only where the full decision could answer nothing else, and leaves the request to it otherwise:

- the auth URL has no query (a recipe's requirements and ``accepts`` live there);
- the ``Authorization`` value Clerk reads (the first header of the name, trimmed) is ASCII: Node reads other
  bytes differently, and a token the cache knows has none;
- ``/verify``: no ``Accept`` header asks for JSON (``auth_request`` then answers with a body);
- (``/forward-auth`` answers an allowed request without a body whatever it accepts; the handshake it completes
  in place is never resolved for a token in ``Authorization``, which Clerk decides first, so its answer is the
  same 200);
- the runtime allows the request on that value alone: a known, unexpired, not pending session, under options
  that read nothing else of the request (not a satellite).

A declined request has cost a header scan and at most one uncounted cache look. ``tests/service/
test_bearer_lane.py`` holds the lane's answers, decision lines and counts equal to the full decision's.
"""

from __future__ import annotations

from typing import Final

from sanic import Request
from sanic.response import HTTPResponse

from clerk_authd.rules.cached_verdict import CachedVerdict
from clerk_authd.rules.proxied import Family
from clerk_authd.sanic.install import answers_of, runtime_of

_HTTP_WHITESPACE: Final = "\t\n\r "
#: what makes ``auth_request`` answer with a JSON body (``AnswerPolicy.auth_request``)
_JSON: Final = "application/json"


def bearer_lane(request: Request, family: Family) -> tuple[HTTPResponse, CachedVerdict] | None:
    """The answer of ``family``'s endpoint (``ORIGINAL``: ``/verify``, ``FORWARDED``: ``/forward-auth``) and the
    cached verdict behind it, when the lane may give it; ``None`` otherwise."""
    if request.query_string:
        return None
    authorization, wants_json = _read_lane_headers(request)
    if authorization is None or not authorization.isascii() or (wants_json and family is Family.ORIGINAL):
        return None
    runtime = runtime_of(request.app)
    cached = runtime.cached_allowed(authorization)
    if cached is None:
        return None
    return answers_of(request.app).cached_allowed(cached, runtime.clock()), cached


def _read_lane_headers(request: Request) -> tuple[str | None, bool]:
    """The ``Authorization`` value as ``js.headers`` reads it (the first of the name, trimmed; names are trimmed
    too, as ``combine_headers`` trims them), and whether any ``Accept`` value holds ``application/json`` (as their
    Node-joined value would)."""
    authorization: str | None = None
    wants_json = False
    for raw_name, value in request.headers.items():
        name = raw_name.strip(_HTTP_WHITESPACE)
        if name == "authorization":
            if authorization is None:
                authorization = value.strip(_HTTP_WHITESPACE)
        elif name == "accept" and _JSON in value:
            wants_json = True
    return authorization, wants_json
