"""``FakeClerk``: a real HTTP server on loopback speaking the slice of Clerk's Backend API this package calls.

Tests point a ``ClerkClient`` at ``FakeClerk.url`` instead of mocking HTTP, so the requests, headers,
timeouts and error bodies they exercise are the real ones. It serves the verifier's endpoints
(``GET /v1/jwks``, ``GET /v1/clients/handshake_payload``, ``POST /v1/sessions/{sid}/refresh`` and the three
machine-token verifications outside ``/v1``: ``machine_tokens``) and the resource endpoints of
``ClerkClient``'s sub-APIs from an in-memory ``store`` (``routes``). It checks the bearer on every endpoint
like Clerk (the M2M endpoint also takes the machine secret key), fails on demand (``switches``), and records
every request it receives (``received``). Key rotation is ``rotate()`` / ``add_key()`` / ``retire_key()``.
"""

from __future__ import annotations

import base64
import re
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
from clerk_authd.testing.fake_clerk.machine_tokens import (
    MACHINE_DEFAULTS,
    MACHINE_ID_PREFIXES,
    MACHINE_VERIFY_ENDPOINTS,
    verify_response,
)
from clerk_authd.testing.fake_clerk.responses import MSG_INVALID_SECRET_KEY, clerk_error, errors_response, json_response
from clerk_authd.testing.fake_clerk.routes import route
from clerk_authd.testing.fake_clerk.store import ResourceStore, StoreError
from clerk_authd.testing.fake_clerk.switches import FailureSwitches
from clerk_authd.testing.mint import TokenMint, session_claims

DEFAULT_FRONTEND_API: Final = "clerk.authd.localhost"
DEFAULT_PUBLISHABLE_KEY: Final = "pk_test_" + base64.b64encode(f"{DEFAULT_FRONTEND_API}$".encode()).decode().rstrip("=")
DEFAULT_SECRET_KEY: Final = "sk_test_fakeclerk"
_REFRESH_PATH = re.compile(r"/v1/sessions/([^/]+)/refresh")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as FakeClerk received it; ``json`` is the parsed body (``None`` without one).

    ``query`` keeps one value per name; ``query_pairs`` every pair in order (repeated filters such as
    ``email_address=a&email_address=b``). ``at`` is ``time.monotonic()`` on arrival, for retry timing.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    query_pairs: tuple[tuple[str, str], ...] = ()
    at: float = 0.0


class FakeClerk(FailureSwitches):
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
        super().__init__()
        self._clock = clock
        self._jwks: list[dict[str, Any]] = [self.mint.jwk]
        self._rotations = 0
        self._nonces: dict[str, list[str]] = {}
        self._refresh_tokens: dict[str, str] = {}
        self._machine_tokens: dict[tuple[str, str], dict[str, Any]] = {}
        self.received: list[RecordedRequest] = []
        self.jwks_fetches = 0
        self.store = ResourceStore(lambda: int(self._clock() * 1000))
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

    def register_handshake_nonce(self, nonce: str, directives: list[str]) -> None:
        """Make ``GET /v1/clients/handshake_payload?nonce=<nonce>`` answer ``directives``."""
        self._nonces[nonce] = list(directives)

    def register_refresh_token(self, session_id: str, refresh_token: str) -> None:
        """Make ``POST /v1/sessions/<session_id>/refresh`` accept ``refresh_token``."""
        self._refresh_tokens[session_id] = refresh_token

    def register_machine_token(self, token: str, token_type: str, **fields: Any) -> dict[str, Any]:
        """Make the ``token_type`` verify endpoint accept ``token``; returns the JSON it will answer.

        The answer is Clerk's resource JSON for the type (``APIKey``, ``M2MToken``, ``IdPOAuthAccessToken``)
        with ids and timestamps filled in; ``fields`` override or add members (``subject``, ``scopes``,
        ``claims``, ``name``, ``client_id``, ``aud``, ...).
        """
        if token_type not in MACHINE_DEFAULTS:
            raise ValueError(f"not a machine token type: {token_type!r}")
        created_ms = int(self._clock() * 1000)
        answer: dict[str, Any] = {
            "id": f"{MACHINE_ID_PREFIXES[token_type]}fake{len(self._machine_tokens) + 1}",
            **MACHINE_DEFAULTS[token_type],
            "created_at": created_ms,
            "updated_at": created_ms,
        }
        answer.update(fields)
        self._machine_tokens[(token_type, token)] = answer
        return dict(answer)

    # -- the server --------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        self.received.append(
            RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                body,
                query_pairs=tuple(request.query.items()),
                at=time.monotonic(),
            )
        )
        if request.method == "GET" and request.path == "/v1/jwks":
            self.jwks_fetches += 1
        failure = await self.intercept()
        if failure is not None:
            return failure
        if request.headers.get("Authorization") not in self._bearers(request.path):
            return errors_response(401, [clerk_error("clerk_key_invalid", MSG_INVALID_SECRET_KEY)])
        return self._route(request, body)

    def _bearers(self, path: str) -> tuple[str, ...]:
        """The Authorization values an endpoint accepts: the secret key, and for M2M also the machine key."""
        keys = [self.secret_key]
        if path == "/m2m_tokens/verify" and self.machine_secret_key:
            keys.append(self.machine_secret_key)
        return tuple(f"Bearer {key}" for key in keys)

    def _route(self, request: web.Request, body: Any) -> web.Response:
        if request.method == "GET" and request.path == "/v1/jwks":
            return json_response(self.jwks)
        if request.method == "GET" and request.path == "/v1/clients/handshake_payload":
            directives = self._nonces.get(request.query.get("nonce", ""))
            if directives is None:
                return errors_response(404, [clerk_error("resource_not_found", "not found")])
            return json_response({"directives": directives})
        if request.method == "POST" and request.path in MACHINE_VERIFY_ENDPOINTS:
            return verify_response(self._machine_tokens, *MACHINE_VERIFY_ENDPOINTS[request.path], body)
        match = _REFRESH_PATH.fullmatch(request.path)
        if request.method == "POST" and match is not None:
            return self._refresh(match.group(1), request.query.get("suffixed_cookies") == "true", body)
        try:
            return json_response(route(self.store, request.method, request.path, request.query, body))
        except StoreError as error:
            return errors_response(error.status, [clerk_error(error.code, error.message, meta=error.meta)])

    def _refresh(self, session_id: str, suffixed: bool, body: Any) -> web.Response:
        """Mint a new token from the expired one's claims, as cookie directives (clerk-semantics §6)."""
        fields = ("expired_token", "refresh_token", "request_origin", "request_headers")
        if not isinstance(body, dict) or body.get("format") != "cookie" or any(f not in body for f in fields):
            return errors_response(422, [clerk_error("form_param_missing", "a required parameter is missing")])
        if self._refresh_tokens.get(session_id) != body["refresh_token"]:
            return errors_response(404, [clerk_error("resource_not_found", "not found")])
        expired = peek_jwt(body["expired_token"]) if isinstance(body["expired_token"], str) else None
        if expired is None or expired.payload.get("sid") != session_id:
            return errors_response(
                422, [clerk_error("form_param_value_invalid", "expired_token is not a token of this session")]
            )
        claims = dict(expired.payload)
        lifetime = claims.get("exp", 0) - claims.get("iat", 0) if _all_ints(claims, "exp", "iat") else 0
        now = int(self._clock())
        claims.update(iat=now, nbf=now - 10, exp=now + (lifetime if lifetime > 0 else 60))
        name = f"{SESSION_COOKIE}_{self.cookie_suffix}" if suffixed else SESSION_COOKIE
        cookie = f"{name}={self.mint.sign(claims)}; Path=/; Secure; SameSite=Lax"
        return json_response({"object": "cookies", "cookies": [cookie]})


def _all_ints(claims: Mapping[str, Any], *names: str) -> bool:
    return all(isinstance(claims.get(name), int) and not isinstance(claims.get(name), bool) for name in names)
