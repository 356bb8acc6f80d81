"""Clerk's handshake: when to send the browser to FAPI, where exactly, and how to finish it on return.

A handshake is a 307 to ``<frontend API>/v1/client/handshake`` that lets Clerk refresh or sync the session
cookies; it comes back with a nonce (or, in development, a signed handshake JWT) whose Set-Cookie directives
the app applies. This module is ``HandshakeService`` and ``handleMaybeHandshakeStatus`` of
``@clerk/backend`` (clerk-semantics §7–§10):

- ``maybe_handshake``: a handshake if the request is an eligible navigation (and the redirect-loop guard,
  exactly 3, allows it), else signed-out with the same reason;
- ``handshake_location``: the redirect URL, every parameter in Clerk's order, ``URLSearchParams``-encoded;
- ``resolve_handshake``: the directives from a nonce (Backend API) or a handshake JWT (typ, alg, category,
  signature; no claim checks), then the session token they set, verified;
- the known-referrer rules of the primary domain's cross-origin sync.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Final

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.limiter import CallGuard, may_be_clerk_value
from clerk_authd.clerk.tokens import (
    KEY_ALGORITHM_MISMATCH,
    VerifyOptions,
    check_algorithm,
    check_header_type,
    rs256_signature_is_valid,
    verify_session_token,
)
from clerk_authd.errors import Action, BackendAPIError, HandshakeError, TokenVerificationError
from clerk_authd.js.values import UNDEFINED
from clerk_authd.reasons import SESSION_TOKEN_MISSING, Reason
from clerk_authd.rules.auth import signed_in_auth
from clerk_authd.rules.carriers import Carriers
from clerk_authd.rules.handshake import Context, apply_directives
from clerk_authd.rules.jwt import decode_jwt
from clerk_authd.rules.keys import KeyResolver
from clerk_authd.rules.names import (
    DEV_BROWSER,
    HANDSHAKE,
    HANDSHAKE_HELP,
    HANDSHAKE_NONCE,
)
from clerk_authd.rules.state import RequestState
from clerk_authd.rules.tokentypes import IGNORE_CATEGORY, SESSION_CATEGORY

log = logging.getLogger(__name__)

MSG_CLOCK_SKEW: Final = (
    "Clerk: Clock skew detected. This usually means that your system clock is inaccurate. Clerk will attempt "
    "to account for the clock skew in development.\n\nTo resolve this issue, make sure your system's clock is "
    "set to the correct time (e.g. turn off and on automatic time synchronization).\n\n---\n\n"
)
#: Clerk's development retry after a time-claim failure in a handshake: one day of tolerance.
DEV_RETRY_SKEW_MS: Final = 86_400_000
_TIME_REASONS: Final = frozenset({Reason.TOKEN_EXPIRED, Reason.TOKEN_NOT_ACTIVE_YET, Reason.TOKEN_IAT_IN_THE_FUTURE})


# --- resolving a handshake -----------------------------------------------------------------------------


async def verify_handshake_token(token: str, keys: KeyResolver | None) -> dict[str, Any]:
    """``verifyHandshakeToken``: typ, alg, category, key and signature; the payload, with no claim checks."""
    decoded = decode_jwt(token)
    header = decoded.header
    check_header_type(header.get("typ", UNDEFINED), None)  # absent or "JWT", as verifyToken's default
    alg = header.get("alg", UNDEFINED)
    check_algorithm(alg)
    if "cat" in header and header["cat"] not in (SESSION_CATEGORY, IGNORE_CATEGORY):
        raise TokenVerificationError(Reason.TOKEN_INVALID, "Invalid handshake token category.")
    if keys is None:
        raise TokenVerificationError(
            Reason.JWK_FAILED_TO_RESOLVE,
            "Failed to resolve JWK during handshake verification.",
            Action.SET_CLERK_JWT_KEY,
        )
    kid = header.get("kid")
    key = await keys.get_key(kid if isinstance(kid, str) and kid else None)
    if alg != "RS256":
        raise TokenVerificationError(
            Reason.TOKEN_VERIFICATION_FAILED, f"Error verifying handshake token. {KEY_ALGORITHM_MISMATCH}"
        )
    if not rs256_signature_is_valid(decoded, key):
        raise TokenVerificationError(Reason.TOKEN_INVALID_SIGNATURE, "Handshake signature is invalid.")
    return decoded.payload


async def _directives(
    carriers: Carriers, client: ClerkClient | None, keys: KeyResolver | None, guard: CallGuard
) -> list[object]:
    """``getCookiesFromHandshake``: the nonce's payload (preferred), else the handshake JWT's ``handshake``.

    The nonce comes from the request, so the call goes through ``guard`` (a nonce of impossible form is not
    sent at all), and a failure logs at info: Clerk logs it as an error, but anyone can send a bogus nonce.
    """
    nonce = carriers.handshake_nonce
    if nonce:
        if client is None:
            return []
        if not may_be_clerk_value(nonce):
            log.info("Clerk: HandshakeService: the handshake nonce cannot be one Clerk issued; not asking Clerk")
            return []
        try:
            return list(await guard.call("handshake", nonce, lambda: client.get_handshake_payload(nonce)))
        except BackendAPIError as error:
            log.info("Clerk: HandshakeService: error getting handshake payload: %s", error)
            return []
    payload = await verify_handshake_token(carriers.handshake_token or "", keys)
    handshake = payload.get("handshake")
    return list(handshake) if isinstance(handshake, list) else []


async def resolve_handshake(
    context: Context,
    options: VerifyOptions,
    *,
    client: ClerkClient | None,
    keys: KeyResolver | None,
    guard: CallGuard,
) -> RequestState:
    """``resolveHandshake``: signed-in or signed-out from the handshake's cookies.

    Raises ``TokenVerificationError`` when the handshake JWT fails its checks and ``HandshakeError`` when
    the session it sets does not verify (Clerk's two kinds of failure, handled differently by the caller).
    """
    headers = [("access-control-allow-origin", "null"), ("access-control-allow-credentials", "true")]
    set_cookies, session_token = apply_directives(await _directives(context.carriers, client, keys, guard))
    if context.instance.is_development:
        clean = context.request.parsed_url.without_params(HANDSHAKE, HANDSHAKE_HELP, DEV_BROWSER, HANDSHAKE_NONCE)
        headers += [("location", clean.href), ("cache-control", "no-store")]
    if session_token == "":
        return RequestState.signed_out(SESSION_TOKEN_MISSING, "", headers=headers, set_cookies=set_cookies)
    token = session_token or ""
    try:
        payload = (await verify_session_token(token, options)).payload
    except TokenVerificationError as error:
        if not (context.instance.is_development and error.reason in _TIME_REASONS):
            raise HandshakeError(error.message or "Clerk: Handshake failed.") from error
        retry_notice = TokenVerificationError(error.reason, error.message, error.action)
        retry_notice.token_carrier = "cookie"
        log.error(MSG_CLOCK_SKEW + retry_notice.full_message())  # noqa: TRY400 - a notice, not a crash
        try:
            payload = (await verify_session_token(token, replace(options, clock_skew_ms=DEV_RETRY_SKEW_MS))).payload
        except TokenVerificationError as retry_error:
            raise HandshakeError(retry_error.message or "Clerk: Handshake retry failed.") from retry_error
    try:
        auth = signed_in_auth(payload, token)
    except TokenVerificationError as error:
        raise HandshakeError(error.message) from error
    return RequestState.signed_in(auth, token, headers=headers, set_cookies=set_cookies)


def dev_handshake_failure(error: TokenVerificationError) -> str:
    """What Clerk throws on a development instance when the handshake JWT fails (``authenticateRequest`` throws)."""
    if error.reason == Reason.TOKEN_INVALID_SIGNATURE:
        return (
            "Clerk: Handshake token verification failed due to an invalid signature. If you have switched Clerk "
            "keys locally, clear your cookies and try again."
        )
    return f"Clerk: Handshake token verification failed: {error.full_message()}."
