"""Clerk's ``authenticateRequest``: who one request is, decided in Clerk's order (clerk-semantics §2–§13).

::

    preconditions (throw)  →  accepts_token array check
    ├── token in Authorization  →  session (§4) | any/array (§18) | one machine type (§18)
    └── no header token         →  "No token in header" (machine types) | the cookie path (§5):
            handshake resolution → satellite sync → primary sync → dev browser → client_uat checks
            → decode → type guards → iat vs client_uat → verify → cross-origin sync → organization sync

Each stage is its own module: ``preconditions``, ``header_path`` (session and machine tokens in the
``Authorization`` header), ``cookie_path``, ``session_verifier`` (the cached verify), ``refresh`` (Clerk's
``handleSessionTokenError``: a refresh through the Backend API, a handshake, or signed out) and ``handshake``
(resolving one). This module dispatches between them and is the library's ``authenticate_request``.
Clerk's answers about opaque machine tokens may be reused for a few seconds (``machine_answers``); every
Backend API call a request triggers (nonce, refresh, opaque token) goes through one ``limiter.CallGuard``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.cache import VerifiedTokenCache
from clerk_authd.clerk.cookie_path import CookiePath
from clerk_authd.clerk.header_path import NO_TOKEN_IN_HEADER, HeaderPath, is_other_than_a_session_jwt
from clerk_authd.clerk.keystore import KeyStore
from clerk_authd.clerk.limiter import CallGuard
from clerk_authd.clerk.machine import MachineAnswers, MachineVerifier
from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.clerk.preconditions import check_preconditions, pass_for_any_request
from clerk_authd.clerk.refresh import SessionTokenErrors
from clerk_authd.clerk.session_verifier import SessionVerifier
from clerk_authd.errors import (
    AuthenticateRequestError,
)
from clerk_authd.rules.cached_verdict import CachedVerdict
from clerk_authd.rules.carriers import Carriers, parse_authorization
from clerk_authd.rules.handshake import Context
from clerk_authd.rules.instance import Instance, PublishableKeyError
from clerk_authd.rules.jwt import peek_jwt
from clerk_authd.rules.keys import KeyResolver, PemKey
from clerk_authd.rules.orgsync import OrganizationMatcher, PatternError
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.state import RequestState
from clerk_authd.rules.tokentypes import (
    AcceptsToken,
    get_machine_token_type,
    is_machine_token,
    is_machine_token_type,
    is_token_type_accepted,
)

log = logging.getLogger(__name__)


_HEADER_ONLY: Final = frozenset({"m2m_token", "api_key"})


class Authenticator:
    """Authenticates requests with one set of options, keys, Backend API client and verified-token cache.

    ``keys`` resolves signing keys (``KeyStore`` or ``PemKey``); ``client`` serves handshake nonces and session
    refreshes (without one, both are skipped as Clerk skips them without an ``apiClient``); ``guard`` bounds the
    calls requests trigger (a default one when not given). Raises ``AuthenticateRequestError`` at construction
    for patterns Clerk cannot compile.
    """

    def __init__(
        self,
        options: AuthenticateOptions,
        *,
        keys: KeyResolver | None,
        client: ClerkClient | None,
        cache: VerifiedTokenCache[CachedVerdict] | None = None,
        clock: Callable[[], float] = time.time,
        guard: CallGuard | None = None,
        machine_answers: MachineAnswers | None = None,
        machine_answer_ttl_s: float = 10.0,
    ) -> None:
        self._options = options
        self._clock = clock
        guard = guard if guard is not None else CallGuard()
        verify_options = options.verify_options(keys, clock)
        self.sessions = SessionVerifier(verify_options, cache, clock)
        errors = SessionTokenErrors(client, verify_options, guard)
        machines = MachineVerifier(
            client,
            keys,
            audience=options.audience,
            clock_skew_ms=options.clock_skew_in_ms,
            clock=clock,
            guard=guard,
            answers=machine_answers,
            answer_ttl_s=machine_answer_ttl_s,
        )
        self._header = HeaderPath(self.sessions, errors, machines)
        self._cookies = CookiePath(options, self.sessions, errors, client=client, keys=keys, guard=guard)
        try:
            self._matcher = OrganizationMatcher(options.organization_patterns, options.personal_account_patterns)
        except PatternError as error:
            raise AuthenticateRequestError(str(error)) from error
        self._instance: Instance | None = None
        self._instance_error = ""
        try:
            self._instance = Instance.from_publishable_key(
                options.publishable_key,
                proxy_url=options.proxy_url,
                domain=options.domain,
                is_satellite=options.is_satellite,
            )
        except PublishableKeyError as error:
            self._instance_error = str(error)

    async def authenticate(self, request: RequestView, *, accepts_token: AcceptsToken | None = None) -> RequestState:
        """Clerk's ``authenticateRequest`` for ``request``; ``accepts_token`` overrides the options' for this call."""
        accepts = self._options.accepts_token if accepts_token is None else accepts_token
        state = await self._decide(request, accepts)
        if state.status == "handshake" and not self._options.enable_handshake:
            signed_out = RequestState.signed_out(state.reason or "", state.message or "")
            return replace(signed_out, cache_hit=state.cache_hit)
        return state

    # --- dispatch (§3) ---------------------------------------------------------------------------------

    async def _decide(self, request: RequestView, accepts: AcceptsToken) -> RequestState:
        now = self._clock()
        if isinstance(accepts, str) and accepts in _HEADER_ONLY:
            check_preconditions(self._options, request, accepts)
            return await self._header.machine(Carriers.header_only(request).token_in_header, accepts)
        instance = self._instance
        if instance is None:
            raise AuthenticateRequestError(self._instance_error)
        check_preconditions(self._options, request, accepts)
        token = parse_authorization(request.header("authorization"))
        if not token or not self._may_be_cached(accepts):
            return await self._uncached(request, instance, accepts, token, now)
        cached = self.sessions.cached(token, now)
        if cached is not None:  # the hot path: nothing else about the request matters
            return RequestState.signed_in(cached.signed_in(token), token, cache_hit=True, verdict=cached)
        state = await self._uncached(request, instance, accepts, token, now)
        return state if state.cache_hit is False else replace(state, cache_hit=False)

    def _may_be_cached(self, accepts: AcceptsToken) -> bool:
        """Whether a session token in ``Authorization`` is answered from the verified-token cache under ``accepts``."""
        return self.sessions.caches and is_token_type_accepted("session_token", accepts)

    def cached_header_session(self, token: str | None, accepts: AcceptsToken) -> CachedVerdict | None:
        """The cached verdict ``authenticate`` answers with for a request whose ``Authorization`` token is ``token``,
        when nothing else about the request can change that answer; ``None`` when something could (a satellite's
        ``Origin``, options ``authenticate`` throws for, header-only machine types) or the cache does not know the
        token: then ``authenticate`` decides.

        What the service's bearer lane asks first. The cache does not count this look (``counted``): the caller
        either answers with the verdict and counts the hit, or leaves the request to ``authenticate``, which counts.
        """
        if not token or not self._may_be_cached(accepts) or not self._decided_by_token_alone(accepts):
            return None
        return self.sessions.cached(token, self._clock(), counted=False)

    def verified_header_session(self, token: str | None, accepts: AcceptsToken) -> CachedVerdict | None:
        """``cached_header_session``'s question for a token the cache does not know: its verdict, verified now
        when nothing has to be awaited for it (``SessionVerifier.verified_now``), not yet cached; ``None`` when
        ``authenticate`` decides (the token is not a session token decoding strictly, its key is not at hand,
        it fails, or the request is not decided by its token alone).

        Only for ``accepts`` ``session_token``, where ``authenticate`` takes ``HeaderPath.session``: the same
        decoding, type guards and verification, in its order. The caller keeps the verdict or hands it over.
        """
        if not token or accepts != "session_token" or not self._decided_by_token_alone(accepts):
            return None
        decoded = peek_jwt(token)
        if decoded is None or is_other_than_a_session_jwt(token, decoded):
            return None
        return self.sessions.verified_now(token, decoded)

    def _decided_by_token_alone(self, accepts: AcceptsToken) -> bool:
        """Whether a session token in ``Authorization``, once verified, decides ``authenticate`` whatever else the
        request holds: an instance, no header-only machine type, preconditions that read nothing of it."""
        return (
            self._instance is not None
            and not (isinstance(accepts, str) and accepts in _HEADER_ONLY)
            and pass_for_any_request(self._options, accepts)
        )

    async def _uncached(
        self, request: RequestView, instance: Instance, accepts: AcceptsToken, token: str | None, now: float
    ) -> RequestState:
        """Every path but a cache hit on the ``Authorization`` token."""
        instance = self._request_instance(instance, request)
        carriers = Carriers.read(request, instance, now, self.sessions.verified_payload)
        context = Context(request, carriers, instance, self._matcher, self._options.is_satellite)
        if isinstance(accepts, tuple):
            kind = "session_token"
            if token and is_machine_token(token):
                kind = get_machine_token_type(token)
            if kind not in accepts:
                return RequestState.signed_out_invalid_token()
        if token:
            if accepts == "session_token":
                return await self._header.session(context, token)
            if accepts == "any" or isinstance(accepts, tuple):
                return await self._header.any(context, token, accepts)
            return await self._header.machine(token, accepts)
        if is_machine_token_type(accepts):
            return RequestState.signed_out(NO_TOKEN_IN_HEADER, token_type=accepts)
        return await self._cookies.authenticate(context, now)

    def _request_instance(self, instance: Instance, request: RequestView) -> Instance:
        """The instance, with a relative proxy URL resolved against this request's origin."""
        if self._options.proxy_url.startswith("/"):
            return replace(instance, frontend_api=request.origin + self._options.proxy_url)
        return instance


async def authenticate_request(
    request: RequestView,
    options: AuthenticateOptions,
    *,
    keys: KeyResolver | None = None,
    client: ClerkClient | None = None,
) -> RequestState:
    """The library function (api.md §5): Clerk's ``authenticateRequest`` for one request.

    Without ``keys``, ``options.jwt_key`` verifies networkless, else the JWKS is fetched for this call through
    ``client`` (or a client opened for the call from ``secret_key``/``api_url``). To authenticate many requests,
    keep an ``Authenticator`` with a ``KeyStore`` instead: it fetches the keys once.
    """
    if keys is not None or options.jwt_key:
        resolver = keys if keys is not None else PemKey(options.jwt_key)
        return await Authenticator(options, keys=resolver, client=client).authenticate(request)
    if client is not None:
        store = KeyStore(client)
        try:
            return await Authenticator(options, keys=store, client=client).authenticate(request)
        finally:
            await store.close()
    if not options.secret_key:
        return await Authenticator(options, keys=None, client=None).authenticate(request)
    async with ClerkClient(
        secret_key=options.secret_key,
        api_url=options.api_url,
        api_version=options.api_version,
        machine_secret_key=options.machine_secret_key,
    ) as own_client:
        return await authenticate_request(request, options, client=own_client)
