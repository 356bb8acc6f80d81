"""``CachedVerdict``: what the verified-token cache keeps of a verified session token, and what a hit needs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clerk_authd.rules.auth import SignedInAuth
from clerk_authd.rules.claims import SessionClaims, read_session_identity
from clerk_authd.rules.identity import Identity
from clerk_authd.rules.jwt import peek_jwt


@dataclass(frozen=True, slots=True)
class CachedVerdict:
    """A verified session token's verdict, what the verified-token cache keeps: the parsed claims (holding the
    payload, the one copy of it), when the token became valid (``nbf``/``iat`` less the skew, in seconds, so a
    clock that moves back cannot revive a cached verdict) and the ``kid`` of the key that verified it (for a
    PEM key, which has none, the one the token's header names).

    Not the token: the cache holds no credential, so the signed-in object is rebuilt around the presented one.
    A hit needs no more than this: the service's identity headers are rendered once per verdict and kept here.
    """

    claims: SessionClaims
    valid_from: float
    kid: str | None = None
    #: ``identity_block``'s two parts, filled on first use: this session's own lines, and the rest, which the
    #: verdicts of every session of one organization role share (``verdict.render_session_lines``)
    own_lines: bytes | None = field(default=None, init=False, repr=False, compare=False)
    shared_lines: bytes = field(default=b"", init=False, repr=False, compare=False)

    @property
    def payload(self) -> dict[str, Any]:
        """The verified payload."""
        return self.claims.raw

    def signed_in(self, token: str) -> SignedInAuth:
        """The signed-in object for ``token`` (the token this verdict was reached for)."""
        return SignedInAuth(self.claims, token)

    def identity_block(self, render: Callable[[Identity], tuple[bytes, bytes]]) -> bytes:
        """The session's identity header lines: ``render`` of its identity (``verdict.render_session_lines``: its
        own lines and the shared rest) on the first call, kept, and joined on every call after it, so a hit
        writes them without looking at a header.

        One renderer per verdict: the service passes its own, always the same (the answer is never re-rendered).
        """
        own = self.own_lines
        if own is None:
            own, shared = render(read_session_identity(self.claims))
            object.__setattr__(self, "own_lines", own)  # lazily filled slots of a frozen object
            object.__setattr__(self, "shared_lines", shared)
        return own + self.shared_lines


def header_kid(token: str) -> str | None:
    """The ``kid`` a token's header names, or ``None``: a JSON parse, for tokens no ``CachedVerdict`` covers."""
    decoded = peek_jwt(token)
    kid = decoded.header.get("kid") if decoded is not None else None
    return sys.intern(kid) if isinstance(kid, str) else None
