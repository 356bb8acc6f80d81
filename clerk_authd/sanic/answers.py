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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
from sanic.compat import Header
from sanic.response import HTTPResponse

from clerk_authd.config import Settings
from clerk_authd.rules.auth import SignedInAuth
from clerk_authd.rules.handshake import is_eligible
from clerk_authd.rules.names import HANDSHAKE_PARAMS, IDENTITY_HEADERS, REDIRECT_TO_HEADER, SET_COOKIE_COPY_PREFIX
from clerk_authd.rules.verdict import Verdict

NO_STORE: Final = "no-store"
_INVALID_TOKEN_CHALLENGE: Final = 'Bearer error="invalid_token"'
_JSON: Final = "application/json"
_TEXT: Final = "text/plain; charset=utf-8"


#: the headers of a decision answer that are Clerk's (its ``withDebugHeaders``), written as Node writes them
_CLERK_SUMMARY_HEADERS: Final = frozenset(IDENTITY_HEADERS[:3])


def node_wire(value: str) -> str:
    """``value`` held so that Sanic puts Node's bytes on the wire: one byte per character, Latin-1.

    Node writes a header string as Latin-1 (``é`` goes out as ``0xE9``), and every header Clerk sets is a ByteString
    (``Headers`` refuses a character beyond U+00FF). Sanic encodes header values as UTF-8 with ``surrogateescape``,
    under which the lone surrogate U+DC80+b is written as the single byte b (PEP 383); so each character
    U+0080-U+00FF is held as that surrogate. ASCII passes unchanged (the hot path); a value with a character beyond
    U+00FF, which Node cannot write at all, is left to Sanic's UTF-8.
    """
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value


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

    def cache_control(self, verdict: Verdict) -> str:
        """``private, max-age=<until exp less the skew>`` for an allowed answer, ``no-store`` for the rest."""
        if not verdict.allowed:
            return NO_STORE
        exp = verdict.auth.session_claims.get("exp") if isinstance(verdict.auth, SignedInAuth) else None
        if not isinstance(exp, int | float) or isinstance(exp, bool) or not math.isfinite(exp):
            return "private, max-age=0"
        return f"private, max-age={max(0, math.floor(exp - verdict.now - self.skew_s))}"

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
    ) -> HTTPResponse:
        """A decision answer: identity headers, ``Cache-Control``, ``extra``, the state's cookies, JSON body."""
        headers = Header(
            [
                (name, node_wire(value) if name in _CLERK_SUMMARY_HEADERS else value)
                for name, value in verdict.identity_headers()
            ]
        )
        headers["cache-control"] = self.cache_control(verdict)
        for name, value in extra:
            headers.add(name, node_wire(value))
        if status == 401 and verdict.bearer_rejected:
            headers["www-authenticate"] = _INVALID_TOKEN_CHALLENGE
        if with_cookies:
            for cookie in verdict.state.set_cookies:
                headers.add("set-cookie", node_wire(cookie))
        if body is None:
            return HTTPResponse(None, status=status, headers=headers, content_type=_TEXT)
        return HTTPResponse(orjson.dumps(body), status=status, headers=headers, content_type=_JSON)

    # -- families ----------------------------------------------------------------------------------------

    def auth_request(self, verdict: Verdict) -> HTTPResponse:
        """``/verify``: 200 allow, 401 signed out (where to go in ``X-Clerk-Redirect-To``), 403, 503; never 3xx."""
        wants_json = _JSON in (verdict.view.header("accept") or "")
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
            return self.respond(verdict, 200, body={"allowed": True})
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
        response = self.respond(verdict, 307, extra=[("location", location), *cors])
        response.headers["cache-control"] = NO_STORE
        return response


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
