"""Clerk's Express SDK for Sanic apps: ``clerk_middleware``, ``get_auth``, ``require_auth`` (clerk-semantics §19).

::

    clerk_middleware(app, **options)    every request: authenticateRequest (acceptsToken 'any'); Clerk's
                                        headers on the answer; 307 when the state names a Location
    get_auth(request, accepts_token=)   Clerk's getAuth(): the auth object for the accepted token type(s)
    @require_auth(...)                  a signed-out browser navigation goes to the sign-in page, an API
                                        call gets 401 JSON; requirements (permission=, role=, ...) give 403

The service (``clerk_authd.service``) runs on the same pieces: ``ClerkRuntime`` (one per worker: the Backend
API client, the keys, the verified-token cache and the ``Authenticator``, opened and closed by the server's
listeners) and ``service.answers`` (how a verdict is answered). Options are Clerk's Express option names in
snake_case; they are read like the ``CLERK_*`` variables they stand for, so one validation covers both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import replace
from functools import wraps
from typing import Any, Final, Literal, TypeVar, cast

from sanic import Request, Sanic
from sanic.exceptions import ServerError
from sanic.response import BaseHTTPResponse, HTTPResponse

from clerk_authd.auth import Auth, SignedInAuth, auth_for_accepted_token, signed_out_auth
from clerk_authd.authenticate import AcceptsToken, AuthenticateOptions, Authenticator, CachedVerdict
from clerk_authd.backend_api import ClerkClient
from clerk_authd.cache import VerifiedTokenCache
from clerk_authd.claims import SessionClaims
from clerk_authd.compact import peek_jwt
from clerk_authd.config import Settings, load_settings, read_sources
from clerk_authd.errors import BackendAPIError
from clerk_authd.keys import KeyResolver, PemKey
from clerk_authd.keystore import KeyStore, KeyStoreStatus
from clerk_authd.request import RequestView
from clerk_authd.service.answers import AnswerPolicy, Verdict
from clerk_authd.service.requirements import NO_REQUIREMENTS, Requirements, parse_requirement
from clerk_authd.state import RequestState

log = logging.getLogger(__name__)

CacheResult = Literal["hit", "miss"]
Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])
AnyApp = Sanic[Any, Any]
#: where the runtime lives on ``app.ctx`` and the request state on ``request.ctx``
_RUNTIME_ATTR: Final = "clerk_runtime"
_STATE_ATTR: Final = "clerk_state"
_VIEW_ATTR: Final = "clerk_view"
MSG_MIDDLEWARE_REQUIRED: Final = 'Clerk: The "clerk_middleware" should be registered before using "{name}".'
#: Clerk's Express options (snake_case) and the variables they stand for
_OPTION_VARIABLES: Final = {
    "publishable_key": "CLERK_PUBLISHABLE_KEY",
    "secret_key": "CLERK_SECRET_KEY",
    "jwt_key": "CLERK_JWT_KEY",
    "machine_secret_key": "CLERK_MACHINE_SECRET_KEY",
    "api_url": "CLERK_API_URL",
    "api_version": "CLERK_API_VERSION",
    "authorized_parties": "CLERK_AUTHORIZED_PARTIES",
    "audience": "CLERK_AUDIENCE",
    "sign_in_url": "CLERK_SIGN_IN_URL",
    "domain": "CLERK_DOMAIN",
    "proxy_url": "CLERK_PROXY_URL",
    "is_satellite": "CLERK_IS_SATELLITE",
    "clock_skew_in_ms": "CLERK_AUTHD_CLOCK_SKEW_MS",
    "issuer": "CLERK_AUTHD_ISSUER",
    "enable_handshake": "CLERK_AUTHD_ENABLE_HANDSHAKE",
    "sign_in_return_param": "CLERK_AUTHD_SIGN_IN_RETURN_PARAM",
    "debug": "CLERK_AUTHD_DEBUG",
}
_ORG_SYNC_VARIABLES: Final = {
    "organization_patterns": "CLERK_AUTHD_ORG_PATTERNS",
    "organizationPatterns": "CLERK_AUTHD_ORG_PATTERNS",
    "personal_account_patterns": "CLERK_AUTHD_PERSONAL_ACCOUNT_PATTERNS",
    "personalAccountPatterns": "CLERK_AUTHD_PERSONAL_ACCOUNT_PATTERNS",
}


class MiddlewareRequiredError(RuntimeError):
    """``get_auth`` / ``require_auth`` ran on a request ``clerk_middleware`` did not see (Clerk throws too)."""


def settings_from_options(options: Mapping[str, object], environ: Mapping[str, str] | None = None) -> Settings:
    """Clerk's Express options over the environment and ``.env``; raises ``ConfigError`` listing every problem."""
    overrides: dict[str, str] = {}
    for name, value in options.items():
        if name == "organization_sync_options":
            if not isinstance(value, Mapping):
                raise TypeError("organization_sync_options must be a mapping of pattern lists")
            for key, patterns in value.items():
                if key not in _ORG_SYNC_VARIABLES:
                    raise TypeError(f"unknown organization_sync_options key {key!r}")
                overrides[_ORG_SYNC_VARIABLES[key]] = _variable_text(patterns)
        elif name in _OPTION_VARIABLES:
            overrides[_OPTION_VARIABLES[name]] = _variable_text(value)
        else:
            raise TypeError(f"clerk_middleware() got an unknown option {name!r}")
    return load_settings(read_sources(environ=environ), overrides)


def _variable_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def accepts_option(accepts: tuple[str, ...]) -> AcceptsToken:
    """A configured list as Clerk's ``acceptsToken``: one name as itself (``'any'`` included), more as a list."""
    return accepts[0] if len(accepts) == 1 else accepts


class _ObservedClient(ClerkClient):
    """A Backend API client that reports every JWKS fetch's outcome (for ``/metrics``)."""

    def __init__(self, *, on_jwks_fetch: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_jwks_fetch = on_jwks_fetch

    async def get_jwks(self) -> dict[str, Any]:
        try:
            jwks = await super().get_jwks()
        except BackendAPIError as exc:
            self._on_jwks_fetch("unreachable" if exc.status is None else "error")
            raise
        self._on_jwks_fetch("ok")
        return jwks


class _VerdictMemo:
    """What a cached verdict renders to, kept beside it: the identity headers and the key id.

    Keyed by the identity of the ``SessionClaims`` object the token cache shares across hits, and holding it,
    so an entry can never be confused with another verdict; bounded like the cache it shadows.
    """

    __slots__ = ("_entries", "_max_size")

    def __init__(self, max_size: int) -> None:
        self._max_size = max_size
        self._entries: dict[int, tuple[SessionClaims, tuple[tuple[str, str], ...], str | None]] = {}

    def get(self, claims: SessionClaims) -> tuple[tuple[tuple[str, str], ...], str | None] | None:
        entry = self._entries.get(id(claims))
        return (entry[1], entry[2]) if entry is not None and entry[0] is claims else None

    def put(self, claims: SessionClaims, headers: tuple[tuple[str, str], ...], kid: str | None) -> None:
        if not self._max_size:
            return
        if len(self._entries) >= self._max_size:
            del self._entries[next(iter(self._entries))]
        self._entries[id(claims)] = (claims, headers, kid)


class ClerkRuntime:
    """One worker's means to decide: settings, Backend API client, keys, verified-token cache, Authenticator.

    ``open()`` (a ``before_server_start`` listener) opens the client and loads the keys before the first
    request; ``close()`` (``after_server_stop``) stops the key refresh and the client within a deadline. A
    ``clerk_client`` passed in is the caller's: used, never opened or closed here.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clerk_client: ClerkClient | None = None,
        on_jwks_fetch: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._owns_client = clerk_client is None and bool(settings.secret_key)
        self.client = clerk_client
        if self._owns_client:
            client_options: dict[str, Any] = {
                "secret_key": settings.secret_key,
                "api_url": settings.api_url,
                "api_version": settings.api_version,
                "machine_secret_key": settings.machine_secret_key,
            }
            self.client = (
                _ObservedClient(on_jwks_fetch=on_jwks_fetch, **client_options)
                if on_jwks_fetch is not None
                else ClerkClient(**client_options)
            )
        self.cache: VerifiedTokenCache[CachedVerdict] | None = (
            VerifiedTokenCache(settings.cache_size) if settings.cache_size else None
        )
        self.keys: KeyResolver | None = None
        self.keystore: KeyStore | None = None
        if settings.jwt_key:
            self.keys = PemKey(settings.jwt_key)
        elif self.client is not None:
            self.keystore = KeyStore(
                self.client,
                refresh_s=settings.jwks_refresh_s,
                min_refetch_s=settings.jwks_min_refetch_s,
                stale_s=settings.jwks_stale_s,
                on_keys_removed=self._forget_kids,
            )
            self.keys = self.keystore
        self.authenticator = Authenticator(
            AuthenticateOptions.from_settings(settings),
            keys=self.keys,
            client=self.client,
            cache=self.cache,
            clock=clock,
        )
        self.answers = AnswerPolicy(
            sign_in_url=settings.sign_in_url,
            return_param=settings.sign_in_return_param,
            skew_s=settings.clock_skew_ms / 1000,
        )
        self._memo = _VerdictMemo(settings.cache_size)

    async def open(self) -> None:
        """Open the client (if ours) and load the keys; a failed load is kept and reported, never raised."""
        if self._owns_client and self.client is not None:
            await self.client.open()
        if self.keystore is not None:
            await self.keystore.start()

    async def close(self, deadline_s: float = 5.0) -> None:
        """Stop the key refresh and close our client, giving up after ``deadline_s``."""
        if self.keystore is not None:
            await self.keystore.close(deadline_s)
        if self._owns_client and self.client is not None:
            try:
                await asyncio.wait_for(self.client.close(), deadline_s)
            except TimeoutError:
                log.warning("the Backend API client did not close within %.1fs", deadline_s)

    def key_status(self) -> KeyStoreStatus:
        """The key set's health; a PEM key is always ready, no key source never is."""
        if self.keystore is not None:
            return self.keystore.status()
        if self.keys is not None:
            return KeyStoreStatus(ready=True, loaded=True, age_s=None, last_error=None, kids=())
        return KeyStoreStatus(
            ready=False, loaded=False, age_s=None, last_error="no CLERK_SECRET_KEY or CLERK_JWT_KEY", kids=()
        )

    def _forget_kids(self, kids: frozenset[str]) -> None:
        if self.cache is not None:
            dropped = self.cache.drop_kids(kids)
            log.info("dropped %d cached verdicts of removed keys %s", dropped, sorted(kids))

    async def authenticate(self, view: RequestView, *, accepts_token: AcceptsToken | None = None) -> RequestState:
        """Clerk's ``authenticateRequest`` for ``view`` with this worker's keys, client and cache."""
        return await self.authenticator.authenticate(view, accepts_token=accepts_token)

    def verdict(
        self,
        view: RequestView,
        state: RequestState,
        auth: Auth | None,
        requirements: Requirements = NO_REQUIREMENTS,
        *,
        kid: str | None = None,
        cache: CacheResult | None = None,
    ) -> Verdict:
        """A verdict on ``auth`` (first unmet requirement, identity headers rendered once per cached verdict)."""
        unmet = requirements.first_unmet(auth) if auth is not None and auth.is_authenticated else None
        if isinstance(auth, SignedInAuth):
            memo = self._memo.get(auth.claims)
            identity = memo[0] if memo is not None else self.answers.render_identity(auth)
        else:
            identity = self.answers.render_identity(auth)
        return Verdict(view, state, auth, unmet, self.clock(), identity=identity, kid=kid, cache=cache)

    async def decide(self, view: RequestView, requirements: Requirements = NO_REQUIREMENTS) -> Verdict:
        """The service's decision: authenticate (``accepts`` from the call, else the settings), then requirements.

        Also learns, for the decision log, whether the token cache answered and which key signed the token.
        The cache counts hits and misses as it is asked; a lookup that hits never awaits, so if this call saw
        ``hits`` move by one and ``misses`` stay put, the hit was this request's.
        """
        accepts = accepts_option(requirements.accepts_token or self.settings.accepts_token)
        hits, misses = (self.cache.hits, self.cache.misses) if self.cache is not None else (0, 0)
        state = await self.authenticator.authenticate(view, accepts_token=accepts)
        cache: CacheResult | None = None
        if self.cache is not None and (self.cache.hits, self.cache.misses) != (hits, misses):
            cache = "hit" if self.cache.misses == misses and self.cache.hits == hits + 1 else "miss"
        auth = state.to_auth()
        kid = self._kid(state, cache)
        return self.verdict(view, state, auth, requirements, kid=kid, cache=cache)

    def _kid(self, state: RequestState, cache: CacheResult | None) -> str | None:
        """The signing key of a signed-in token: remembered per cached verdict, read from the header otherwise."""
        auth = state.auth
        if not isinstance(auth, SignedInAuth) or state.token is None:
            return None
        memo = self._memo.get(auth.claims)
        if memo is not None:
            return memo[1]
        decoded = peek_jwt(state.token)
        kid = decoded.header.get("kid") if decoded is not None else None
        kid = kid if isinstance(kid, str) else None
        if cache is not None:
            self._memo.put(auth.claims, self.answers.render_identity(auth), kid)
        return kid


def install_runtime(
    app: AnyApp,
    settings: Settings,
    *,
    clerk_client: ClerkClient | None = None,
    on_jwks_fetch: Callable[[str], None] | None = None,
    close_deadline_s: float = 5.0,
) -> None:
    """Give every worker of ``app`` its own ``ClerkRuntime``, opened before serving and closed after."""

    async def open_runtime(app: AnyApp) -> None:
        runtime = ClerkRuntime(settings, clerk_client=clerk_client, on_jwks_fetch=on_jwks_fetch)
        await runtime.open()
        setattr(app.ctx, _RUNTIME_ATTR, runtime)

    async def close_runtime(app: AnyApp) -> None:
        runtime = getattr(app.ctx, _RUNTIME_ATTR, None)
        if runtime is not None:
            await runtime.close(close_deadline_s)

    app.register_listener(open_runtime, "before_server_start")
    app.register_listener(close_runtime, "after_server_stop")


def runtime_of(app: AnyApp) -> ClerkRuntime:
    """The worker's runtime; a clear error when the app was not set up with ``clerk_middleware``."""
    runtime = getattr(app.ctx, _RUNTIME_ATTR, None)
    if not isinstance(runtime, ClerkRuntime):
        raise MiddlewareRequiredError(MSG_MIDDLEWARE_REQUIRED.format(name="clerk_middleware"))
    return runtime


def request_view(request: Request) -> RequestView:
    """The request as Clerk's Express SDK sees it: its URL re-based on the forwarded or ``Host`` headers."""
    return RequestView.build(request.method, request.url, request.headers.items())


def clerk_middleware(
    app: AnyApp,
    *,
    settings: Settings | None = None,
    clerk_client: ClerkClient | None = None,
    **options: object,
) -> None:
    """Authenticate every request of ``app`` as Clerk's Express ``clerkMiddleware()`` does.

    Options are Clerk's (``publishable_key``, ``secret_key``, ``jwt_key``, ``authorized_parties``,
    ``audience``, ``sign_in_url``, ``domain``, ``proxy_url``, ``is_satellite``, ``organization_sync_options``,
    ``enable_handshake``, ``clock_skew_in_ms``, ``debug``, ...), over the ``CLERK_*`` environment; or pass
    ``settings`` whole. Like Clerk, every token type is accepted here (``acceptsToken: 'any'``); ``get_auth``
    filters. Signed-out answers carry Clerk's ``x-clerk-auth-*`` headers; a state with a ``Location`` (a
    handshake, or a development instance's clean URL) is answered 307 before the handler runs.
    """
    if settings is not None and options:
        raise TypeError("pass either settings or Clerk options to clerk_middleware, not both")
    install_runtime(app, settings or settings_from_options(options), clerk_client=clerk_client)
    app.register_middleware(_authenticate, "request")
    app.register_middleware(_append_clerk_headers, "response")


async def _authenticate(request: Request) -> HTTPResponse | None:
    view = request_view(request)
    state = await runtime_of(request.app).authenticate(view, accepts_token="any")
    setattr(request.ctx, _VIEW_ATTR, view)
    setattr(request.ctx, _STATE_ATTR, state)
    if state.header("location") is not None:
        return HTTPResponse(status=307)
    if state.status == "handshake":
        raise ServerError("Clerk: unexpected handshake without redirect")
    return None


async def _append_clerk_headers(request: Request, response: BaseHTTPResponse) -> None:
    """Express appends the state's headers to the response: add those the response does not set itself."""
    state = getattr(request.ctx, _STATE_ATTR, None)
    if not isinstance(state, RequestState):
        return
    for name, value in state.headers:
        if name not in response.headers:
            response.headers.add(name, value)
    for cookie in state.set_cookies:
        response.headers.add("set-cookie", cookie)


def request_state(request: Request, *, caller: str = "get_auth") -> RequestState:
    """The state ``clerk_middleware`` computed for ``request``."""
    state = getattr(request.ctx, _STATE_ATTR, None)
    if not isinstance(state, RequestState):
        raise MiddlewareRequiredError(MSG_MIDDLEWARE_REQUIRED.format(name=caller))
    return state


def get_auth(
    request: Request,
    *,
    accepts_token: str | Collection[str] = "session_token",  # noqa: S107 - a token type, not a secret
    treat_pending_as_signed_out: bool = True,
) -> Auth:
    """Clerk's ``getAuth(req, {acceptsToken})``: the auth object, or the null object of the accepted type.

    The default accepts session tokens only, as Clerk's does: a request carrying an API key gets a
    signed-out session object unless ``accepts_token`` names ``'api_key'`` (or ``'any'``).
    """
    state = request_state(request)
    auth = state.to_auth(treat_pending_as_signed_out) or signed_out_auth()
    return auth_for_accepted_token(auth, accepts_token)


def require_auth(
    handler: Handler | None = None,
    *,
    sign_in_url: str | None = None,
    accepts_token: str | Collection[str] = "session_token",  # noqa: S107 - a token type, not a secret
    **requirements: str,
) -> Handler | Callable[[Handler], Handler]:
    """Only signed-in users reach the handler; ``requirements`` (``permission=``, ``role=``, ``feature=``,
    ``plan=``, ``reverification=``) must all hold, as ``has()`` decides.

    Otherwise the answer is ``/forward-auth``'s: a browser navigation goes (302) to ``sign_in_url`` (default
    ``CLERK_SIGN_IN_URL``) with the original URL in ``CLERK_AUTHD_SIGN_IN_RETURN_PARAM``; anything else gets
    401 JSON, or 403 JSON for a failed requirement. Handshakes were already answered (307) by the middleware.
    Usable bare (``@require_auth``) or called (``@require_auth(permission="org:invoices:read")``).
    """
    checks = Requirements(tuple(parse_requirement(name, value) for name, value in requirements.items()))

    def decorate(inner: Handler) -> Handler:
        @wraps(inner)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> Any:
            state = request_state(request, caller="require_auth")
            runtime = runtime_of(request.app)
            auth = get_auth(request, accepts_token=accepts_token)
            verdict = runtime.verdict(getattr(request.ctx, _VIEW_ATTR), state, auth, checks)
            if verdict.allowed:
                return await inner(request, *args, **kwargs)
            policy = runtime.answers if sign_in_url is None else replace(runtime.answers, sign_in_url=sign_in_url)
            return policy.forward_auth(verdict, with_cookies=False)

        return cast(Handler, guarded)

    return decorate(handler) if handler is not None else decorate
