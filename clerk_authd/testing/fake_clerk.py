"""``FakeClerk``: a real HTTP server on loopback speaking the slice of Clerk's Backend API we call.

Tests point a ``ClerkClient`` at ``FakeClerk.url`` instead of mocking HTTP, so the requests, headers,
timeouts and error bodies they exercise are the real ones. It serves ``GET /v1/jwks``,
``GET /v1/clients/handshake_payload``, ``POST /v1/sessions/{sid}/refresh`` and the three machine-token
verifications outside ``/v1`` (``POST /api_keys/verify``, ``/m2m_tokens/verify``,
``/oauth_applications/access_tokens/verify``: Clerk-shaped JSON for registered tokens, 404 for others).
It checks the bearer on every endpoint like Clerk (the M2M endpoint also takes the machine secret key), and
fails on demand: a forced status (``fail_with``, ``go_down``), a slow answer
(``slow``), a 200 that is not JSON (``serve_garbage``), an empty key set (``serve_empty_keys``), a connection
closed without an answer (``drop_connections``).
``heal()`` turns every failure off. Key rotation is ``rotate()`` / ``add_key()`` / ``retire_key()``.

``FakeClerkThread`` runs one on its own event loop in a background thread, for ``serve --dev`` and load
tests, whose event loop is not the caller's.
"""

from __future__ import annotations

import asyncio
import base64
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

import orjson
from aiohttp import web

from clerk_authd.rules.instance import cookie_suffix, parse_publishable_key
from clerk_authd.rules.jwt import peek_jwt
from clerk_authd.rules.names import SESSION_COOKIE
from clerk_authd.testing.mint import TokenMint, session_claims

DEFAULT_FRONTEND_API: Final = "clerk.authd.localhost"
DEFAULT_PUBLISHABLE_KEY: Final = "pk_test_" + base64.b64encode(f"{DEFAULT_FRONTEND_API}$".encode()).decode().rstrip("=")
DEFAULT_SECRET_KEY: Final = "sk_test_fakeclerk"
MSG_INVALID_SECRET_KEY: Final = (
    "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct."
)
GARBAGE_BODY: Final = "<html><body>502 Bad Gateway (not JSON)</body></html>"
_REFRESH_PATH = re.compile(r"/v1/sessions/([^/]+)/refresh")
#: machine-token verify path → (token type, the JSON body member carrying the token), clerk-semantics §18
MACHINE_VERIFY_ENDPOINTS: Final[Mapping[str, tuple[str, str]]] = {
    "/api_keys/verify": ("api_key", "secret"),
    "/m2m_tokens/verify": ("m2m_token", "token"),
    "/oauth_applications/access_tokens/verify": ("oauth_token", "access_token"),
}


def clerk_error(code: str, message: str, long_message: str | None = None) -> dict[str, object]:
    """One entry of Clerk's ``errors[]``."""
    return {"code": code, "message": message, "long_message": long_message or message, "meta": {}}


def _json_response(value: object, status: int = 200) -> web.Response:
    """JSON as Clerk sends it: ``Content-Type: application/json`` exactly. ``@clerk/backend`` parses a body as
    JSON only under that exact type (aiohttp's ``json_response`` adds ``; charset=utf-8``, which Clerk reads as
    text), so a Node client sees FakeClerk as it sees Clerk."""
    return web.Response(body=orjson.dumps(value), status=status, content_type="application/json")


def _errors_response(status: int, errors: list[dict[str, object]]) -> web.Response:
    return _json_response({"errors": errors, "clerk_trace_id": "fake"}, status)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as FakeClerk received it; ``json`` is the parsed body (``None`` without one)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


class FakeClerk:
    """A Backend API stand-in for one development instance, with its own signing key and Frontend API host.

    Tokens from ``session_token()`` carry ``iss = https://<frontend_api>`` and verify against this server's
    JWKS. ``clock`` (seconds since the epoch) stamps minted and refreshed tokens.
    """

    def __init__(
        self,
        *,
        secret_key: str = DEFAULT_SECRET_KEY,
        publishable_key: str = DEFAULT_PUBLISHABLE_KEY,
        mint: TokenMint | None = None,
        clock: Callable[[], float] = time.time,
        machine_secret_key: str = "",
    ) -> None:
        self.secret_key = secret_key
        self.machine_secret_key = machine_secret_key
        self.publishable_key = publishable_key
        self.frontend_api, _ = parse_publishable_key(publishable_key)
        self.issuer = f"https://{self.frontend_api}"
        self.cookie_suffix = cookie_suffix(publishable_key)
        self.mint = mint or TokenMint.generate(kid="ins_fakeclerk_1")
        self._clock = clock
        self._jwks: list[dict[str, Any]] = [self.mint.jwk]
        self._rotations = 0
        self._nonces: dict[str, object] = {}
        self._refresh_tokens: dict[str, str] = {}
        self._machine_tokens: dict[tuple[str, str], dict[str, Any]] = {}
        self.received: list[RecordedRequest] = []
        self.jwks_fetches = 0
        self._forced: tuple[int, list[dict[str, object]]] | None = None
        self._delay_s = 0.0
        self._garbage = False
        self._drop = False
        self._empty_keys = False
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (port 0 picks a free one); ``url`` is then set."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        bound_host, bound_port = runner.addresses[0][:2]
        self._runner = runner
        self._url = f"http://{bound_host}:{bound_port}"

    async def stop(self) -> None:
        """Stop listening; requests still being answered get half a second to finish."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The base URL to use as ``CLERK_API_URL``."""
        if self._url is None:
            raise RuntimeError("FakeClerk is not started")
        return self._url

    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request received, in order."""
        return [(r.method, r.path) for r in self.received]

    # -- keys and tokens ---------------------------------------------------------------------------------

    @property
    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The key set ``/v1/jwks`` serves right now."""
        return {"keys": [] if self._empty_keys else list(self._jwks)}

    def add_key(self, key: TokenMint | Mapping[str, Any]) -> None:
        """Publish another key: a mint's public JWK, or any raw JWK (hostile sets: EC, ``oct``, weak RSA)."""
        self._jwks = [*self._jwks, key.jwk if isinstance(key, TokenMint) else dict(key)]

    def retire_key(self, kid: str) -> None:
        """Stop publishing every entry with ``kid``."""
        self._jwks = [jwk for jwk in self._jwks if jwk.get("kid") != kid]

    def rotate(self) -> TokenMint:
        """Publish a fresh key and sign with it from now on; the old key stays published until retired."""
        self._rotations += 1
        mint = TokenMint.generate(kid=f"ins_fakeclerk_rotated_{self._rotations}")
        self.add_key(mint)
        self.mint = mint
        return mint

    def session_token(self, **claims: Any) -> str:
        """A session token of this instance: ``mint.session_claims`` arguments, issuer and clock defaulted."""
        claims.setdefault("issuer", self.issuer)
        claims.setdefault("now", self._clock())
        return self.mint.sign(session_claims(**claims))

    def register_handshake_nonce(self, nonce: str, directives: object) -> None:
        """Make ``GET /v1/clients/handshake_payload?nonce=<nonce>`` answer ``{"directives": directives}``.

        Normally a list of ``Set-Cookie`` strings; any JSON value is served as given (malformed payloads).
        """
        self._nonces[nonce] = list(directives) if isinstance(directives, list) else directives

    def register_refresh_token(self, session_id: str, refresh_token: str) -> None:
        """Make ``POST /v1/sessions/<session_id>/refresh`` accept ``refresh_token``."""
        self._refresh_tokens[session_id] = refresh_token

    def register_machine_token(self, token: str, token_type: str, **fields: Any) -> dict[str, Any]:
        """Make the ``token_type`` verify endpoint accept ``token``; returns the JSON it will answer.

        The answer is Clerk's resource JSON for the type (``APIKey``, ``M2MToken``, ``IdPOAuthAccessToken``)
        with ids and timestamps filled in; ``fields`` override or add members (``subject``, ``scopes``,
        ``claims``, ``name``, ``client_id``, ``aud``, ...).
        """
        if token_type not in _MACHINE_DEFAULTS:
            raise ValueError(f"not a machine token type: {token_type!r}")
        created_ms = int(self._clock() * 1000)
        answer: dict[str, Any] = {
            "id": f"{_MACHINE_ID_PREFIXES[token_type]}fake{len(self._machine_tokens) + 1}",
            **_MACHINE_DEFAULTS[token_type],
            "created_at": created_ms,
            "updated_at": created_ms,
        }
        answer.update(fields)
        self._machine_tokens[(token_type, token)] = answer
        return dict(answer)

    # -- failure switches --------------------------------------------------------------------------------

    def fail_with(self, status: int, errors: list[dict[str, object]] | None = None) -> None:
        """Answer every request with ``status`` and ``{"errors": errors}`` (a generic Clerk error by default)."""
        default = [clerk_error("unexpected_error", f"FakeClerk was told to fail with {status}")]
        self._forced = (status, default if errors is None else list(errors))

    def go_down(self) -> None:
        """Answer every request with 503, as Clerk does during an outage."""
        self.fail_with(503, [clerk_error("service_unavailable", "Service Unavailable")])

    def slow(self, seconds: float) -> None:
        """Wait ``seconds`` before answering anything (timeouts)."""
        self._delay_s = seconds

    def serve_garbage(self) -> None:
        """Answer every request with an HTML body that is not JSON: status 200, or the ``fail_with`` status."""
        self._garbage = True

    def drop_connections(self) -> None:
        """Close every connection without answering (Clerk unreachable mid-request: ``fetch`` fails)."""
        self._drop = True

    def serve_empty_keys(self) -> None:
        """Serve ``{"keys": []}`` from the JWKS endpoint."""
        self._empty_keys = True

    def heal(self) -> None:
        """Turn every failure switch off."""
        self._forced = None
        self._delay_s = 0.0
        self._garbage = False
        self._drop = False
        self._empty_keys = False

    # -- the server --------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        self.received.append(
            RecordedRequest(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        if request.method == "GET" and request.path == "/v1/jwks":
            self.jwks_fetches += 1
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        if self._drop and request.transport is not None:
            request.transport.abort()
            return web.Response()
        if self._garbage:
            status = 200 if self._forced is None else self._forced[0]
            return web.Response(status=status, text=GARBAGE_BODY, content_type="text/html")
        if self._forced is not None:
            return _errors_response(*self._forced)
        if request.headers.get("Authorization") not in self._bearers(request.path):
            return _errors_response(401, [clerk_error("clerk_key_invalid", MSG_INVALID_SECRET_KEY)])
        return self._route(request, body)

    def _bearers(self, path: str) -> tuple[str, ...]:
        """The Authorization values an endpoint accepts: the secret key, and for M2M also the machine key."""
        keys = [self.secret_key]
        if path == "/m2m_tokens/verify" and self.machine_secret_key:
            keys.append(self.machine_secret_key)
        return tuple(f"Bearer {key}" for key in keys)

    def _route(self, request: web.Request, body: Any) -> web.Response:
        if request.method == "GET" and request.path == "/v1/jwks":
            return _json_response(self.jwks)
        if request.method == "GET" and request.path == "/v1/clients/handshake_payload":
            directives = self._nonces.get(request.query.get("nonce", ""))
            if directives is None:
                return _errors_response(404, [clerk_error("resource_not_found", "not found")])
            return _json_response({"directives": directives})
        if request.method == "POST" and request.path in MACHINE_VERIFY_ENDPOINTS:
            return self._verify_machine_token(*MACHINE_VERIFY_ENDPOINTS[request.path], body)
        match = _REFRESH_PATH.fullmatch(request.path)
        if request.method == "POST" and match is not None:
            return self._refresh(match.group(1), request.query.get("suffixed_cookies") == "true", body)
        return _errors_response(404, [clerk_error("resource_not_found", "not found")])

    def _refresh(self, session_id: str, suffixed: bool, body: Any) -> web.Response:
        """Mint a new token from the expired one's claims, as cookie directives (clerk-semantics §6)."""
        fields = ("expired_token", "refresh_token", "request_origin", "request_headers")
        if not isinstance(body, dict) or body.get("format") != "cookie" or any(f not in body for f in fields):
            return _errors_response(422, [clerk_error("form_param_missing", "a required parameter is missing")])
        if self._refresh_tokens.get(session_id) != body["refresh_token"]:
            return _errors_response(404, [clerk_error("resource_not_found", "not found")])
        expired = peek_jwt(body["expired_token"]) if isinstance(body["expired_token"], str) else None
        if expired is None or expired.payload.get("sid") != session_id:
            return _errors_response(
                422, [clerk_error("form_param_value_invalid", "expired_token is not a token of this session")]
            )
        claims = dict(expired.payload)
        lifetime = claims.get("exp", 0) - claims.get("iat", 0) if _all_ints(claims, "exp", "iat") else 0
        now = int(self._clock())
        claims.update(iat=now, nbf=now - 10, exp=now + (lifetime if lifetime > 0 else 60))
        name = f"{SESSION_COOKIE}_{self.cookie_suffix}" if suffixed else SESSION_COOKIE
        cookie = f"{name}={self.mint.sign(claims)}; Path=/; Secure; SameSite=Lax"
        return _json_response({"object": "cookies", "cookies": [cookie]})

    def _verify_machine_token(self, token_type: str, member: str, body: Any) -> web.Response:
        """A registered token's resource JSON; 404 for any other token, 422 without the body member."""
        token = body.get(member) if isinstance(body, dict) else None
        if not isinstance(token, str):
            return _errors_response(422, [clerk_error("form_param_missing", f"{member} must be included")])
        answer = self._machine_tokens.get((token_type, token))
        if answer is None:
            return _errors_response(404, [clerk_error("resource_not_found", "not found")])
        return _json_response(answer)


#: Clerk's resource JSON per machine token type, less ``id`` and the timestamps (``api/resources/JSON.ts``)
_MACHINE_DEFAULTS: Final[Mapping[str, Mapping[str, Any]]] = {
    "api_key": {
        "object": "api_key",
        "type": "api_key",
        "name": "fake-api-key",
        "subject": "user_fake",
        "scopes": [],
        "claims": None,
        "revoked": False,
        "revocation_reason": None,
        "expired": False,
        "expiration": None,
        "created_by": None,
        "description": None,
        "last_used_at": None,
    },
    "m2m_token": {
        "object": "machine_to_machine_token",
        "subject": "mch_fake",
        "scopes": [],
        "claims": None,
        "revoked": False,
        "revocation_reason": None,
        "expired": False,
        "expiration": None,
    },
    "oauth_token": {
        "object": "clerk_idp_oauth_access_token",
        "client_id": "client_fake",
        "type": "oauth:access_token",
        "subject": "user_fake",
        "scopes": [],
        "revoked": False,
        "revocation_reason": None,
        "expired": False,
        "expiration": None,
    },
}
_MACHINE_ID_PREFIXES: Final[Mapping[str, str]] = {"api_key": "ak_", "m2m_token": "mt_", "oauth_token": "oat_"}


def _all_ints(claims: Mapping[str, Any], *names: str) -> bool:
    return all(isinstance(claims.get(name), int) and not isinstance(claims.get(name), bool) for name in names)


class FakeClerkThread:
    """Runs a ``FakeClerk`` on its own event loop in a daemon thread.

    ``fake`` is built in the caller's thread, so its switches and registrations can be used before and
    after ``start()``; they are plain attribute writes, safe across threads.
    """

    def __init__(self, fake: FakeClerk | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake or FakeClerk()
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout_s: float = 10.0) -> str:
        """Start the server thread and return its URL once it listens."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.fake.start(self._host, self._port))
            except Exception as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.fake.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="clerk_authd.fake_clerk", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise RuntimeError(f"FakeClerk did not start within {timeout_s:g}s")
        if failure:
            raise RuntimeError("FakeClerk failed to start") from failure[0]
        return self.fake.url

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server and its loop, and wait for the thread."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)
