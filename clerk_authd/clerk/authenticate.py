"""Clerk's ``authenticateRequest``: who one request is, decided in Clerk's order (clerk-semantics §2–§13).

::

    preconditions (throw)  →  accepts_token array check
    ├── token in Authorization  →  session (§4) | any/array (§18) | one machine type (§18)
    └── no header token         →  "No token in header" (machine types) | the cookie path (§5):
            handshake resolution → satellite sync → primary sync → dev browser → client_uat checks
            → decode → type guards → iat vs client_uat → verify → cross-origin sync → organization sync

Verification failures go through ``handleSessionTokenError`` (§6): time-related ones may refresh the session
through the Backend API or hand-shake, the others are signed-out with Clerk's reason and full message.

A verified session token is cached (``cache.VerifiedTokenCache``) until its ``exp`` plus the clock skew, keyed
by a digest of the token: a hit skips decoding and signature checks. Only tokens that passed the type guards
are cached, so a hit may skip them too; expired tokens miss and take the full path. The state says whether
the cache answered (``RequestState.cache_hit``) and carries the verdict (its ``kid``, and the identity headers
a caller rendered for it once: ``CachedVerdict.identity_headers``).

Machine tokens (API keys, M2M and OAuth tokens, opaque or JWT) are classified here and verified by
``machine.MachineVerifier`` (§18): signed in with the machine's auth object, or signed out with Clerk's machine
code as the reason and ``"<msg> (code=…, status=…)"`` as the message. Their verdicts are never cached.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.cache import VerifiedTokenCache
from clerk_authd.clerk.handshake import (
    Context,
    apply_directives,
    dev_handshake_failure,
    is_cross_origin_referrer,
    is_known_clerk_referrer,
    maybe_handshake,
    resolve_handshake,
)
from clerk_authd.clerk.keystore import KeyStore
from clerk_authd.clerk.machine import MachineTokenRejectedError, MachineVerifier
from clerk_authd.clerk.tokens import DEFAULT_CLOCK_SKEW_MS, VerifyOptions, clock_skew_ms, verify_session_token
from clerk_authd.errors import (
    AuthenticateRequestError,
    BackendAPIError,
    HandshakeError,
    TokenCarrier,
    TokenVerificationError,
)
from clerk_authd.js.url import parse_url
from clerk_authd.js.values import UNDEFINED, js_json, js_less_than, js_truthy
from clerk_authd.reasons import Reason
from clerk_authd.rules.auth import SignedInAuth, pending_as_signed_out, signed_in_auth
from clerk_authd.rules.cached_verdict import CachedVerdict, header_kid
from clerk_authd.rules.carriers import Carriers
from clerk_authd.rules.claims import compact_payload
from clerk_authd.rules.instance import Instance, PublishableKeyError
from clerk_authd.rules.jwt import decode_jwt, peek_jwt
from clerk_authd.rules.keys import KeyResolver, PemKey
from clerk_authd.rules.orgsync import OrganizationMatcher, PatternError
from clerk_authd.rules.request import DEV_BROWSER, RequestView, parse_authorization
from clerk_authd.rules.state import RequestState
from clerk_authd.rules.tokentypes import (
    AcceptsToken,
    accepts_option,
    get_machine_token_type,
    has_non_session_jwt_category,
    is_machine_jwt,
    is_machine_token,
    is_machine_token_type,
)

if TYPE_CHECKING:
    from clerk_authd.config import Settings

from clerk_authd.reasons import (
    ACTIVE_ORGANIZATION_MISMATCH,
    CLIENT_UAT_WITHOUT_SESSION_TOKEN,
    DEV_BROWSER_MISSING,
    DEV_BROWSER_SYNC,
    PRIMARY_DOMAIN_CROSS_ORIGIN_SYNC,
    PRIMARY_RESPONDS_TO_SYNCING,
    REFRESH_PREFIX,
    SATELLITE_NEEDS_SYNCING,
    SESSION_TOKEN_AND_UAT_MISSING,
    SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT,
    SESSION_TOKEN_IAT_IN_THE_FUTURE,
    SESSION_TOKEN_NBF,
    SESSION_TOKEN_WITHOUT_CLIENT_UAT,
    TOKEN_TYPE_MISMATCH,
    UNEXPECTED_ERROR,
)

log = logging.getLogger(__name__)


NO_TOKEN_IN_HEADER: Final = "No token in header"
MSG_CROSS_ORIGIN: Final = "Cross-origin request from satellite domain requires handshake"
MSG_MISSING_AZP: Final = (
    "Clerk: Session token from cookie is missing the azp claim. In a future version of Clerk, this token will be "
    "considered invalid. Please contact Clerk support if you see this warning."
)
MSG_ORG_LOOP: Final = (
    "Clerk: Organization activation handshake loop detected. This is likely due to an invalid organization ID "
    "or slug. Skipping organization activation."
)
MSG_MISSING_SECRET_KEY: Final = (
    "Missing Clerk Secret Key. Go to https://dashboard.clerk.com and get your key for your instance."
)
MSG_MACHINE_KEY: Final = (
    "Machine token authentication requires either a Machine secret key or a Clerk secret key. Ensure a Clerk "
    "secret key or Machine secret key is set."
)
_TIME_REASONS: Final = {
    Reason.TOKEN_NOT_ACTIVE_YET: SESSION_TOKEN_NBF,
    Reason.TOKEN_IAT_IN_THE_FUTURE: SESSION_TOKEN_IAT_IN_THE_FUTURE,
}
_HEADER_ONLY: Final = frozenset({"m2m_token", "api_key"})


@dataclass(frozen=True, slots=True)
class AuthenticateOptions:
    """Clerk's ``AuthenticateRequestOptions`` in snake_case (§2); ``organizationSyncOptions`` as two lists.

    ``accepts_token`` is ``'any'``, one token type, or a tuple (JS's array: a mismatch gives ``tokenType``
    null). ``enable_handshake`` ``False`` answers a would-be handshake signed-out, with the same reason and no
    redirect (``@clerk/express`` 1.x). ``require_sid`` is our opt-in ``sid`` check (``tokens.VerifyOptions``).
    """

    publishable_key: str = ""
    secret_key: str = ""
    machine_secret_key: str = ""
    jwt_key: str = ""
    api_url: str = "https://api.clerk.com"
    api_version: str = "v1"
    authorized_parties: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    issuer: tuple[str, ...] | None = None
    clock_skew_in_ms: float = DEFAULT_CLOCK_SKEW_MS
    header_type: tuple[str, ...] | None = None
    accepts_token: AcceptsToken = "session_token"
    is_satellite: bool = False
    domain: str = ""
    proxy_url: str = ""
    sign_in_url: str = ""
    satellite_auto_sync: bool = False
    organization_patterns: tuple[str, ...] = ()
    personal_account_patterns: tuple[str, ...] = ()
    enable_handshake: bool = True
    require_sid: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthenticateOptions:
        """The service's options: ``CLERK_*`` as Clerk reads them, ``sid`` required (as ``VerifyOptions``)."""
        return cls(
            publishable_key=settings.publishable_key,
            secret_key=settings.secret_key,
            machine_secret_key=settings.machine_secret_key,
            jwt_key=settings.jwt_key,
            api_url=settings.api_url,
            api_version=settings.api_version,
            authorized_parties=settings.authorized_parties,
            audience=settings.audience,
            issuer=settings.issuers,
            clock_skew_in_ms=settings.clock_skew_ms,
            accepts_token=accepts_option(settings.accepts_token),
            is_satellite=settings.is_satellite,
            domain=settings.domain,
            proxy_url=settings.proxy_url,
            sign_in_url=settings.sign_in_url,
            organization_patterns=settings.org_patterns,
            personal_account_patterns=settings.personal_account_patterns,
            enable_handshake=settings.enable_handshake,
            require_sid=True,
        )

    def verify_options(self, keys: KeyResolver | None, clock: Callable[[], float]) -> VerifyOptions:
        """The options ``verifyToken`` gets from this request's options."""
        return VerifyOptions(
            keys=keys,
            authorized_parties=self.authorized_parties,
            audience=self.audience,
            issuers=self.issuer,
            clock_skew_ms=self.clock_skew_in_ms,
            header_type=self.header_type,
            clock=clock,
            require_sid=self.require_sid,
        )


def _accepts(token_type: str, accepts: AcceptsToken) -> bool:
    """Clerk's ``isTokenTypeAccepted``."""
    return accepts == "any" or (token_type in accepts if isinstance(accepts, tuple) else token_type == accepts)


class Authenticator:
    """Authenticates requests with one set of options, keys, Backend API client and verified-token cache.

    ``keys`` resolves signing keys (``KeyStore`` or ``PemKey``); ``client`` serves handshake nonces and session
    refreshes (without one, both are skipped as Clerk skips them without an ``apiClient``). Raises
    ``AuthenticateRequestError`` at construction for patterns Clerk cannot compile.
    """

    def __init__(
        self,
        options: AuthenticateOptions,
        *,
        keys: KeyResolver | None,
        client: ClerkClient | None,
        cache: VerifiedTokenCache[CachedVerdict] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._options = options
        self._keys = keys
        self._client = client
        self._cache = cache
        self._clock = clock
        self._verify_options = options.verify_options(keys, clock)
        self._machines = MachineVerifier(
            client, keys, audience=options.audience, clock_skew_ms=options.clock_skew_in_ms, clock=clock
        )
        self._skew_s = clock_skew_ms(options.clock_skew_in_ms) / 1000
        #: ``RequestState.cache_hit`` for a session token the cache was asked about and did not know
        self._missed: bool | None = False if cache is not None else None
        self._warned_azp = False
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
            self._check_preconditions(request, accepts)
            return await self._machine_in_header(Carriers.header_only(request).token_in_header, accepts)
        instance = self._instance
        if instance is None:
            raise AuthenticateRequestError(self._instance_error)
        self._check_preconditions(request, accepts)
        token = parse_authorization(request.header("authorization"))
        if not token or self._cache is None or not _accepts("session_token", accepts):
            return await self._uncached(request, instance, accepts, token, now)
        cached = self._cached(token, now)
        if cached is not None:  # the hot path: nothing else about the request matters
            return RequestState.signed_in(cached.signed_in(token), token, cache_hit=True, verdict=cached)
        state = await self._uncached(request, instance, accepts, token, now)
        return state if state.cache_hit is False else replace(state, cache_hit=False)

    async def _uncached(
        self, request: RequestView, instance: Instance, accepts: AcceptsToken, token: str | None, now: float
    ) -> RequestState:
        """Every path but a cache hit on the ``Authorization`` token."""
        instance = self._request_instance(instance, request)
        carriers = Carriers.read(request, instance, now)
        context = Context(request, carriers, instance, self._matcher, self._options.is_satellite)
        if isinstance(accepts, tuple):
            kind = "session_token"
            if token and is_machine_token(token):
                kind = get_machine_token_type(token)
            if kind not in accepts:
                return RequestState.signed_out_invalid_token()
        if token:
            if accepts == "session_token":
                return await self._session_in_header(context, token)
            if accepts == "any" or isinstance(accepts, tuple):
                return await self._any_in_header(context, token, accepts)
            return await self._machine_in_header(token, accepts)
        if is_machine_token_type(accepts):
            return RequestState.signed_out(NO_TOKEN_IN_HEADER, token_type=accepts)
        return await self._cookie_path(context, now)

    def _request_instance(self, instance: Instance, request: RequestView) -> Instance:
        """The instance, with a relative proxy URL resolved against this request's origin."""
        if self._options.proxy_url.startswith("/"):
            return replace(instance, frontend_api=request.origin + self._options.proxy_url)
        return instance

    def _check_preconditions(self, request: RequestView, accepts: AcceptsToken) -> None:
        """The checks ``authenticateRequest`` throws for (§2), in Clerk's order.

        One deviation: a ``jwt_key`` stands in for the secret key, because api.md lets a deployment verify
        networkless without one.
        """
        options = self._options
        if accepts != "m2m_token":
            if not options.secret_key and not options.jwt_key:
                raise AuthenticateRequestError(MSG_MISSING_SECRET_KEY)
            if options.is_satellite:
                self._check_satellite(request)
        elif not options.machine_secret_key and not options.secret_key:
            raise AuthenticateRequestError(MSG_MACHINE_KEY)

    def _check_satellite(self, request: RequestView) -> None:
        options = self._options
        if not options.sign_in_url and options.secret_key.startswith(("sk_test_", "test_")):
            raise AuthenticateRequestError(
                "Missing signInUrl. Pass a signInUrl for dev instances if an app is satellite"
            )
        origin = request.header("origin")
        if options.sign_in_url and origin:
            sign_in = parse_url(options.sign_in_url)
            if sign_in is None:
                raise AuthenticateRequestError("The signInUrl needs to have a absolute url format.")
            if sign_in.origin == origin:
                raise AuthenticateRequestError(
                    "The signInUrl needs to be on a different origin than your satellite application."
                )
        if not options.proxy_url and not options.domain:
            raise AuthenticateRequestError(
                "Missing domain and proxyUrl. A satellite application needs to specify a domain or a proxyUrl"
            )

    # --- tokens in the Authorization header (§4, §18) ----------------------------------------------------

    async def _session_in_header(self, context: Context, token: str) -> RequestState:
        if is_machine_jwt(token) or has_non_session_jwt_category(token):
            return RequestState.signed_out(TOKEN_TYPE_MISMATCH)
        return await self._verify_header_session(context, token)

    async def _any_in_header(self, context: Context, token: str, accepts: AcceptsToken) -> RequestState:
        if is_machine_token(token):
            kind = get_machine_token_type(token)
            if not _accepts(kind, accepts):
                return RequestState.signed_out(TOKEN_TYPE_MISMATCH, token_type=kind)
            return await self._verify_machine(token)
        if has_non_session_jwt_category(token):
            return RequestState.signed_out(TOKEN_TYPE_MISMATCH)
        return await self._verify_header_session(context, token)

    async def _machine_in_header(self, token: str | None, accepts: AcceptsToken) -> RequestState:
        """One machine type accepted: a token of another kind is a mismatch; no token, "No token in header"."""
        if not (isinstance(accepts, str) and is_machine_token_type(accepts)):
            return RequestState.signed_out_invalid_token()
        if not token:
            return RequestState.signed_out(NO_TOKEN_IN_HEADER, token_type=accepts)
        if not is_machine_token(token) or get_machine_token_type(token) != accepts:
            return RequestState.signed_out(TOKEN_TYPE_MISMATCH, token_type=accepts)
        return await self._verify_machine(token)

    async def _verify_machine(self, token: str) -> RequestState:
        """``verifyMachineAuthToken``: signed in as the machine, or ``handleMachineError``'s signed-out state,
        typed as the verification reports (a JWT's type can differ from the one its classification gave)."""
        try:
            auth = await self._machines.verify(token)
        except MachineTokenRejectedError as error:
            return RequestState.signed_out(error.code, error.full_message(), token_type=error.token_type)
        return RequestState.signed_in(auth, token)

    async def _verify_header_session(self, context: Context, token: str) -> RequestState:
        try:
            verdict = await self._verify(token)
        except Exception as error:  # Clerk maps every failure here, TokenVerificationError or not
            return await self._session_token_error(context, error, "header")
        return RequestState.signed_in(verdict.signed_in(token), token, cache_hit=self._missed, verdict=verdict)

    # --- verification and the cache -----------------------------------------------------------------------

    def _cached(self, token: str, now: float) -> CachedVerdict | None:
        if self._cache is None:
            return None
        verdict = self._cache.get(token, now)
        return verdict if verdict is not None and now >= verdict.valid_from else None

    async def _verify(self, token: str) -> CachedVerdict:
        """``verifyToken`` plus the signed-in object (which can still refuse a malformed ``fea``), cached."""
        verified = await verify_session_token(token, self._verify_options)
        payload = verified.payload if self._cache is None else compact_payload(verified.payload)
        starts = [math.trunc(payload[name]) for name in ("nbf", "iat") if name in payload]
        key_kid = sys.intern(verified.kid) if verified.kid is not None else None
        verdict = CachedVerdict(
            claims=signed_in_auth(payload, token).claims,
            valid_from=math.ceil(max(starts) * 1000 - self._skew_s * 1000) / 1000 if starts else -math.inf,
            kid=key_kid if key_kid is not None else header_kid(token),
        )
        if self._cache is not None:
            expires_at = math.trunc(payload["exp"]) + self._skew_s
            self._cache.put(token, verdict, kid=key_kid, expires_at=expires_at, now=self._clock())
        return verdict

    # --- failures and the refresh flow (§6) --------------------------------------------------------------

    async def _session_token_error(self, context: Context, error: Exception, carrier: TokenCarrier) -> RequestState:
        """``handleSessionTokenError``: refresh an expired session when Clerk would, else Clerk's answer."""
        if not isinstance(error, TokenVerificationError):
            log.error("Clerk: unexpected error while verifying a session token: %r", error)
            return RequestState.signed_out(UNEXPECTED_ERROR)
        request, carriers = context.request, context.carriers
        refresh_error: str | None = None
        if error.reason == Reason.TOKEN_EXPIRED and carriers.refresh_token_in_cookie and request.method == "GET":
            refreshed, refresh_error = await self._attempt_refresh(context)
            if refreshed is not None:
                return refreshed
        elif request.method != "GET":
            refresh_error = "non-eligible-non-get"
        elif not carriers.refresh_token_in_cookie:
            refresh_error = "non-eligible-no-refresh-cookie"
        error.token_carrier = carrier
        if error.reason == Reason.TOKEN_EXPIRED:
            return maybe_handshake(context, f"{REFRESH_PREFIX}{refresh_error}", error.full_message())
        if error.reason in _TIME_REASONS:
            return maybe_handshake(context, _TIME_REASONS[error.reason], error.full_message())
        return RequestState.signed_out(error.reason, error.full_message())

    async def _attempt_refresh(self, context: Context) -> tuple[RequestState | None, str]:
        """``attemptRefresh``: new cookies from the Backend API, the last ``__session*`` one verified."""
        carriers, request = context.carriers, context.request
        if self._client is None:
            return None, "missing-api-client"
        expired = carriers.session_token
        if not expired:
            return None, "missing-session-token"
        if not carriers.refresh_token_in_cookie:
            return None, "missing-refresh-token"
        decoded = peek_jwt(expired)
        if decoded is None:
            return None, "expired-session-token-decode-failed"
        sid = decoded.payload.get("sid")
        if not js_truthy(sid):
            return None, "expired-session-token-missing-sid-claim"
        try:
            directives = await self._client.refresh_session(
                sid if isinstance(sid, str) else js_json(sid),
                expired_token=expired,
                refresh_token=carriers.refresh_token_in_cookie,
                request_origin=request.origin,
                request_headers={name: [value] for name, value in request.all_headers.items()},
                suffixed_cookies=carriers.suffixed,
            )
        except BackendAPIError as error:
            if not error.errors:
                return None, "unexpected-bapi-error"
            code = error.errors[0].get("code")
            if code == "unexpected_error":
                return None, "fetch-error"
            return None, code if isinstance(code, str) and code else "unexpected-sdk-error"
        try:
            set_cookies, session_token = apply_directives(directives)
        except HandshakeError:
            return None, "unexpected-sdk-error"
        if not set_cookies:
            return None, "unexpected-sdk-error"
        token = session_token or ""
        try:
            payload = (await verify_session_token(token, self._verify_options)).payload
            auth = signed_in_auth(payload, token)
        except TokenVerificationError:
            return None, "invalid-session-token"
        return RequestState.signed_in(auth, token, set_cookies=set_cookies), ""

    # --- the cookie path (§5) -----------------------------------------------------------------------------

    async def _cookie_path(self, context: Context, now: float) -> RequestState:
        options, request, carriers, instance = self._options, context.request, context.carriers, context.instance
        development = instance.is_development
        has_active_client = carriers.client_uat != 0
        session_cookie = carriers.session_token_in_cookie
        if carriers.handshake_nonce or carriers.handshake_token:
            try:
                return await resolve_handshake(context, self._verify_options, client=self._client, keys=self._keys)
            except TokenVerificationError as error:
                if development:
                    raise AuthenticateRequestError(dev_handshake_failure(error)) from error
                log.error("Clerk: unable to resolve handshake: %s", error)  # noqa: TRY400 - expected; no traceback
            except HandshakeError as error:
                log.error("Clerk: unable to resolve handshake: %s", error)  # noqa: TRY400 - expected; no traceback
        synced = request.query.get("__clerk_synced")
        has_cookies = bool(session_cookie) or has_active_client
        if (
            options.is_satellite
            and request.header("sec-fetch-dest") == "document"
            and request.method == "GET"
            and synced != "true"
        ):
            if not options.satellite_auto_sync and not has_cookies and synced != "false":
                return RequestState.signed_out(SESSION_TOKEN_AND_UAT_MISSING)
            if not has_cookies or synced == "false":
                if not development:
                    return maybe_handshake(context, SATELLITE_NEEDS_SYNCING, "")
                sign_in = parse_url(options.sign_in_url)
                if sign_in is None:
                    raise AuthenticateRequestError("Invalid URL: the signInUrl of a satellite must be absolute")
                location = sign_in.appending("__clerk_redirect_url", request.url).href
                return maybe_handshake(context, SATELLITE_NEEDS_SYNCING, "", location=location)
        redirect_back = request.query.get("__clerk_redirect_url")
        if development and not options.is_satellite and redirect_back:
            target = parse_url(redirect_back)
            if target is None:  # Clerk throws here; a hostile query must not fail the request
                return RequestState.signed_out(UNEXPECTED_ERROR, "Invalid __clerk_redirect_url")
            if carriers.dev_browser_token:
                target = target.appending(DEV_BROWSER, carriers.dev_browser_token)
            location = target.setting("__clerk_synced", "true").href
            return maybe_handshake(context, PRIMARY_RESPONDS_TO_SYNCING, "", location=location)
        if development and DEV_BROWSER in request.query:
            return maybe_handshake(context, DEV_BROWSER_SYNC, "")
        if development and not carriers.dev_browser_token:
            return maybe_handshake(context, DEV_BROWSER_MISSING, "")
        if not has_active_client and not session_cookie:
            return RequestState.signed_out(SESSION_TOKEN_AND_UAT_MISSING)
        if not has_active_client:
            return maybe_handshake(context, SESSION_TOKEN_WITHOUT_CLIENT_UAT, "")
        if not session_cookie:
            return maybe_handshake(context, CLIENT_UAT_WITHOUT_SESSION_TOKEN, "")
        return await self._session_cookie(context, session_cookie, now)

    async def _session_cookie(self, context: Context, token: str, now: float) -> RequestState:
        """§5 steps 9–16: the session cookie decoded, guarded, checked against ``client_uat`` and verified."""
        cached = self._cached(token, now)
        hit = self._missed if cached is None else True
        state = await self._session_cookie_state(context, token, cached, hit)
        return state if state.cache_hit is hit else replace(state, cache_hit=hit)

    async def _session_cookie_state(
        self, context: Context, token: str, verdict: CachedVerdict | None, hit: bool | None
    ) -> RequestState:
        if verdict is None:
            try:
                payload = decode_jwt(token).payload
            except TokenVerificationError as error:
                return await self._session_token_error(context, error, "cookie")
            if is_machine_jwt(token) or has_non_session_jwt_category(token):
                return RequestState.signed_out(TOKEN_TYPE_MISMATCH)
        else:
            payload = verdict.payload
        if js_less_than(payload.get("iat", UNDEFINED), context.carriers.client_uat):
            return maybe_handshake(context, SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT, "")
        if verdict is None:
            try:
                verdict = await self._verify(token)
            except Exception as error:  # Clerk maps every failure here, TokenVerificationError or not
                return await self._session_token_error(context, error, "cookie")
        if not payload.get("azp") and not self._warned_azp:
            self._warned_azp = True
            log.warning(MSG_MISSING_AZP)
        auth = verdict.signed_in(token)
        signed_in = RequestState.signed_in(auth, token, cache_hit=hit, verdict=verdict)
        request = context.request
        if (
            not context.is_satellite
            and request.method == "GET"
            and request.header("sec-fetch-dest") == "document"
            and is_cross_origin_referrer(request)
            and not is_known_clerk_referrer(request, context.instance)
            and context.carriers.redirect_count == 0
        ):
            return maybe_handshake(context, PRIMARY_DOMAIN_CROSS_ORIGIN_SYNC, MSG_CROSS_ORIGIN)
        return self._organization_sync(context, signed_in, auth)

    def _organization_sync(self, context: Context, signed_in: RequestState, auth: SignedInAuth) -> RequestState:
        """§11: a handshake when the URL asks for another active organization (or none); else signed in."""
        subject = pending_as_signed_out(auth)
        if not subject.user_id:
            return signed_in
        target = context.matcher.find_target(context.request.pathname)
        if target is None:
            return signed_in
        if target.kind == "organization":
            must_activate = bool(target.organization_slug and target.organization_slug != auth.org_slug) or bool(
                target.organization_id and target.organization_id != auth.org_id
            )
        else:
            must_activate = bool(auth.org_id)
        if not must_activate:
            return signed_in
        if context.carriers.redirect_count >= 3:
            log.warning(MSG_ORG_LOOP)
            return signed_in
        state = maybe_handshake(context, ACTIVE_ORGANIZATION_MISMATCH, "")
        return state if state.status == "handshake" else signed_in


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
