"""Clerk's handshake decision, pure: when a request is sent to FAPI, where exactly, and which cookies its directives
set (clerk-semantics §7–§10).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from clerk_authd.errors import AuthenticateRequestError, HandshakeError
from clerk_authd.js.url import parse_url
from clerk_authd.js.values import js_number_str
from clerk_authd.reasons import SATELLITE_NEEDS_SYNCING
from clerk_authd.rules.carriers import Carriers
from clerk_authd.rules.instance import Instance
from clerk_authd.rules.names import (
    API_VERSION_PARAM,
    DEV_BROWSER,
    HANDSHAKE_REASON,
    LEGACY_DEV_SESSION,
    REDIRECT_COUNT_COOKIE,
    SESSION_COOKIE,
    SUPPORTED_BAPI_VERSION,
)
from clerk_authd.rules.orgsync import OrganizationMatcher
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.state import RequestState, header_value

log = logging.getLogger(__name__)


REDIRECT_LOOP_LIMIT: Final = 3
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
        (API_VERSION_PARAM, SUPPORTED_BAPI_VERSION),
        ("suffixed_cookies", "true" if carriers.suffixed else "false"),
        (HANDSHAKE_REASON, reason),
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
