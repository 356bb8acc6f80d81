"""``handleSessionTokenError`` (clerk-semantics §6): an expired session refreshed through the Backend API when
Clerk would, a handshake for the other time failures, else signed out with Clerk's reason and full message."""

from __future__ import annotations

import logging
from typing import Final

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.limiter import CallGuard, may_be_clerk_value
from clerk_authd.clerk.tokens import VerifyOptions, verify_session_token
from clerk_authd.errors import BackendAPIError, HandshakeError, TokenCarrier, TokenVerificationError
from clerk_authd.js.values import js_json, js_truthy
from clerk_authd.reasons import (
    REFRESH_PREFIX,
    SESSION_TOKEN_IAT_IN_THE_FUTURE,
    SESSION_TOKEN_NBF,
    UNEXPECTED_ERROR,
    Reason,
)
from clerk_authd.rules.auth import signed_in_auth
from clerk_authd.rules.handshake import Context, apply_directives, maybe_handshake
from clerk_authd.rules.jwt import peek_jwt
from clerk_authd.rules.state import RequestState

log = logging.getLogger(__name__)

_TIME_REASONS: Final = {
    Reason.TOKEN_NOT_ACTIVE_YET: SESSION_TOKEN_NBF,
    Reason.TOKEN_IAT_IN_THE_FUTURE: SESSION_TOKEN_IAT_IN_THE_FUTURE,
}


class SessionTokenErrors:
    """Answers a session token that failed verification; refreshes through ``client`` where Clerk would.

    A refresh is triggered by request input (a real expired token can be replayed with any refresh cookie), so
    it goes through ``guard``: one call per expired token and refresh cookie at a time, within the rate limit.
    """

    def __init__(self, client: ClerkClient | None, verify_options: VerifyOptions, guard: CallGuard) -> None:
        self._client = client
        self._verify_options = verify_options
        self._guard = guard

    async def handle(self, context: Context, error: Exception, carrier: TokenCarrier) -> RequestState:
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
        client, refresh_token = self._client, carriers.refresh_token_in_cookie
        if not may_be_clerk_value(refresh_token):
            return None, "unexpected-bapi-error"  # not sent: answered as a refresh that got no answer from Clerk
        try:
            directives = await self._guard.call(
                "refresh",
                (expired, refresh_token),
                lambda: client.refresh_session(
                    sid if isinstance(sid, str) else js_json(sid),
                    expired_token=expired,
                    refresh_token=refresh_token,
                    request_origin=request.origin,
                    request_headers={name: [value] for name, value in request.all_headers.items()},
                    suffixed_cookies=carriers.suffixed,
                ),
            )
        except BackendAPIError as error:
            if not error.errors:
                return None, "unexpected-bapi-error"
            code = error.errors[0].code
            if code == "unexpected_error":
                return None, "fetch-error"
            return None, code or "unexpected-sdk-error"
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
