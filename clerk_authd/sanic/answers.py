"""How each family of callers wants a decision answered: status, headers and body, in one place.

Every decision endpoint reaches the same ``Verdict`` (Clerk's request state, the auth object it yields and
the first requirement that failed) and differs only here (api.md §3):

- ``auth_request`` (``/verify``; nginx ``auth_request``): never 3xx; where the browser should go is in
  ``X-Clerk-Redirect-To`` (and ``Location``) on a 401;
- ``forward_auth`` (``/forward-auth``, ``/ext-authz``, and the Sanic SDK's ``require_auth``): real
  redirects, 307 to the handshake and 302 to the sign-in page for browser navigations, JSON otherwise;
- ``auth_json`` (``/auth``), ``has_single`` and ``has_batch`` (``/has``), ``handshake_done`` (``/handshake``).

Every decision answer carries every identity header, empty when it has no value, so a proxy that copies
them never forwards a value the client injected; only an allowed answer may be cached.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
from sanic.compat import Header
from sanic.headers import format_http1_response
from sanic.helpers import has_message_body
from sanic.http import Http
from sanic.response import BaseHTTPResponse, HTTPResponse

from clerk_authd.config import Settings
from clerk_authd.js.headers import node_wire
from clerk_authd.rules.auth import SignedInAuth
from clerk_authd.rules.cached_verdict import CachedVerdict
from clerk_authd.rules.handshake import is_eligible
from clerk_authd.rules.names import HANDSHAKE_PARAMS, IDENTITY_HEADERS, REDIRECT_TO_HEADER, SET_COOKIE_COPY_PREFIX
from clerk_authd.rules.verdict import SIGNED_IN, Verdict, render_identity, summary_block

NO_STORE: Final = "no-store"
_INVALID_TOKEN_CHALLENGE: Final = 'Bearer error="invalid_token"'
_JSON: Final = "application/json"
_TEXT: Final = "text/plain; charset=utf-8"
_NO_STORE_LINE: Final = f"cache-control: {NO_STORE}\r\n".encode()
_NO_MAX_AGE_LINE: Final = b"cache-control: private, max-age=0\r\n"


#: every identity block starts with this header's line (``Verdict.header_block``)
_FIRST_NAME: Final = IDENTITY_HEADERS[0].encode()
_FIRST_VALUE_AT: Final = len(_FIRST_NAME) + 2


class IdentityResponse(HTTPResponse):
    """An ``HTTPResponse`` whose identity headers are written as one block of bytes rendered before.

    Sanic's response API takes headers only as a ``Header`` of strings, which it sanitizes, encodes and formats
    one by one on every answer (``processed_headers``, ``format_http1_response``): for the fifteen identity
    headers and ``Cache-Control`` that was about half of a cached ``/verify``'s CPU. A cached verdict's identity
    lines are kept as bytes (``CachedVerdict.identity_block``), so this subclass hands them to Sanic's HTTP/1
    writer as they are: after the few headers of ``headers`` (Sanic's own, and the rare ones an answer adds), the
    block as one ``(name, value)`` pair whose value runs over the block's remaining lines, so that the writer's
    ``name: value\r\n`` is exactly the block. Where ``headers`` holds only what the writer set itself (nearly
    every answer), those lines are rendered here too and the whole head is that one pair. Anywhere else (ASGI,
    HTTP/3), which wants real pairs, the block is split into them. ``headers`` never holds an identity header
    (``sets_header`` says which the block holds).
    """

    __slots__ = ("identity_block",)

    def __init__(
        self, body: bytes | None, *, status: int, headers: Header, content_type: str, identity_block: bytes
    ) -> None:
        super().__init__(body, status=status, headers=headers, content_type=content_type)
        self.identity_block = identity_block

    @property
    def processed_headers(self) -> Iterator[tuple[bytes, bytes]]:
        if isinstance(self.stream, Http):
            yield from self._http1_headers()
            return
        yield from super().processed_headers
        for line in self.identity_block[:-2].split(b"\r\n"):
            name, _, value = line.partition(b": ")
            yield name, value

    def on_wire(self) -> bytes | None:
        """The bytes Sanic's HTTP/1.1 writer puts on a keep-alive connection for this answer to a ``GET``
        (``Http.http1_response_header`` for a body sent whole: its length and connection, then these headers and
        the body), for the service's wire lane; ``None`` for a status without a body, which the writer treats
        otherwise. Like the writer, it sets the two headers on ``headers``."""
        if not has_message_body(self.status):  # type: ignore[no-untyped-call]  # Sanic's helper has no annotations
            return None
        body = self.body or b""
        self.headers["content-length"] = len(body)
        self.headers["connection"] = "keep-alive"
        return format_http1_response(self.status, self._http1_headers()) + body

    def _http1_headers(self) -> Iterator[tuple[bytes, bytes]]:
        """The header pairs for Sanic's HTTP/1 writer: the block folded into them as the class says."""
        writers = self._writers_lines()
        if not writers:
            yield from super().processed_headers
            yield _FIRST_NAME, self.identity_block[_FIRST_VALUE_AT:-2]
            return
        name, _, rest = writers.partition(b": ")  # the writer's ``name: value\r\n`` then gives back every line
        yield name, rest + self.identity_block[:-2]

    def _writers_lines(self) -> bytes | None:
        """The lines of ``headers`` when they hold only what Sanic's HTTP/1 writer set there, in the shapes it sets
        them (``_writer_line``), with the ``Content-Type`` Sanic would add after them; ``None`` otherwise (an
        answer added a header of its own, or something set one of those names to another value).

        Sanic sanitizes and encodes each header on its own (``BaseHTTPResponse.processed_headers``): for the length,
        ``keep-alive``/``close`` and ``Alt-Svc`` its writer sets and our constant content type, that cost more
        than the rest of a cached answer's rendering. A length that is an ``int`` and a connection that is one of
        its two values need no sanitizing; ``Alt-Svc`` (from Sanic's config) is sanitized as Sanic would.
        """
        lines = b""
        for name, value in self.headers.items():
            line = self._writer_line(name, value)
            if line is None:
                return None
            lines += line
        if has_message_body(self.status):  # type: ignore[no-untyped-call]  # Sanic's helper has no annotations
            lines += b"content-type: %b\r\n" % str(self.content_type).encode()  # as Sanic's f"{value}"
        return lines

    def _writer_line(self, name: str, value: object) -> bytes | None:
        """The line of one header Sanic's writer sets, or ``None`` for any other header or shape."""
        if name == "content-length" and type(value) is int:
            return b"content-length: %d\r\n" % value
        if name == "connection" and value in _CONNECTION_LINES:
            return _CONNECTION_LINES[value]
        if name == "alt-svc" and isinstance(value, str):
            return b"alt-svc: %b\r\n" % self._sanitize_header_value(value).encode(errors="surrogateescape")
        return None


#: the ``Connection`` lines Sanic's writer sets (``Http.http1_response_header``)
_CONNECTION_LINES: Final = {value: f"connection: {value}\r\n".encode() for value in ("keep-alive", "close")}


def sets_header(response: BaseHTTPResponse, name: str) -> bool:
    """Whether ``response`` carries the header ``name`` (lowercase), in its ``headers`` or its identity block."""
    return name in response.headers or (isinstance(response, IdentityResponse) and name in _BLOCK_NAMES)


#: what an ``IdentityResponse``'s block may hold: the identity headers and the cache lines (``_cache_lines``)
_BLOCK_NAMES: Final = frozenset((*IDENTITY_HEADERS, "cache-control", "x-accel-expires"))


def _cache_lines(max_age: int | None) -> bytes:
    """The ``Cache-Control`` line of an answer that may be kept ``max_age`` seconds (``None``: ``no-store``); one
    kept longer than 0 s also says so to nginx's cache in ``X-Accel-Expires``, which nginx honours where it refuses
    any ``Cache-Control`` with ``private`` (the verdict cache of ``proxy-config nginx --verdict-cache``); other
    clients ignore it."""
    if max_age is None:
        return _NO_STORE_LINE
    if max_age == 0:
        return _NO_MAX_AGE_LINE
    return b"cache-control: private, max-age=%d\r\nx-accel-expires: %d\r\n" % (max_age, max_age)


#: ``GET /has``'s body for an allowed request
_ALLOWED: Final = {"allowed": True}
_ALLOWED_BODY: Final = orjson.dumps(_ALLOWED)


def _allowed_head_on_wire(body: bytes, content_type: str) -> bytes:
    """The lines Sanic's HTTP/1.1 writer puts before an allowed answer's identity block on a keep-alive
    connection (``http1_response_header``: its length and connection, then ``IdentityResponse``'s type)."""
    head = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\nconnection: keep-alive\r\ncontent-type: %b\r\n"
    return head % (len(body), content_type.encode())


_ALLOWED_HEAD_ON_WIRE: Final = _allowed_head_on_wire(b"", _TEXT)
_HAS_ALLOWED_HEAD_ON_WIRE: Final = _allowed_head_on_wire(_ALLOWED_BODY, _JSON)
#: the status, reason and message lines of every allowed answer
_SIGNED_IN_SUMMARY: Final = summary_block(SIGNED_IN)


def asks_for_json(accept: str) -> bool:
    """Whether an ``Accept`` value makes ``auth_request`` answer with ``/auth``'s JSON (any value holding
    ``application/json``, so several headers may be asked one by one as well as joined)."""
    return _JSON in accept


def sign_in_location(sign_in_url: str, return_param: str, original_url: str) -> str:
    """``sign_in_url`` with ``original_url`` appended under ``return_param`` (none when the name is empty)."""
    if not return_param:
        return sign_in_url
    parts = urlsplit(sign_in_url)
    extra = urlencode({return_param: original_url})
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    """The settings every answer needs, decided once at start-up."""

    sign_in_url: str
    return_param: str
    skew_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> AnswerPolicy:
        """The service's policy: its sign-in URL and return parameter, and the clock skew ``max-age`` leaves out."""
        return cls(settings.sign_in_url, settings.sign_in_return_param, settings.clock_skew_ms / 1000)

    # -- pieces ------------------------------------------------------------------------------------------

    def max_age(self, verdict: Verdict) -> int | None:
        """The ``max-age`` of ``Cache-Control: private, max-age=``: how long an allowed answer may be kept (seconds
        until exp less the skew; 0 without a usable exp, as for machine tokens); ``None``: ``no-store``."""
        if not verdict.allowed:
            return None
        exp = verdict.auth.session_claims.get("exp") if isinstance(verdict.auth, SignedInAuth) else None
        return self._keep_for(exp, verdict.now)

    def _keep_for(self, exp: object, now: float) -> int:
        """Seconds an allowed answer about a token expiring at ``exp`` may be kept at ``now`` (0 without a number)."""
        if not isinstance(exp, int | float) or isinstance(exp, bool) or not math.isfinite(exp):
            return 0
        return max(0, math.floor(exp - now - self.skew_s))

    def sign_in_redirect(self, verdict: Verdict) -> str | None:
        """The sign-in URL (with the return parameter) for a signed-out browser navigation, else ``None``.

        A browser navigation is what Clerk would send through a handshake (a GET page load), so a request is
        sent to the sign-in page exactly when it could have been sent to FAPI.
        """
        if verdict.signed_in or not self.sign_in_url or not is_eligible(verdict.view):
            return None
        return sign_in_location(self.sign_in_url, self.return_param, verdict.view.url)

    def respond(
        self,
        verdict: Verdict,
        status: int,
        *,
        body: Mapping[str, object] | None = None,
        extra: Iterable[tuple[str, str]] = (),
        with_cookies: bool = True,
        never_cache: bool = False,
    ) -> HTTPResponse:
        """A decision answer: identity headers, ``Cache-Control`` (``no-store`` if ``never_cache``), ``extra``, the
        state's cookies, JSON body.

        The identity and cache lines are one block of bytes (``IdentityResponse``); ``headers`` holds only what
        varies with the answer's kind, usually nothing.
        """
        headers = Header()
        for name, value in extra:
            headers.add(name, node_wire(value))
        if status == 401 and verdict.bearer_rejected:
            headers["www-authenticate"] = _INVALID_TOKEN_CHALLENGE
        if with_cookies:
            for cookie in verdict.state.set_cookies:
                headers.add("set-cookie", node_wire(cookie))
        block = verdict.header_block() + (_NO_STORE_LINE if never_cache else _cache_lines(self.max_age(verdict)))
        if body is None:
            return IdentityResponse(None, status=status, headers=headers, content_type=_TEXT, identity_block=block)
        return IdentityResponse(
            orjson.dumps(body), status=status, headers=headers, content_type=_JSON, identity_block=block
        )

    # -- families ----------------------------------------------------------------------------------------

    def auth_request(self, verdict: Verdict) -> HTTPResponse:
        """``/verify``: 200 allow, 401 signed out (where to go in ``X-Clerk-Redirect-To``), 403, 503; never 3xx."""
        wants_json = asks_for_json(verdict.view.header("accept") or "")
        body = self.auth_body(verdict) if wants_json else None
        copies = [(f"{SET_COOKIE_COPY_PREFIX}{n}", cookie) for n, cookie in enumerate(verdict.state.set_cookies, 1)]
        if verdict.keys_unavailable:
            return self.respond(verdict, 503, body=body, extra=copies)
        if verdict.allowed:
            return self.respond(verdict, 200, body=body, extra=copies)
        if verdict.signed_in:
            return self.respond(verdict, 403, body=body, extra=copies)
        target = verdict.state.header("location") or self.sign_in_redirect(verdict)
        extra = [(REDIRECT_TO_HEADER, target), ("location", target)] if target else []
        return self.respond(verdict, 401, body=body, extra=[*extra, *copies])

    def allowed_from_cache(self, cached: CachedVerdict, now: float) -> HTTPResponse:
        """The 200 of ``auth_request`` (where no JSON was asked for) and of ``forward_auth`` for a session
        ``ClerkRuntime.cached_allowed`` allowed from the cache: the answer ``respond`` gives that verdict, from its
        cached lines, without a ``Verdict`` (the service's bearer lane; ``tests/service/test_bearer_lane.py``
        holds them equal)."""
        return IdentityResponse(
            None, status=200, headers=Header(), content_type=_TEXT, identity_block=self._allowed_block(cached, now)
        )

    def has_allowed_from_cache(self, cached: CachedVerdict, now: float) -> HTTPResponse:
        """``has_single``'s 200 for a session ``ClerkRuntime.cached_allowed`` allowed from the cache, as
        ``allowed_from_cache`` is ``auth_request``'s."""
        block = self._allowed_block(cached, now)
        return IdentityResponse(_ALLOWED_BODY, status=200, headers=Header(), content_type=_JSON, identity_block=block)

    def allowed_from_cache_on_wire(self, cached: CachedVerdict, now: float) -> bytes:
        """``allowed_from_cache``'s answer as the bytes Sanic's HTTP/1.1 writer puts on a keep-alive connection for
        it (the service's wire lane; ``tests/service/test_wire_lane.py`` holds them equal)."""
        return _ALLOWED_HEAD_ON_WIRE + self._allowed_block(cached, now) + b"\r\n"

    def has_allowed_from_cache_on_wire(self, cached: CachedVerdict, now: float) -> bytes:
        """``has_allowed_from_cache``'s answer as the bytes Sanic's HTTP/1.1 writer puts on a keep-alive connection
        for it."""
        return _HAS_ALLOWED_HEAD_ON_WIRE + self._allowed_block(cached, now) + b"\r\n" + _ALLOWED_BODY

    def _allowed_block(self, cached: CachedVerdict, now: float) -> bytes:
        """An allowed answer's identity and cache lines, from a cached verdict."""
        keep = _cache_lines(self._keep_for(cached.payload.get("exp"), now))
        return _SIGNED_IN_SUMMARY + cached.identity_block(render_identity) + keep

    def forward_auth(self, verdict: Verdict, *, with_cookies: bool = True) -> HTTPResponse:
        """``/forward-auth``, ``/ext-authz`` and ``require_auth``: 200, 307 handshake, 302 sign-in, 401/403/503 JSON.

        ``with_cookies`` ``False`` leaves the state's cookies to ``clerk_middleware``, which adds them itself.
        """
        summary = verdict.summary_json()
        if verdict.keys_unavailable:
            return self.respond(verdict, 503, body=summary, with_cookies=with_cookies)
        if verdict.allowed:
            return self.respond(verdict, 200, with_cookies=with_cookies)
        if verdict.signed_in:
            return self.respond(verdict, 403, body=summary, with_cookies=with_cookies)
        location = verdict.state.header("location")
        if location is not None:
            return self.respond(verdict, 307, extra=[("location", location)], with_cookies=with_cookies)
        sign_in = self.sign_in_redirect(verdict)
        if sign_in is not None:
            return self.respond(verdict, 302, extra=[("location", sign_in)], with_cookies=with_cookies)
        return self.respond(verdict, 401, body=summary, with_cookies=with_cookies)

    def auth_body(self, verdict: Verdict) -> dict[str, object]:
        """The JSON of ``/auth``: ``{"status", "reason", "message", "auth"}``, ``auth`` in Clerk's camelCase."""
        return {**verdict.summary_json(), "auth": verdict.auth.to_json() if verdict.auth is not None else None}

    def auth_json(self, verdict: Verdict) -> HTTPResponse:
        """``/auth``: always 200 with the auth object, except 503 when keys are unavailable."""
        return self.respond(verdict, 503 if verdict.keys_unavailable else 200, body=self.auth_body(verdict))

    def has_single(self, verdict: Verdict) -> HTTPResponse:
        """``GET /has``: 200 ``{"allowed": true}``, 403 with the reason, 401 signed out, 503."""
        if verdict.keys_unavailable:
            return self.respond(verdict, 503, body={"allowed": False, **verdict.summary_json()})
        if verdict.allowed:
            return self.respond(verdict, 200, body=_ALLOWED)
        status = 403 if verdict.signed_in else 401
        return self.respond(verdict, status, body={"allowed": False, **verdict.summary_json()})

    def has_batch(self, verdict: Verdict, results: list[bool]) -> HTTPResponse:
        """``POST /has``: 200 with one boolean per check when signed in; 401 signed out; 503."""
        if verdict.keys_unavailable:
            return self.respond(verdict, 503, body={"signed_in": False, **verdict.summary_json()})
        if not verdict.signed_in or verdict.auth is None:
            return self.respond(verdict, 401, body={"signed_in": False, **verdict.summary_json()})
        return self.respond(verdict, 200, body={"signed_in": True, "user_id": verdict.auth.user_id, "results": results})

    def handshake_done(self, verdict: Verdict) -> HTTPResponse:
        """``/handshake``: 307 back to the original URL without the handshake parameters, with every cookie.

        Where Clerk's state names a location (a dev instance's clean URL, or a fresh handshake), it wins, as
        in Clerk's Express middleware. The resolution's own headers go with it (``Access-Control-Allow-Origin:
        null``, ``Access-Control-Allow-Credentials: true``), and the redirect is never cached: it carries the
        session's cookies (Clerk says ``no-store`` after a development resolution; a production one names none).
        """
        if verdict.keys_unavailable:
            return self.respond(verdict, 503, body=verdict.summary_json())
        clean = verdict.view.parsed_url.without_params(*HANDSHAKE_PARAMS).href
        location = verdict.state.header("location") or clean
        cors = [(name, value) for name, value in verdict.state.headers if name.startswith("access-control-")]
        return self.respond(verdict, 307, extra=[("location", location), *cors], never_cache=True)


def with_empty_identity(response: HTTPResponse) -> HTTPResponse:
    """Sanic's own answer on a decision route (405, 413, ...) made a decision answer: every identity header
    present and empty, and ``no-store``, so a proxy that copies them never forwards a value the client injected
    nor caches the error."""
    for name in IDENTITY_HEADERS:
        response.headers[name] = ""
    response.headers["cache-control"] = NO_STORE
    return response


def bad_request(parameter: str, why: str) -> HTTPResponse:
    """400 for an operator's mistake, naming the parameter; no identity headers (nothing was decided)."""
    body = {"error": "bad-request", "parameter": parameter, "message": f"{parameter}: {why}"}
    return HTTPResponse(orjson.dumps(body), status=400, headers={"cache-control": NO_STORE}, content_type=_JSON)
