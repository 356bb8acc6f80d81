"""``ClerkRuntime``: one worker's means to decide, and the decision every service endpoint shares.

A runtime owns the settings, the Backend API client (unless the caller shares one), the keys (a ``KeyStore``
kept fresh in the background, or the networkless PEM key), the verified-token cache and the ``Authenticator``.
``decide`` is the service's one decision: Clerk's ``authenticateRequest``, then the requirements, as a
``Verdict`` that ``sanic.answers`` renders. It knows nothing of Sanic apps: ``sanic.install`` gives each
worker of an app its own, and ``clerk-authd check`` / ``explain`` open one for a single run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from clerk_authd.clerk.authenticate import Authenticator
from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.cache import VerifiedTokenCache
from clerk_authd.clerk.keystore import KeyStore, KeyStoreStatus
from clerk_authd.clerk.limiter import CallGuard
from clerk_authd.clerk.machine import MachineAnswers
from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.config import Settings
from clerk_authd.errors import AuthenticateRequestError, BackendAPIError
from clerk_authd.reasons import UNEXPECTED_ERROR
from clerk_authd.rules.auth import Auth, SignedInAuth, pending_as_signed_out
from clerk_authd.rules.cached_verdict import CachedVerdict, header_kid
from clerk_authd.rules.carriers import parse_authorization
from clerk_authd.rules.keys import KeyResolver, PemKey
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.requirements import NO_REQUIREMENTS, Requirements
from clerk_authd.rules.state import RequestState
from clerk_authd.rules.tokentypes import AcceptsToken, accepts_option
from clerk_authd.rules.verdict import Verdict, render_auth_identity, render_identity

log = logging.getLogger(__name__)

CacheResult = Literal["hit", "miss"]


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


class AllowedOnToken(NamedTuple):
    """A request ``ClerkRuntime.decide`` would allow on its ``Authorization`` token alone (``allowed_on_token``)."""

    verdict: CachedVerdict
    #: the decision line's ``cache``: ``"hit"``, ``"miss"`` (verified now), ``None`` with the cache off
    cache: CacheResult | None


class ClerkRuntime:
    """One worker's means to decide: settings, Backend API client, keys, verified-token cache, Authenticator.

    ``open()`` (a ``before_server_start`` listener) opens the client and loads the keys before the first
    request; ``close()`` (``after_server_stop``) stops the key refresh and the client within a deadline. A
    ``clerk_client`` passed in is the caller's: used, never opened or closed here. ``clock`` (epoch seconds)
    drives token times and cache expiry, ``monotonic`` the key set's age and the Backend API rate limit; tests
    replace both to run hours of outage without waiting.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clerk_client: ClerkClient | None = None,
        on_jwks_fetch: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.clock = clock
        #: the one gate for Backend API calls that requests trigger (``/metrics`` reads its ``limited`` counts)
        self.guard = CallGuard(settings.bapi_rate, settings.bapi_burst, monotonic)
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
                clock=monotonic,
                on_keys_removed=self._forget_kids,
                on_loaded=self._keys_loaded,
            )
            self.keys = self.keystore
        machine_answers: MachineAnswers | None = (
            VerifiedTokenCache(settings.cache_size) if settings.cache_size and settings.machine_cache_s else None
        )
        #: the configured ``accepts`` as Clerk's option, for every decision whose requirements name none
        self._accepts = accepts_option(settings.accepts_token)
        self.authenticator = Authenticator(
            AuthenticateOptions.from_settings(settings),
            keys=self.keys,
            client=self.client,
            cache=self.cache,
            clock=clock,
            guard=self.guard,
            machine_answers=machine_answers,
            machine_answer_ttl_s=settings.machine_cache_s,
        )

    async def open(self) -> None:
        """Open the client (if ours) and load the keys; a failed load is kept and reported, never raised."""
        if self._owns_client and self.client is not None:
            await self.client.open()
        if self.keystore is not None:
            await self.keystore.start()

    async def close(self, deadline_s: float = 5.0) -> None:
        """Stop the key refresh and the Backend API calls in flight, and close our client, giving up after
        ``deadline_s`` for each."""
        if self.keystore is not None:
            await self.keystore.close(deadline_s)
        await self.guard.close(deadline_s)
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

    def _keys_loaded(self) -> None:
        """Fresh keys: cached verdicts are usable until the set goes stale (on the verdicts' clock)."""
        self.authenticator.sessions.usable_until = self.clock() + self.settings.jwks_stale_s

    def _forget_kids(self, kids: frozenset[str]) -> None:
        if self.cache is not None:
            dropped = self.cache.drop_kids(kids)
            log.info("dropped %d cached verdicts of removed keys %s", dropped, sorted(kids))

    async def authenticate(self, view: RequestView, *, accepts_token: AcceptsToken | None = None) -> RequestState:
        """Clerk's ``authenticateRequest`` for ``view`` with this worker's keys, client and cache, never a throw.

        Where Clerk throws (``AuthenticateRequestError``: a bad handshake token on a development instance, a
        satellite request from its sign-in URL's origin), the client chose the input, so Clerk's middleware
        answering 500 would let anyone provoke server errors: the request is signed out instead, with Clerk's
        reason for a failure that is not a verification's (``unexpected-error``) and Clerk's thrown message.
        """
        try:
            return await self.authenticator.authenticate(view, accepts_token=accepts_token)
        except AuthenticateRequestError as exc:
            log.warning("authenticateRequest threw, the request is signed out: %s", exc)
            return RequestState.signed_out(UNEXPECTED_ERROR, str(exc))

    def verdict(
        self, view: RequestView, state: RequestState, auth: Auth | None, requirements: Requirements = NO_REQUIREMENTS
    ) -> Verdict:
        """A verdict on ``auth``: the first unmet requirement, the identity headers (rendered once per verified
        session while its claims are among the recent ones, ``cached_verdict.RecentClaims``), and for the decision
        log the signing key and the cache's part.
        """
        unmet = requirements.first_unmet(auth) if auth is not None and auth.is_authenticated else None
        verdict = state.verdict
        if verdict is not None and isinstance(auth, SignedInAuth) and auth.claims is verdict.claims:
            identity = verdict.identity_block(render_identity)
        else:
            identity = render_auth_identity(auth)
        cache: CacheResult | None = None if state.cache_hit is None else "hit" if state.cache_hit else "miss"
        return Verdict(view, state, auth, unmet, self.clock(), identity_block=identity, kid=_kid(state), cache=cache)

    def allowed_on_token(
        self, authorization: str | None, requirements: Requirements = NO_REQUIREMENTS, *, verify_now: bool = False
    ) -> AllowedOnToken | None:
        """The verdict of a request that ``decide`` would allow on its ``Authorization`` header alone under
        ``requirements`` (its ``accepts``, else the configured one), and the cache's part in it: a session the
        cache knows (``"hit"``), or, with ``verify_now``, one verified now because its key is at hand
        (``"miss"``; ``None`` with the cache off), not pending (Clerk's ``toAuth()`` signs a pending one out),
        meeting every check. ``None`` leaves the request to ``decide``, which also answers a denial; nothing is
        counted then, and a verification made here is handed over to it (``SessionVerifier.hand_over``), so the
        token is not verified twice.

        ``authorization`` is the header's value as Clerk reads it (first of its name, trimmed, as Node's bytes).
        """
        token = parse_authorization(authorization)
        if token is None:
            return None
        accepts = self._accepts_for(requirements)
        authenticator = self.authenticator
        cached = authenticator.cached_header_session(token, accepts)
        if cached is not None:
            if not _allows(cached, token, requirements):
                return None
            authenticator.sessions.count_hit()
            return AllowedOnToken(cached, "hit")
        verified = authenticator.verified_header_session(token, accepts) if verify_now else None
        if verified is None:
            return None
        if not _allows(verified, token, requirements):
            authenticator.sessions.hand_over(token, verified)
            return None
        authenticator.sessions.keep(token, verified)
        return AllowedOnToken(verified, "miss" if authenticator.sessions.caches else None)

    async def decide(self, view: RequestView, requirements: Requirements = NO_REQUIREMENTS) -> Verdict:
        """The service's decision: authenticate (``accepts`` from the call, else the settings), then requirements."""
        state = await self.authenticate(view, accepts_token=self._accepts_for(requirements))
        return self.verdict(view, state, state.to_auth(), requirements)

    def _accepts_for(self, requirements: Requirements) -> AcceptsToken:
        """Clerk's ``acceptsToken`` for a call: the requirements' ``accepts``, else the configured one."""
        return accepts_option(requirements.accepts_token) if requirements.accepts_token else self._accepts


def _allows(verdict: CachedVerdict, token: str, requirements: Requirements) -> bool:
    """Whether ``decide`` allows a request signed in as ``verdict``'s session under ``requirements``."""
    auth = pending_as_signed_out(verdict.signed_in(token))
    return auth.is_authenticated and requirements.first_unmet(auth) is None


def _kid(state: RequestState) -> str | None:
    """The signing key of a signed-in session token: its verdict's, or read from the token's header where the
    state has no verdict (a session a handshake or a refresh produced; ``Authenticator`` does not cache those).
    """
    if state.verdict is not None:
        return state.verdict.kid
    if not isinstance(state.auth, SignedInAuth) or state.token is None:
        return None
    return header_kid(state.token)
