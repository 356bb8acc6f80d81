"""The outcome of authenticating one request: Clerk's ``RequestState`` (clerk-semantics §12).

``status`` is ``signed-in``, ``signed-out`` or ``handshake``. Signed-out and handshake states carry Clerk's
debug headers (``x-clerk-auth-status``, ``x-clerk-auth-reason``, and ``x-clerk-auth-message`` when there is a
message); a signed-in state never does. Like JS, a debug value that a Fetch ``Headers`` object refuses (text
beyond Latin-1, a CR, LF or NUL) is silently left out, which also keeps token-derived text from splitting a
header. ``auth`` is stored before pending handling; ``to_auth()`` applies it.

A state also says how it was reached, for the service's decision log and its answers: ``cache_hit`` (did the
verified-token cache answer) and ``verdict`` (the verified session behind a signed-in state, which keeps the
signing ``kid`` and the identity headers rendered for it). Neither takes part in equality or ``repr``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from clerk_authd.js.headers import HTTP_WHITESPACE
from clerk_authd.reasons import TOKEN_TYPE_MISMATCH
from clerk_authd.rules.auth import (
    Auth,
    InvalidTokenAuth,
    SignedOutAuth,
    pending_as_signed_out,
    unauthenticated_machine_auth,
)
from clerk_authd.rules.cached_verdict import CachedVerdict
from clerk_authd.rules.identity import Header
from clerk_authd.rules.names import AUTH_MESSAGE_HEADER, AUTH_REASON_HEADER, AUTH_STATUS_HEADER
from clerk_authd.rules.tokentypes import SESSION_TOKEN, TokenType, is_machine_token_type

AuthStatus = Literal["signed-in", "signed-out", "handshake"]


def header_value(value: str) -> str | None:
    """What ``Headers.set`` stores for ``value`` (undici): edges' HTTP whitespace trimmed; ``None`` where it throws.

    It throws for a character above U+00FF (not a ByteString) and for a CR, LF or NUL left inside.
    """
    value = value.strip(HTTP_WHITESPACE)
    if "\r" in value or "\n" in value or "\0" in value:
        return None
    if not value.isascii():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            return None
    return value


def with_debug_headers(
    headers: Iterable[Header], status: str, reason: str | None, message: str | None
) -> tuple[Header, ...]:
    """Clerk's ``withDebugHeaders``: set each non-empty debug value ``Headers`` accepts, replacing earlier ones."""
    debug: list[Header] = []
    for name, value in ((AUTH_STATUS_HEADER, status), (AUTH_REASON_HEADER, reason), (AUTH_MESSAGE_HEADER, message)):
        stored = header_value(value) if value else None
        if stored is not None:
            debug.append((name, stored))
    replaced = {name for name, _ in debug}
    return tuple((name, value) for name, value in headers if name.lower() not in replaced) + tuple(debug)


@dataclass(frozen=True, slots=True)
class RequestState:
    """Clerk's request state. ``token``, ``headers`` and ``set_cookies`` can hold tokens, so ``repr`` hides them."""

    status: AuthStatus
    reason: str | None
    message: str | None
    token_type: TokenType | None
    auth: Auth | None
    token: str | None = field(default=None, repr=False)
    #: lowercase name, value; Set-Cookie directives are kept apart in ``set_cookies``
    headers: tuple[Header, ...] = field(default=(), repr=False)
    set_cookies: tuple[str, ...] = field(default=(), repr=False)
    #: ``True`` when the verified-token cache answered, ``False`` when it was asked and did not know the token,
    #: ``None`` when no cache was asked (no cache, no session token, or a machine-only request)
    cache_hit: bool | None = field(default=None, repr=False, compare=False)
    #: the verified session token's verdict (cached or not) behind a signed-in session state; ``None`` for
    #: machine tokens, signed-out states and sessions a handshake resolved
    verdict: CachedVerdict | None = field(default=None, repr=False, compare=False)

    @classmethod
    def signed_in(
        cls,
        auth: Auth,
        token: str,
        *,
        headers: Iterable[Header] = (),
        set_cookies: Iterable[str] = (),
        cache_hit: bool | None = None,
        verdict: CachedVerdict | None = None,
    ) -> RequestState:
        """Clerk's ``signedIn``: a session or machine token was verified. No debug headers."""
        if not auth.is_authenticated:
            raise ValueError("a signed-in state needs an authenticated auth object")
        return cls(
            "signed-in",
            None,
            None,
            auth.token_type,
            auth,
            token,
            tuple(headers),
            tuple(set_cookies),
            cache_hit,
            verdict,
        )

    @classmethod
    def signed_out(
        cls,
        reason: str,
        message: str = "",
        *,
        token_type: TokenType | None = SESSION_TOKEN,
        auth: Auth | None = None,
        headers: Iterable[Header] = (),
        set_cookies: Iterable[str] = (),
    ) -> RequestState:
        """Clerk's ``signedOut``; ``auth`` defaults to the null object of ``token_type``."""
        if auth is None:
            auth = _null_auth(token_type)
        return cls(
            "signed-out",
            reason,
            message,
            token_type,
            auth,
            None,
            with_debug_headers(headers, "signed-out", reason, message),
            tuple(set_cookies),
        )

    @classmethod
    def handshake(
        cls, reason: str, message: str, *, headers: Iterable[Header], set_cookies: Iterable[str]
    ) -> RequestState:
        """Clerk's ``handshake``: the browser must visit FAPI (``headers`` hold ``location``); no auth object."""
        return cls(
            "handshake",
            reason,
            message,
            SESSION_TOKEN,
            None,
            None,
            with_debug_headers(headers, "handshake", reason, message),
            tuple(set_cookies),
        )

    @classmethod
    def signed_out_invalid_token(cls) -> RequestState:
        """Clerk's ``signedOutInvalidToken``: the token's type is not in the accepted list (``tokenType`` null)."""
        return cls.signed_out(TOKEN_TYPE_MISMATCH, token_type=None, auth=InvalidTokenAuth())

    @property
    def kid(self) -> str | None:
        """The ``kid`` of the key that verified the session token, when this state knows its verdict."""
        return self.verdict.kid if self.verdict is not None else None

    @property
    def is_authenticated(self) -> bool:
        """True when signed in (a pending session included: only its auth object is signed out)."""
        return self.status == "signed-in"

    def to_auth(self, treat_pending_as_signed_out: bool = True) -> Auth | None:
        """Clerk's ``toAuth()``: ``None`` for a handshake; a pending session is signed out unless asked not to."""
        if self.auth is None or not treat_pending_as_signed_out:
            return self.auth
        return pending_as_signed_out(self.auth)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or ``None``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)


def _null_auth(token_type: TokenType | None) -> Auth:
    if token_type is None:
        return InvalidTokenAuth()
    if is_machine_token_type(token_type):
        return unauthenticated_machine_auth(token_type)
    return SignedOutAuth()
