"""Every exception clerk_authd raises on purpose; the reason strings they carry are ``reasons.py``'s.

::

    ClerkAuthdError
    ├── ConfigError                     bad settings; lists every bad variable at once
    ├── TokenVerificationError          Clerk's TokenVerificationError: reason + message + action, and the
    │                                   failed check (``check``, one of ``CHECKS``)
    ├── MachineTokenVerificationError   Clerk's MachineTokenVerificationError: code + message + status
    │   └── rules.machine_auth.MachineTokenRejectedError   ... and the token type the signed-out state reports
    ├── BackendAPIError                 a Backend API call without a usable answer; itself: a 2xx that is not
    │   │                               the expected JSON, or an id refused before sending
    │   ├── ClerkAPIResponseError       Clerk's @clerk/backend error: a non-2xx, with status, clerk_trace_id,
    │   │                               retry_after and errors[] (ClerkAPIError: code, message, long_message, meta)
    │   └── ClerkTransportError         Clerk was not reached: connection failure, timeout, total deadline
    ├── AuthenticateRequestError        a precondition Clerk throws for (missing keys, dev handshake failure)
    └── HandshakeError                  a handshake's cookies did not give a verified session (Clerk's Error)

    ValueError                          input errors of one parser, translated by its callers (never public)
    ├── rules.pem.PemKeyError           CLERK_JWT_KEY is not a usable RSA public key → ConfigError, jwk-local-missing
    ├── rules.keys.UnusableKeyError     one JWKS entry cannot verify RS256 → the KeyStore skips it, logged
    ├── rules.instance.PublishableKeyError   a publishable key does not decode → ConfigError,
    │                                   AuthenticateRequestError
    ├── rules.orgsync.PatternError      an organization pattern does not compile → ConfigError,
    │                                   AuthenticateRequestError
    └── rules.requirements.RequirementError   a bad requirement in a decision request → 400

    RuntimeError
    └── sanic.install.MiddlewareRequiredError   get_auth / require_auth on a request clerk_middleware did not see

Foreign exceptions (joserfc, aiohttp, json) are translated into these at one boundary each:
``clerk/tokens.py`` and ``rules/keys.py`` for joserfc, ``clerk/backend_api/transport.py`` for aiohttp. Nothing
above those modules ever sees a foreign exception type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from clerk_authd.reasons import Reason

TokenCarrier = Literal["header", "cookie"]


class Action:
    """Clerk's ``TokenVerificationErrorAction`` strings, appended to a message by ``full_message``."""

    CONTACT_SUPPORT: Final = "Contact support@clerk.com"
    ENSURE_CLERK_JWT: Final = "Make sure that this is a valid Clerk-generated JWT."
    SET_CLERK_JWT_KEY: Final = "Set the CLERK_JWT_KEY environment variable."
    VERIFY_KEYS: Final = (
        "Go to your Dashboard and validate your secret and public keys are correct. "
        "Contact support@clerk.com if the issue persists."
    )


#: Reasons that mean "we could not obtain keys", as opposed to "this token is bad". The service answers
#: these with 503 (fail closed) rather than 401.
KEYS_UNAVAILABLE_REASONS: Final = frozenset(
    {Reason.JWK_REMOTE_FAILED_TO_LOAD, Reason.SECRET_KEY_INVALID, Reason.JWK_FAILED_TO_RESOLVE}
)


#: ``verifyToken``'s checks in Clerk's order (``clerk.tokens``), then our opt-in ``sid`` check: the values of
#: ``TokenVerificationError.check``. ``format`` covers decoding and what the claims must be to build an auth object.
CHECKS: Final = (
    "format",
    "header",
    "key",
    "typ",
    "alg",
    "signature",
    "sub",
    "aud",
    "azp",
    "iss",
    "exp",
    "nbf",
    "iat",
    "sid",
)


class ClerkAuthdError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(ClerkAuthdError):
    """Configuration that cannot run. ``problems`` holds one ``"NAME: why"`` line per bad variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems))


class TokenVerificationError(ClerkAuthdError):
    """A token failed one of Clerk's checks. ``reason`` is Clerk's machine code, ``message`` its text."""

    def __init__(self, reason: str, message: str, action: str | None = None, *, check: str = "format") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.action = action
        #: which of ``CHECKS`` failed, so that ``explain`` never reads a message
        self.check = check
        self.token_carrier: TokenCarrier | None = None

    def full_message(self) -> str:
        """Clerk's ``getFullMessage()``: message, action, then ``(reason=…, token-carrier=…)``."""
        text = " ".join(part for part in (self.message, self.action) if part)
        carrier = self.token_carrier if self.token_carrier is not None else "undefined"
        return f"{text} (reason={self.reason}, token-carrier={carrier})"


class MachineTokenVerificationError(ClerkAuthdError):
    """An opaque or JWT machine token failed verification (clerk-semantics §18)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def full_message(self) -> str:
        """Clerk's machine message: ``"<msg> (code=<code>, status=<status|n/a>)"``."""
        status = self.status if self.status is not None else "n/a"
        return f"{self.message} (code={self.code}, status={status})"


@dataclass(frozen=True, slots=True)
class ClerkAPIError:
    """One entry of a Clerk error body's ``errors[]``, as ``@clerk/shared``'s ``ClerkAPIError`` keeps it."""

    code: str
    message: str
    long_message: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse_body(cls, body: object) -> list[ClerkAPIError]:
        """The well-formed entries of ``body["errors"]``; a body without them (a proxy's HTML page) has none."""
        entries = body.get("errors") if isinstance(body, dict) else None
        if not isinstance(entries, list):
            return []
        return [
            cls(
                code=_text(entry.get("code")),
                message=_text(entry.get("message")),
                long_message=entry["long_message"] if isinstance(entry.get("long_message"), str) else None,
                meta=entry["meta"] if isinstance(entry.get("meta"), dict) else {},
            )
            for entry in entries
            if isinstance(entry, dict)
        ]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


class BackendAPIError(ClerkAuthdError):
    """A Backend API call did not give a usable answer; the base the verifier and users catch.

    ``status`` is ``None`` when Clerk could not be reached at all (connection error, timeout); ``errors``
    is Clerk's ``errors[]`` when the body had one. Raised as itself for a 2xx that is not the JSON the call
    expects, and for an id refused before anything is sent.
    """

    def __init__(self, message: str, *, status: int | None = None, errors: list[ClerkAPIError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors or []

    @property
    def code(self) -> str | None:
        """The first Clerk error code in the body (``clerk_key_invalid``, ...), if any."""
        return next((error.code for error in self.errors if error.code), None)

    @property
    def first_message(self) -> str | None:
        """``errors[0].message`` when it is non-empty: what Clerk's SDK shows of a failed call."""
        return self.errors[0].message or None if self.errors else None


class ClerkAPIResponseError(BackendAPIError):
    """Clerk answered with a non-2xx status: ``@clerk/backend``'s ``ClerkAPIResponseError``.

    ``clerk_trace_id`` is the body's ``clerk_trace_id`` or else the ``CF-Ray`` header (what Clerk support
    asks for); ``retry_after`` is the ``Retry-After`` header in seconds, when it had one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        errors: list[ClerkAPIError],
        clerk_trace_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, errors=errors)
        self.status: int = status
        self.clerk_trace_id = clerk_trace_id
        self.retry_after = retry_after


class ClerkTransportError(BackendAPIError):
    """Clerk was not reached or did not answer in time; ``status`` is always ``None``."""


class AuthenticateRequestError(ClerkAuthdError):
    """Clerk throws instead of answering: missing keys, a bad satellite setup, a failed dev handshake."""


class HandshakeError(ClerkAuthdError):
    """A handshake could not be completed for a reason other than a handshake-token check (Clerk's ``Error``).

    Raised by ``handshake.resolve_handshake`` and caught by ``authenticate``, which logs it and carries on down
    the cookie path, as Clerk does with the ``Error`` its ``resolveHandshake`` throws.
    """
