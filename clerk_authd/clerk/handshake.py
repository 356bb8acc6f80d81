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
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from clerk_authd.clerk.backend_api import SUPPORTED_BAPI_VERSION, ClerkClient
from clerk_authd.clerk.tokens import (
    KEY_ALGORITHM_MISMATCH,
    VerifyOptions,
    check_algorithm,
    check_header_type,
    rs256_signature_is_valid,
    verify_session_token,
)
from clerk_authd.errors import Action, AuthenticateRequestError, BackendAPIError, HandshakeError, TokenVerificationError
from clerk_authd.js.url import Url, parse_url
from clerk_authd.js.values import UNDEFINED, js_number_str
from clerk_authd.reasons import SATELLITE_NEEDS_SYNCING, SESSION_TOKEN_MISSING, Reason
from clerk_authd.rules.auth import signed_in_auth
from clerk_authd.rules.carriers import Carriers
from clerk_authd.rules.instance import Instance
from clerk_authd.rules.jwt import decode_jwt
from clerk_authd.rules.keys import KeyResolver
from clerk_authd.rules.orgsync import OrganizationMatcher
from clerk_authd.rules.request import (
    DEV_BROWSER,
    HANDSHAKE,
    HANDSHAKE_NONCE,
    REDIRECT_COUNT_COOKIE,
    SESSION_COOKIE,
    RequestView,
)
from clerk_authd.rules.state import RequestState, header_value
from clerk_authd.rules.tokentypes import IGNORE_CATEGORY, SESSION_CATEGORY

log = logging.getLogger(__name__)

REDIRECT_LOOP_LIMIT: Final = 3
LEGACY_DEV_SESSION: Final = "__dev_session"
HANDSHAKE_HELP: Final = "__clerk_help"
MSG_LOOP: Final = (
    "Clerk: Refreshing the session token resulted in an infinite redirect loop. This usually means that your "
    "Clerk instance keys do not match - make sure to copy the correct publishable and secret keys from the "
    "Clerk dashboard."
)
MSG_SATELLITE_LOOP: Final = (
    "Clerk: Satellite-domain authentication resulted in an infinite redirect loop. Check that this request is "
    "using a configured primary or satellite domain for the production instance. For preview deployments, use "
    "a development/staging Clerk instance or a supported configured preview-domain setup."
)
MSG_CLOCK_SKEW: Final = (
    "Clerk: Clock skew detected. This usually means that your system clock is inaccurate. Clerk will attempt "
    "to account for the clock skew in development.\n\nTo resolve this issue, make sure your system's clock is "
    "set to the correct time (e.g. turn off and on automatic time synchronization).\n\n---\n\n"
)
#: Clerk's development retry after a time-claim failure in a handshake: one day of tolerance.
DEV_RETRY_SKEW_MS: Final = 86_400_000
_TIME_REASONS: Final = frozenset({Reason.TOKEN_EXPIRED, Reason.TOKEN_NOT_ACTIVE_YET, Reason.TOKEN_IAT_IN_THE_FUTURE})
_LEGACY_DEV_PORTAL_SUFFIXES: Final = (".lcl.dev", ".lclstage.dev", ".lclclerk.com")
_CURRENT_DEV_PORTAL_SUFFIXES: Final = (".accounts.dev", ".accountsstage.dev", ".accounts.lclclerk.com")


@dataclass(frozen=True, slots=True)
class Context:
    """What the handshake rules read about one request (Clerk's ``AuthenticateContext``, trimmed)."""

    request: RequestView
    carriers: Carriers
    #: with a relative proxy URL already resolved against the request's origin
    instance: Instance
    matcher: OrganizationMatcher
    is_satellite: bool


def is_eligible(request: RequestView) -> bool:
    """``isRequestEligibleForHandshake``: a GET navigation (``document``/``iframe``, or ``text/html`` without
    ``sec-fetch-dest``)."""
    if request.method != "GET":
        return False
    destination = request.header("sec-fetch-dest")
    if destination in ("document", "iframe"):
        return True
    accept = request.header("accept")
    return destination is None and accept is not None and accept.startswith("text/html")


def handshake_location(context: Context, reason: str) -> str:
    """``buildRedirectToHandshake``: FAPI's ``v1/client/handshake`` (a proxy path kept) with Clerk's parameters."""
    frontend_api = context.instance.frontend_api
    base_text = frontend_api if frontend_api.startswith("http") else f"https://{frontend_api}"
    base = parse_url(base_text.rstrip("/") + "/")
    url = parse_url("v1/client/handshake", base) if base is not None else None
    if url is None:  # a frontend API (proxy URL) no URL parser accepts: Clerk throws ``TypeError: Invalid URL``
        raise AuthenticateRequestError(f"Invalid URL: the frontend API {frontend_api!r} is not a valid URL")
    carriers = context.carriers
    params = [
        ("redirect_url", context.request.parsed_url.without_params(DEV_BROWSER, LEGACY_DEV_SESSION).href),
        ("__clerk_api_version", SUPPORTED_BAPI_VERSION),
        ("suffixed_cookies", "true" if carriers.suffixed else "false"),
        ("__clerk_hs_reason", reason),
        ("format", "nonce"),
    ]
    if carriers.session_token:
        params.append((SESSION_COOKIE, carriers.session_token))
    if context.instance.is_development and carriers.dev_browser_token:
        params.append((DEV_BROWSER, carriers.dev_browser_token))
    target = context.matcher.find_target(context.request.pathname)
    if target is not None:
        params.append(("organization_id", target.query_value))
    return url.with_params(params).href


def maybe_handshake(context: Context, reason: str, message: str, *, location: str | None = None) -> RequestState:
    """``handleMaybeHandshakeStatus``: a handshake to ``location`` (default: FAPI's), or signed-out, same reason."""
    if not is_eligible(context.request):
        return RequestState.signed_out(reason, message)
    headers = [("location", location or handshake_location(context, reason)), ("cache-control", "no-store")]
    count = context.carriers.redirect_count
    if count == REDIRECT_LOOP_LIMIT:
        log.warning(MSG_SATELLITE_LOOP if reason == SATELLITE_NEEDS_SYNCING else MSG_LOOP)
        return RequestState.signed_out(reason, message)
    counter = f"{REDIRECT_COUNT_COOKIE}={js_number_str(count + 1)}; SameSite=Lax; HttpOnly; Max-Age=2"
    return RequestState.handshake(reason, message, headers=headers, set_cookies=[counter])


# --- resolving a handshake -----------------------------------------------------------------------------


def cookie_name_and_value(directive: str) -> tuple[str, str | None]:
    """Clerk's ``getCookieName`` / ``getCookieValue``: ``split(';')[0].split('=')``, first and second piece."""
    pieces = directive.split(";", maxsplit=1)[0].split("=")
    return pieces[0], pieces[1] if len(pieces) > 1 else None


def apply_directives(directives: Sequence[object]) -> tuple[list[str], str | None]:
    """Set-Cookie values as ``Headers.append`` stores them, and the value of the last ``__session*`` one.

    JS throws on a directive that is not a string or that ``Headers`` refuses (CR, LF, NUL, beyond Latin-1);
    so do we, with ``HandshakeError``, which also keeps a hostile payload from splitting a response header.
    The session token is ``""`` when none was set, ``None`` when the last one had no ``=``.
    """
    set_cookies: list[str] = []
    session_token: str | None = ""
    for directive in directives:
        stored = header_value(directive) if isinstance(directive, str) else None
        if stored is None:
            raise HandshakeError("a Set-Cookie directive is not a valid header value")
        set_cookies.append(stored)
        name, value = cookie_name_and_value(stored)
        if name.startswith(SESSION_COOKIE):
            session_token = value
    return set_cookies, session_token


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


async def _directives(carriers: Carriers, client: ClerkClient | None, keys: KeyResolver | None) -> list[object]:
    """``getCookiesFromHandshake``: the nonce's payload (preferred), else the handshake JWT's ``handshake``."""
    if carriers.handshake_nonce:
        if client is None:
            return []
        try:
            return list(await client.get_handshake_payload(carriers.handshake_nonce))
        except BackendAPIError as error:
            log.error("Clerk: HandshakeService: error getting handshake payload: %s", error)  # noqa: TRY400 - expected
            return []
    payload = await verify_handshake_token(carriers.handshake_token or "", keys)
    handshake = payload.get("handshake")
    return list(handshake) if isinstance(handshake, list) else []


async def resolve_handshake(
    context: Context, options: VerifyOptions, *, client: ClerkClient | None, keys: KeyResolver | None
) -> RequestState:
    """``resolveHandshake``: signed-in or signed-out from the handshake's cookies.

    Raises ``TokenVerificationError`` when the handshake JWT fails its checks and ``HandshakeError`` when
    the session it sets does not verify (Clerk's two kinds of failure, handled differently by the caller).
    """
    headers = [("access-control-allow-origin", "null"), ("access-control-allow-credentials", "true")]
    set_cookies, session_token = apply_directives(await _directives(context.carriers, client, keys))
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


# --- the primary domain's cross-origin sync ------------------------------------------------------------


def _referrer(request: RequestView) -> Url | None:
    """The ``Referer`` header as a URL; ``None`` when it is missing or unparsable."""
    referrer = request.header("referer")
    return parse_url(referrer) if referrer else None


def is_cross_origin_referrer(request: RequestView) -> bool:
    """``isCrossOriginReferrer``: the referer's origin differs from the request's (an unparsable referer: no)."""
    parsed = _referrer(request)
    return parsed is not None and parsed.origin != request.origin


def _accounts_origin(frontend_api: str) -> str | None:
    """``buildAccountsBaseUrl``: FAPI's host rewritten to the account portal's, as an origin."""
    rewritten = frontend_api.replace("clerk.accountsstage.", "accountsstage.", 1)
    rewritten = re.sub(r"clerk\.accounts\.|clerk\.", "accounts.", rewritten, count=1)
    parsed = parse_url(f"https://{rewritten}")
    return parsed.origin if parsed is not None else None


def _is_dev_account_portal(host: str) -> bool:
    if host.startswith("accounts.") and host.endswith(_LEGACY_DEV_PORTAL_SUFFIXES):
        return True
    return any(
        host.endswith(suffix) and not host.endswith(".clerk" + suffix) for suffix in _CURRENT_DEV_PORTAL_SUFFIXES
    )


def is_known_clerk_referrer(request: RequestView, instance: Instance) -> bool:
    """``isKnownClerkReferrer``: FAPI itself, a development account portal (dev instances), or the portal of
    this instance."""
    parsed = _referrer(request)
    if parsed is None:
        return False
    frontend_api = instance.frontend_api
    if frontend_api.startswith("http"):
        fapi = parse_url(frontend_api)
        if fapi is None:
            return False
        fapi_host = fapi.hostname
    else:
        fapi_host = frontend_api
    if parsed.hostname == fapi_host:
        return True
    if instance.instance_type != "production" and _is_dev_account_portal(parsed.hostname):
        return True
    return parsed.origin == _accounts_origin(frontend_api)
