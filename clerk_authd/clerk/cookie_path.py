"""The cookie path (clerk-semantics §5): a browser's session, from its cookies, in Clerk's order.

::

    handshake resolution → satellite sync → primary sync → dev browser → client_uat checks
    → decode → type guards → iat vs client_uat → verify → cross-origin sync → organization sync
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Final

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.handshake import dev_handshake_failure, resolve_handshake
from clerk_authd.clerk.limiter import CallGuard
from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.clerk.refresh import SessionTokenErrors
from clerk_authd.clerk.session_verifier import SessionVerifier
from clerk_authd.errors import AuthenticateRequestError, HandshakeError, TokenVerificationError
from clerk_authd.js.url import parse_url
from clerk_authd.js.values import UNDEFINED, js_less_than
from clerk_authd.reasons import (
    CLIENT_UAT_WITHOUT_SESSION_TOKEN,
    DEV_BROWSER_MISSING,
    DEV_BROWSER_SYNC,
    PRIMARY_DOMAIN_CROSS_ORIGIN_SYNC,
    PRIMARY_RESPONDS_TO_SYNCING,
    REDIRECT_URL_NOT_ALLOWED,
    SATELLITE_NEEDS_SYNCING,
    SESSION_TOKEN_AND_UAT_MISSING,
    SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT,
    SESSION_TOKEN_WITHOUT_CLIENT_UAT,
    TOKEN_TYPE_MISMATCH,
    UNEXPECTED_ERROR,
)
from clerk_authd.rules.cached_verdict import CachedVerdict
from clerk_authd.rules.handshake import Context, maybe_handshake
from clerk_authd.rules.jwt import DecodedJwt, decode_jwt, decode_jwt_loosely
from clerk_authd.rules.keys import KeyResolver
from clerk_authd.rules.names import DEV_BROWSER, REDIRECT_URL, SYNCED
from clerk_authd.rules.org_activation import organization_sync
from clerk_authd.rules.referrer import is_cross_origin_referrer, is_known_clerk_referrer
from clerk_authd.rules.state import RequestState
from clerk_authd.rules.tokentypes import has_non_session_jwt_category, is_machine_jwt

log = logging.getLogger(__name__)

MSG_CROSS_ORIGIN: Final = "Cross-origin request from satellite domain requires handshake"
MSG_REDIRECT_NOT_ALLOWED: Final = (
    "__clerk_redirect_url is neither this app's origin nor one of CLERK_AUTHORIZED_PARTIES; not redirecting"
)
MSG_MISSING_AZP: Final = (
    "Clerk: Session token from cookie is missing the azp claim. In a future version of Clerk, this token will be "
    "considered invalid. Please contact Clerk support if you see this warning."
)


class CookiePath:
    """Decides a request that has no token in its ``Authorization`` header, from its cookies."""

    def __init__(
        self,
        options: AuthenticateOptions,
        sessions: SessionVerifier,
        errors: SessionTokenErrors,
        *,
        client: ClerkClient | None,
        keys: KeyResolver | None,
        guard: CallGuard,
    ) -> None:
        self._options = options
        self._guard = guard
        self._sessions = sessions
        self._errors = errors
        self._client = client
        self._keys = keys
        self._verify_options = options.verify_options(keys, sessions.clock)
        self._warned_azp = False
        parsed = (parse_url(party) for party in options.authorized_parties)
        #: where a development primary may send a satellite back to, besides the request's own origin
        self._redirect_origins = frozenset(url.origin for url in parsed if url is not None and url.origin != "null")

    async def authenticate(self, context: Context, now: float) -> RequestState:
        options, request, carriers, instance = self._options, context.request, context.carriers, context.instance
        development = instance.is_development
        has_active_client = carriers.client_uat != 0
        session_cookie = carriers.session_token_in_cookie
        if carriers.handshake_nonce or carriers.handshake_token:
            try:
                return await resolve_handshake(
                    context, self._verify_options, client=self._client, keys=self._keys, guard=self._guard
                )
            except TokenVerificationError as error:
                if development:
                    raise AuthenticateRequestError(dev_handshake_failure(error)) from error
                # Clerk logs an error; anyone can send a bogus handshake cookie, so it is info here
                log.info("Clerk: unable to resolve handshake: %s", error)
            except HandshakeError as error:
                log.info("Clerk: unable to resolve handshake: %s", error)
        synced = request.query.get(SYNCED)
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
                location = sign_in.appending(REDIRECT_URL, request.url).href
                return maybe_handshake(context, SATELLITE_NEEDS_SYNCING, "", location=location)
        redirect_back = request.query.get(REDIRECT_URL)
        if development and not options.is_satellite and redirect_back:
            target = parse_url(redirect_back)
            if target is None:  # Clerk throws here; a hostile query must not fail the request
                return RequestState.signed_out(UNEXPECTED_ERROR, "Invalid __clerk_redirect_url")
            # Clerk redirects anywhere, with the dev-browser token appended (clerk-semantics §23.6): an open
            # redirect that hands the victim's token to the target. Only the app and its satellites qualify.
            if target.origin != request.origin and target.origin not in self._redirect_origins:
                return RequestState.signed_out(REDIRECT_URL_NOT_ALLOWED, MSG_REDIRECT_NOT_ALLOWED)
            if carriers.dev_browser_token:
                target = target.appending(DEV_BROWSER, carriers.dev_browser_token)
            location = target.setting(SYNCED, "true").href
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
        cached = self._sessions.cached(token, now)
        hit = self._sessions.missed if cached is None else True
        state = await self._session_cookie_state(context, token, cached, hit)
        return state if state.cache_hit is hit else replace(state, cache_hit=hit)

    async def _session_cookie_state(
        self, context: Context, token: str, verdict: CachedVerdict | None, hit: bool | None
    ) -> RequestState:
        decoded: DecodedJwt | None = None  # decoded once on a miss, for the guards, iat and verification
        if verdict is None:
            try:
                decoded = decode_jwt(token)
            except TokenVerificationError as error:
                # Clerk decodes the cookie leniently here; verification then refuses it with Clerk's reason
                lenient = decode_jwt_loosely(token)
                if lenient is None:
                    return await self._errors.handle(context, error, "cookie")
                payload = lenient.payload
            else:
                payload = decoded.payload
            if is_machine_jwt(token, decoded) or has_non_session_jwt_category(token, decoded):
                return RequestState.signed_out(TOKEN_TYPE_MISMATCH)
        else:
            payload = verdict.payload
        if js_less_than(payload.get("iat", UNDEFINED), context.carriers.client_uat):
            return maybe_handshake(context, SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT, "")
        if verdict is None:
            try:
                verdict = await self._sessions.verify(token, decoded)
            except Exception as error:  # Clerk maps every failure here, TokenVerificationError or not
                return await self._errors.handle(context, error, "cookie")
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
        return organization_sync(context, signed_in, auth)
