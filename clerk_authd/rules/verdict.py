"""``Verdict``: one decision about one request, before any answer format is chosen (design.md, style habit 14).

Clerk's request state, the auth object it yields, the first requirement that failed and the identity headers:
everything an answer family (``sanic.answers.AnswerPolicy``) needs, and nothing of HTTP frameworks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from clerk_authd.errors import KEYS_UNAVAILABLE_REASONS
from clerk_authd.reasons import REQUIREMENT_NOT_MET, SESSION_PENDING
from clerk_authd.rules.auth import Auth, SignedOutAuth
from clerk_authd.rules.carriers import parse_authorization
from clerk_authd.rules.identity import Header, Identity
from clerk_authd.rules.names import IDENTITY_HEADERS
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.requirements import Requirement
from clerk_authd.rules.state import RequestState, header_value

_SUMMARY_HEADERS: Final = IDENTITY_HEADERS[:3]
_AUTH_HEADERS: Final = IDENTITY_HEADERS[3:]
_EMPTY_PAIRS: Final = {name: (name, "") for name in _AUTH_HEADERS}


def render_identity(identity: Identity) -> tuple[tuple[str, str], ...]:
    """The identity headers of ``identity`` (all but status, reason and message); unsafe values become empty.

    Pairs with an empty value are shared by every answer: a cached verdict keeps its rendering (usually half
    empty) for as long as it is cached, so they would otherwise be a copy per cached token.
    """
    return tuple(
        (name, stored) if (stored := header_value(value)) else _EMPTY_PAIRS[name]
        for name, value in zip(_AUTH_HEADERS, identity, strict=True)
    )


def render_auth_identity(auth: Auth | None) -> tuple[Header, ...]:
    """The identity headers of ``auth`` (all but status, reason and message); unsafe values become empty."""
    return render_identity(auth.identity if auth is not None else Identity())


@dataclass(frozen=True, slots=True)
class Verdict:
    """One decision about one request. ``auth`` is ``state.to_auth()`` as the caller filtered it (``None`` for a
    handshake); ``unmet`` is the first requirement that failed; ``now`` is the clock it was decided at."""

    view: RequestView
    state: RequestState
    auth: Auth | None
    unmet: Requirement | None
    now: float
    #: the auth object's identity headers (``AnswerPolicy.render_identity``), rendered once per cached verdict
    identity: tuple[tuple[str, str], ...]
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
        return "signed-in", "", ""

    def summary_json(self) -> dict[str, object]:
        """``{"status", "reason", "message"}``: the body of every JSON denial."""
        status, reason, message = self.summary()
        return {"status": status, "reason": reason or None, "message": message or None}

    def identity_headers(self) -> list[Header]:
        """Every identity header, each present: the verdict's status, reason and message, then the auth's."""
        summary = self.summary()
        return [
            *((name, header_value(value) or "") for name, value in zip(_SUMMARY_HEADERS, summary, strict=True)),
            *self.identity,
        ]
