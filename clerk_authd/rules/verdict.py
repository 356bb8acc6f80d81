"""``Verdict``: one decision about one request, before any answer format is chosen (design.md, style habit 14).

Clerk's request state, the auth object it yields, the first requirement that failed and the identity headers:
everything an answer family (``sanic.answers.AnswerPolicy``) needs, and nothing of HTTP frameworks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from clerk_authd.errors import KEYS_UNAVAILABLE_REASONS
from clerk_authd.js.headers import node_wire
from clerk_authd.reasons import REQUIREMENT_NOT_MET, SESSION_PENDING
from clerk_authd.rules.auth import Auth, SignedOutAuth
from clerk_authd.rules.carriers import parse_authorization
from clerk_authd.rules.identity import Header, Identity
from clerk_authd.rules.names import IDENTITY_HEADERS
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.requirements import Requirement
from clerk_authd.rules.state import RequestState, header_value

#: the summary (status, reason, message) of every allowed decision
SIGNED_IN: Final = ("signed-in", "", "")
_SUMMARY_HEADERS: Final = IDENTITY_HEADERS[:3]
_AUTH_HEADERS: Final = IDENTITY_HEADERS[3:]
#: how many distinct (status, reason, message) header blocks ``summary_block`` keeps: the allowed, signed-out and
#: denied answers repeat a handful; once it is full (messages naming a token's dates vary), the rest are rendered
_SUMMARY_MEMO_SIZE: Final = 256
_summary_memo: dict[tuple[str, str, str], bytes] = {}


def header_lines(headers: Iterable[Header]) -> bytes:
    """``name: value\r\n`` for each header, encoded as Sanic encodes a header (UTF-8, surrogates escaped).

    Every value here passed ``header_value`` (no CR, LF or NUL), so this is exactly what Sanic would write for
    them, rendered once instead of on every answer.
    """
    return b"".join(f"{name}: {value}\r\n".encode(errors="surrogateescape") for name, value in headers)


def parse_header_lines(block: bytes) -> tuple[Header, ...]:
    """``header_lines`` read back, for callers that want pairs rather than bytes."""
    decoded = block.decode(errors="surrogateescape")
    return tuple((name, value) for name, _, value in (line.partition(": ") for line in decoded.split("\r\n")[:-1]))


def render_identity(identity: Identity) -> bytes:
    """The identity header lines of ``identity`` (all but status, reason and message); unsafe values are empty."""
    return render_lines(_AUTH_HEADERS, identity)


def render_lines(names: Iterable[str], values: Iterable[str]) -> bytes:
    """The identity header lines of ``names`` with ``values``; unsafe values are empty."""
    return header_lines((name, header_value(value) or "") for name, value in zip(names, values, strict=True))


_NO_ONE: Final = Identity()
#: the renderings of signed-out identities, which differ only in token type and session status (a few)
_anonymous_memo: dict[Identity, bytes] = {}


def render_auth_identity(auth: Auth | None) -> bytes:
    """The identity header lines of ``auth`` (all but status, reason and message); unsafe values are empty.

    A signed-out auth object names no one, so its lines are one of a few, rendered once each.
    """
    identity = auth.identity if auth is not None else _NO_ONE
    if identity.user_id or identity.machine_id or identity.client_id:
        return render_identity(identity)
    block = _anonymous_memo.get(identity)
    if block is None:
        block = render_identity(identity)
        if len(_anonymous_memo) < _SUMMARY_MEMO_SIZE:
            _anonymous_memo[identity] = block
    return block


def summary_block(summary: tuple[str, str, str]) -> bytes:
    """The status, reason and message header lines of a summary (``Verdict.summary``), memoized while few.

    These three are Clerk's own headers (its ``withDebugHeaders``), so they go out as Node writes them (Latin-1,
    ``node_wire``); the identity lines are ours and stay UTF-8.
    """
    block = _summary_memo.get(summary)
    if block is None:
        block = header_lines(
            (name, node_wire(header_value(value) or "")) for name, value in zip(_SUMMARY_HEADERS, summary, strict=True)
        )
        if len(_summary_memo) < _SUMMARY_MEMO_SIZE:
            _summary_memo[summary] = block
    return block


@dataclass(frozen=True, slots=True)
class Verdict:
    """One decision about one request. ``auth`` is ``state.to_auth()`` as the caller filtered it (``None`` for a
    handshake); ``unmet`` is the first requirement that failed; ``now`` is the clock it was decided at."""

    view: RequestView
    state: RequestState
    auth: Auth | None
    unmet: Requirement | None
    now: float
    #: the auth object's identity header lines (``render_identity``), rendered once per recently read cached verdict
    identity_block: bytes
    #: for the decision log: the key that signed the token, and whether the verified-token cache answered
    kid: str | None = None
    cache: Literal["hit", "miss"] | None = None

    @property
    def keys_unavailable(self) -> bool:
        """No key could be obtained: the service cannot tell, so it fails closed with 503."""
        return self.state.reason in KEYS_UNAVAILABLE_REASONS

    @property
    def signed_in(self) -> bool:
        """The auth object is authenticated (a pending session or a token of an unaccepted type is not)."""
        return self.auth is not None and self.auth.is_authenticated

    @property
    def allowed(self) -> bool:
        """Signed in and every requirement holds."""
        return self.signed_in and self.unmet is None

    @property
    def bearer_rejected(self) -> bool:
        """An ``Authorization`` token was presented and the request is still signed out."""
        return not self.signed_in and parse_authorization(self.view.header("authorization")) is not None

    def summary(self) -> tuple[str, str, str]:
        """What the status, reason and message headers say, Clerk's words wherever Clerk has some."""
        state = self.state
        if state.status != "signed-in":
            return state.status, state.reason or "", state.message or ""
        if not self.signed_in:
            if isinstance(self.auth, SignedOutAuth) and self.auth.session_status == "pending":
                return "signed-out", SESSION_PENDING, "The session is pending: it counts as signed out."
            return "signed-out", "token-type-mismatch", ""
        if self.unmet is not None:
            return "signed-in", REQUIREMENT_NOT_MET, f"Requirement not met: {self.unmet.describe()}"
        return SIGNED_IN

    def summary_json(self) -> dict[str, object]:
        """``{"status", "reason", "message"}``: the body of every JSON denial."""
        status, reason, message = self.summary()
        return {"status": status, "reason": reason or None, "message": message or None}

    @property
    def identity(self) -> tuple[Header, ...]:
        """The auth object's identity headers as pairs (``identity_block`` read back)."""
        return parse_header_lines(self.identity_block)

    def header_block(self) -> bytes:
        """Every identity header line, each present: the verdict's status, reason and message, then the auth's.

        What an answer writes as it is (``sanic.answers.IdentityResponse``): for a cache hit, two blocks of bytes
        rendered before, joined.
        """
        return summary_block(self.summary()) + self.identity_block
