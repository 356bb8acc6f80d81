"""Where a request's tokens are: Clerk's ``AuthenticateContext`` cookie, header and handshake values (clerk-semantics
§1.3, §1.5, §1.6).

The hard part is the cookie choice: an instance may find both ``__session`` and ``__session_<suffix>`` (and their
``__client_uat`` twins) in one request, and ``usesSuffixedCookies`` picks one pair by peeking at the tokens'
``iss``, ``iat`` and ``exp`` without verifying them. The choice is made once per request, at the request's clock;
the token it picks is then decoded strictly and verified like any other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from clerk_authd.js.values import UNDEFINED, js_less_than, js_number, js_parse_int, js_to_number, js_truthy
from clerk_authd.rules.instance import Instance, strip_scheme
from clerk_authd.rules.jwt import decode_jwt_loosely
from clerk_authd.rules.names import (
    CLIENT_UAT_COOKIE,
    DEV_BROWSER,
    HANDSHAKE,
    HANDSHAKE_NONCE,
    REDIRECT_COUNT_COOKIE,
    REFRESH_COOKIE,
    SESSION_COOKIE,
)
from clerk_authd.rules.request import RequestView


def peek_payload(token: str) -> dict[str, Any] | None:
    """A JWT's payload as Clerk's lenient ``decodeJwt`` reads it; ``None`` where that fails (a header or signature
    that does not decode counts, as in Clerk).

    Only a hint for choosing cookies: the token then chosen is decoded strictly and verified.
    """
    decoded = decode_jwt_loosely(token)
    return decoded.payload if decoded is not None else None


#: gives the payload of a token its caller verified before (the verified-token cache's), else ``None``. A token that
#: verified decodes strictly, and strict decoding accepts only what the lenient one reads alike, so that payload is
#: the one ``peek_payload`` would give: the cookie choice decodes no session token the cache knows
VerifiedPayloadLookup = Callable[[str], Mapping[str, Any] | None]


def _no_verified_payload(_token: str) -> None:
    return None


def _peek(token: str, verified: VerifiedPayloadLookup) -> Mapping[str, Any] | None:
    """``peek_payload`` of ``token``, from ``verified`` where it knows the token."""
    known = verified(token)
    return known if known is not None else peek_payload(token)


def _iat(token: str, verified: VerifiedPayloadLookup) -> object:
    payload = _peek(token, verified) if token else None
    iat = payload.get("iat") if payload is not None else None
    return iat if js_truthy(iat) else 0


def uses_suffixed_cookies(
    cookies: Mapping[str, str], instance: Instance, now: float, verified: VerifiedPayloadLookup = _no_verified_payload
) -> bool:
    """``usesSuffixedCookies()`` (§1.6): the rules in order, the first that fires decides."""
    suffix = instance.cookie_suffix
    session = cookies.get(SESSION_COOKIE) or ""
    suffixed_session = cookies.get(f"{SESSION_COOKIE}_{suffix}") or ""
    client_uat = cookies.get(CLIENT_UAT_COOKIE) or None
    suffixed_uat = cookies.get(f"{CLIENT_UAT_COOKIE}_{suffix}") or None
    if session:
        payload = _peek(session, verified)
        issuer = payload.get("iss") if payload is not None else None
        if not js_truthy(issuer):
            return False
        if not isinstance(issuer, str) or strip_scheme(issuer) != instance.original_frontend_api:
            return True
    if not suffixed_uat and not suffixed_session:
        return False
    if (
        suffixed_uat != "0"
        and client_uat != "0"
        and js_less_than(_iat(suffixed_session, verified), _iat(session, verified))
    ):
        return False
    if suffixed_uat == "0" and client_uat != "0":
        return False
    non_production = instance.instance_type != "production"
    if non_production and suffixed_uat != "0" and client_uat == "0" and _expired(suffixed_session, now, verified):
        return False
    return not (not suffixed_uat and suffixed_session)


def _expired(token: str, now: float, verified: VerifiedPayloadLookup) -> bool:
    """Clerk's ``sessionExpired``: ``exp <= now`` in JavaScript, so a missing ``exp`` (``undefined``, NaN) is not."""
    payload = _peek(token, verified) if token else None
    return payload is not None and js_to_number(payload.get("exp", UNDEFINED)) <= math.floor(now)


@dataclass(frozen=True, slots=True)
class Carriers:
    """Where this request's tokens are (``AuthenticateContext``'s cookie, header and handshake values).

    Computed once per request, at the request's clock; values are ``None`` when absent or empty.
    """

    token_in_header: str | None = field(default=None, repr=False)
    session_token_in_cookie: str | None = field(default=None, repr=False)
    suffixed: bool = False
    client_uat: float = 0.0
    refresh_token_in_cookie: str | None = field(default=None, repr=False)
    dev_browser_token: str | None = field(default=None, repr=False)
    handshake_token: str | None = field(default=None, repr=False)
    handshake_nonce: str | None = field(default=None, repr=False)
    redirect_count: float = 0.0

    @property
    def session_token(self) -> str | None:
        """Clerk's ``sessionToken`` getter: the cookie token, else the header token."""
        return self.session_token_in_cookie or self.token_in_header

    @classmethod
    def header_only(cls, view: RequestView) -> Carriers:
        """For ``acceptsToken`` ``m2m_token`` / ``api_key``: only the header is read (§1.6, last paragraph)."""
        return cls(token_in_header=parse_authorization(view.header("authorization")))

    @classmethod
    def read(
        cls, view: RequestView, instance: Instance, now: float, verified: VerifiedPayloadLookup = _no_verified_payload
    ) -> Carriers:
        """Every carrier, with the suffixed-or-not cookie choice made once at ``now`` (seconds), reading the
        payloads of the tokens ``verified`` knows from it."""
        cookies = view.cookies
        suffixed = uses_suffixed_cookies(cookies, instance, now, verified)
        suffix = instance.cookie_suffix

        def either(name: str) -> str | None:
            return cookies.get(f"{name}_{suffix}" if suffixed else name) or None

        uat_cookie = either(CLIENT_UAT_COOKIE)
        client_uat = js_parse_int(uat_cookie) if uat_cookie else math.nan  # parseInt("") is NaN
        count_cookie = cookies.get(REDIRECT_COUNT_COOKIE)
        redirect_count = js_number(count_cookie) if count_cookie else 0.0  # Number("") is 0
        return cls(
            token_in_header=parse_authorization(view.header("authorization")),
            session_token_in_cookie=either(SESSION_COOKIE),
            suffixed=suffixed,
            client_uat=0.0 if math.isnan(client_uat) else client_uat + 0.0,
            refresh_token_in_cookie=cookies.get(f"{REFRESH_COOKIE}_{suffix}") or None,
            dev_browser_token=view.query.get(DEV_BROWSER) or either(DEV_BROWSER),
            handshake_token=view.query.get(HANDSHAKE) or cookies.get(HANDSHAKE) or None,
            handshake_nonce=view.query.get(HANDSHAKE_NONCE) or cookies.get(HANDSHAKE_NONCE) or None,
            redirect_count=0.0 if math.isnan(redirect_count) else redirect_count + 0.0,
        )


def parse_authorization(value: str | None) -> str | None:
    """§1.3: ``split(' ', 2)``; a lone word is the token, ``Bearer <t>`` (case-sensitive) gives ``t``, else none."""
    if not value:
        return None
    pieces = value.split(" ")
    scheme, token = pieces[0], pieces[1] if len(pieces) > 1 else ""
    if not token:
        return scheme
    return token if scheme == "Bearer" else None
