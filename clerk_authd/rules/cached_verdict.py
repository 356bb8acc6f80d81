"""``CachedVerdict``: what the verified-token cache keeps of a verified session token, and what a hit needs."""

from __future__ import annotations

import json
import sys
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import orjson

from clerk_authd.rules.auth import SignedInAuth
from clerk_authd.rules.claims import SessionClaims, parse_session_claims, session_identity
from clerk_authd.rules.identity import Identity
from clerk_authd.rules.jwt import peek_jwt

#: How many payloads' parsed claims and identity lines ``RecentClaims`` keeps: those of the verdicts read most
#: recently. Each is about 1.5 KB, so a few megabytes in all, whatever the size of the cache.
RECENT_CLAIMS_SIZE: Final = 4096


@dataclass(frozen=True, slots=True)
class CachedVerdict:
    """A verified session token's verdict, what the verified-token cache keeps: its payload as compact JSON
    (``payload_json``), when the token became valid (``nbf``/``iat`` less the skew, in seconds, so a clock that
    moves back cannot revive a cached verdict), until when the cache may return it (``exp`` plus the skew), the
    ``kid`` of the key that verified it (``key_kid``, ``None`` for a PEM key) and the ``kid`` the decision log
    names (``kid``: for a PEM key, which has none, the one the token's header names).

    The payload is kept as its JSON text because the text costs about a third of the parsed objects (the
    claims, the payload ``dict``, its numbers and strings, the rendered identity lines). The parsed claims and
    the identity lines are kept for the verdicts read most recently (``RecentClaims``), so a hit on a session
    in use parses and renders nothing; a verdict read less recently is parsed again, once, on its next hit.

    Not the token: the cache holds no credential, so the signed-in object is rebuilt around the presented one.
    """

    payload_json: bytes
    valid_from: float
    expires_at: float
    key_kid: str | None
    kid: str | None

    @classmethod
    def of(
        cls, claims: SessionClaims, *, valid_from: float, expires_at: float, key_kid: str | None, kid: str | None
    ) -> CachedVerdict:
        """The verdict of a token whose payload gave ``claims``; the claims are kept as the most recent."""
        payload_json = _json_text(claims.raw)
        _recent.keep(payload_json, claims)
        return cls(payload_json, valid_from, expires_at, key_kid, kid)

    @property
    def claims(self) -> SessionClaims:
        """The verified payload's claims: the kept ones, else parsed again from the payload's JSON."""
        return _recent.get(self.payload_json).claims

    @property
    def payload(self) -> dict[str, Any]:
        """The verified payload."""
        return self.claims.raw

    def signed_in(self, token: str) -> SignedInAuth:
        """The signed-in object for ``token`` (the token this verdict was reached for)."""
        return SignedInAuth(self.claims, token)

    def identity_block(self, render: Callable[[Identity], bytes]) -> bytes:
        """The session's identity header lines: ``render`` of its identity (``verdict.render_identity``) on the
        first call while its claims are kept, then the same bytes, so a hit writes them without looking at a
        header.

        One renderer for every verdict: the service passes its own, always the same (an answer is never
        rendered twice in two ways).
        """
        recent = _recent.get(self.payload_json)
        block = recent.identity_block
        if block is None:
            block = recent.identity_block = render(session_identity(recent.claims))
        return block


def _json_text(payload: dict[str, Any]) -> bytes:
    """``payload`` as compact JSON that ``orjson.loads`` gives back equal, in the same order.

    orjson writes every payload ``strict_json_object`` parsed but one nested 254 levels deep or more (JSON allows
    it, and so does Clerk); the standard library writes those. orjson's own result keeps the buffer it was
    written in (4 KB here), so it is copied to the text's size.
    """
    try:
        return memoryview(orjson.dumps(payload)).tobytes()
    except orjson.JSONEncodeError:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class ParsedVerdict:
    """What ``RecentClaims`` keeps for one payload: its claims, and its identity lines once rendered."""

    __slots__ = ("claims", "identity_block")

    def __init__(self, claims: SessionClaims) -> None:
        self.claims = claims
        self.identity_block: bytes | None = None


class RecentClaims:
    """The parsed claims of the ``size`` payloads read most recently, keyed by the payload's JSON.

    Claims are a function of the payload alone, so verdicts with equal payloads may share them. Every payload
    here parsed once already (the token verified with it), so parsing it again cannot fail. ``reparsed`` counts
    the payloads parsed again (``/metrics``: many of them beside the cache's hits mean a worker serves more active
    sessions than it keeps parsed).
    """

    __slots__ = ("_entries", "_size", "reparsed")

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, ParsedVerdict] = OrderedDict()
        self.reparsed = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, payload_json: bytes) -> ParsedVerdict:
        """What is kept for ``payload_json`` (now the most recent), else its claims parsed and kept."""
        parsed = self._entries.get(payload_json)
        if parsed is None:
            self.reparsed += 1
            return self.keep(payload_json, parse_session_claims(orjson.loads(payload_json)))
        self._entries.move_to_end(payload_json)
        return parsed

    def keep(self, payload_json: bytes, claims: SessionClaims) -> ParsedVerdict:
        """Keep ``claims`` for ``payload_json`` as the most recent, dropping the least recent beyond the size."""
        entries = self._entries
        parsed = entries[payload_json] = ParsedVerdict(claims)
        entries.move_to_end(payload_json)
        if len(entries) > self._size:
            entries.popitem(last=False)
        return parsed


_recent = RecentClaims(RECENT_CLAIMS_SIZE)


def reparsed_claims() -> int:
    """How many cached verdicts' payloads this process has parsed again (``RecentClaims.reparsed``)."""
    return _recent.reparsed


def header_kid(token: str) -> str | None:
    """The ``kid`` a token's header names, or ``None``: a JSON parse, for tokens no ``CachedVerdict`` covers."""
    decoded = peek_jwt(token)
    kid = decoded.header.get("kid") if decoded is not None else None
    return sys.intern(kid) if isinstance(kid, str) else None
