"""Clerk's ``verifyMachineAuthToken``: API keys, M2M tokens and OAuth access tokens (clerk-semantics §18).

::

    JWT format? ── decode (failure: token-invalid, typed m2m_token)
    │   ├── sub "mch_…"        → M2M JWT: cat absent or M2M, else token-invalid; then verifyJwt with the
    │   │                         session audience rule; M2MToken.fromJwtPayload
    │   ├── typ at+jwt          → OAuth JWT: verifyJwt with headerType at+jwt, then the OAuth audience rule
    │   └── anything else       → token-verification-failed "Invalid JWT type: …"
    ├── mt_   → POST /m2m_tokens/verify                       ┐
    ├── oat_  → POST /oauth_applications/access_tokens/verify ├ Backend API; 401/404/other → Clerk's codes
    └── ak_   → POST /api_keys/verify                         ┘  (oat_ answers also pass the OAuth audience rule)

Every failure is a ``MachineTokenRejectedError``: Clerk's ``MachineTokenVerificationError`` code and message,
plus the token type Clerk reports it under (for a JWT that can differ from the type its prefix suggested).
Machine JWTs are verified by ``tokens.verify_decoded_jwt`` with no ``authorizedParties`` and no ``issuer``, as
3.25.0 passes only ``audience`` and ``clockSkewInMs`` (§18); M2M JWTs get that audience through the session
rule, while an OAuth JWT is checked by the OAuth rule alone (§22).

Clerk asks the Backend API about an opaque token on every request; we do not, because anyone can send opaque
tokens and each would be a call to Clerk (the service's own rate limit at Clerk is shared with its real
traffic). An opaque token that cannot be one Clerk issued (``limiter.may_be_clerk_value``) is answered as
Clerk's 404 without a call; the others go through the worker's ``CallGuard`` (single flight, token bucket),
and Clerk's answer, found or not found, is reused for ``answer_ttl_s`` (``CLERK_AUTHD_MACHINE_CACHE_S``): a
revoked key keeps working for at most that long. Failures that say nothing about the token (unreachable,
limited, a wrong secret key) are never reused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.cache import VerifiedTokenCache, token_digest
from clerk_authd.clerk.limiter import CallGuard, may_be_clerk_value
from clerk_authd.clerk.tokens import DEFAULT_CLOCK_SKEW_MS, VerifyOptions, verify_decoded_jwt
from clerk_authd.errors import BackendAPIError, TokenVerificationError
from clerk_authd.js.values import UNDEFINED, js_json, js_truthy
from clerk_authd.reasons import MachineCode
from clerk_authd.rules.jwt import DecodedJwt, decode_jwt, looks_like_jwt
from clerk_authd.rules.keys import KeyResolver
from clerk_authd.rules.machine_auth import (
    MSG_UNEXPECTED,
    MachineAuth,
    MachineTokenRejectedError,
    api_key_from_json,
    m2m_from_json,
    m2m_from_payload,
    oauth_from_json,
    oauth_from_payload,
)
from clerk_authd.rules.tokentypes import (
    API_KEY_PREFIX,
    M2M_CATEGORY,
    M2M_SUBJECT_PREFIX,
    M2M_TOKEN_PREFIX,
    OAUTH_JWT_TYPES,
    OAUTH_TOKEN_PREFIX,
    MachineTokenType,
)

#: ``handleClerkAPIError``'s 404 message per token type
NOT_FOUND_MESSAGES: Final[Mapping[MachineTokenType, str]] = {
    "m2m_token": "Machine token not found",
    "oauth_token": "OAuth token not found",
    "api_key": "API key not found",
}
MSG_INVALID_M2M_CATEGORY: Final = "Invalid M2M JWT category."
MSG_INVALID_SECRET_KEY: Final = "Invalid secret key"


#: the Backend API's status for a token it does not know
STATUS_NOT_FOUND: Final = 404


class NotFound:
    """Clerk's 404 for an opaque token, as the answer cache keeps it (without the token)."""

    __slots__ = ()


NOT_FOUND: Final = NotFound()


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    """Clerk's JSON for a token it knows, or its 404, as the answer cache keeps it until ``expires_at``."""

    answer: dict[str, Any] | NotFound
    expires_at: float
    #: an answer of the Backend API rests on no signing key
    key_kid: None = None


#: Clerk's answers, keyed by the token's digest
MachineAnswers = VerifiedTokenCache[KeptAnswer]


@dataclass(frozen=True, slots=True)
class MachineVerifier:
    """Verifies machine tokens with one Backend API client, key resolver and set of options.

    ``client`` verifies opaque tokens (without one they fail as Clerk's calls fail without a secret key:
    ``unexpected-error``); ``keys`` resolves the signing keys of machine JWTs. ``audience`` is Clerk's
    ``audience`` option; ``clock`` (seconds) and ``clock_skew_ms`` drive the JWT time checks. ``guard`` bounds
    the Backend API calls; ``answers`` (``None``: off) keeps Clerk's answers for ``answer_ttl_s`` seconds.
    """

    client: ClerkClient | None
    keys: KeyResolver | None
    audience: tuple[str, ...] = ()
    clock_skew_ms: float = DEFAULT_CLOCK_SKEW_MS
    clock: Callable[[], float] = time.time
    guard: CallGuard = field(default_factory=CallGuard)
    answers: MachineAnswers | None = None
    answer_ttl_s: float = 10.0

    async def verify(self, token: str) -> MachineAuth:
        """The authenticated machine object for ``token``, or ``MachineTokenRejectedError`` with Clerk's code.

        ``token`` must be a machine token (``tokentypes.is_machine_token``); anything else raises
        ``ValueError('Unknown machine token type')`` as Clerk throws.
        """
        if looks_like_jwt(token):
            return await self._verify_jwt(token)
        if token.startswith(M2M_TOKEN_PREFIX):
            return m2m_from_json(await self._call_api("m2m_token", token), token)
        if token.startswith(OAUTH_TOKEN_PREFIX):
            answer = await self._call_api("oauth_token", token)
            _check_oauth_audience(answer.get("aud", UNDEFINED), self.audience)
            return oauth_from_json(answer, token)
        if token.startswith(API_KEY_PREFIX):
            return api_key_from_json(await self._call_api("api_key", token), token)
        raise ValueError("Unknown machine token type")

    # --- opaque tokens --------------------------------------------------------------------------------

    async def _call_api(self, token_type: MachineTokenType, token: str) -> dict[str, Any]:
        """The Backend API's answer for ``token`` (reused while fresh); its failures mapped as Clerk's
        ``handleClerkAPIError``, a token of impossible form answered as Clerk's 404 without asking."""
        if self.client is None:
            raise MachineTokenRejectedError(token_type, MachineCode.UNEXPECTED_ERROR, MSG_UNEXPECTED)
        if not may_be_clerk_value(token):
            raise _api_failure(token_type, BackendAPIError("not a Clerk token", status=STATUS_NOT_FOUND))
        now = self.clock()
        kept = self.answers.get(token, now) if self.answers is not None else None
        known = kept.answer if kept is not None else None
        if isinstance(known, NotFound):
            raise _api_failure(token_type, BackendAPIError("not found (cached)", status=STATUS_NOT_FOUND))
        if known is not None:
            return known
        verify = {
            "m2m_token": self.client.verify_m2m_token,
            "oauth_token": self.client.verify_oauth_token,
            "api_key": self.client.verify_api_key,
        }[token_type]
        try:
            answer = await self.guard.call(token_type, token_digest(token), lambda: verify(token))
        except BackendAPIError as error:
            if error.status == STATUS_NOT_FOUND:
                self._remember(token, NOT_FOUND, now)
            raise _api_failure(token_type, error) from error
        self._remember(token, answer, now)
        return answer

    def _remember(self, token: str, answer: dict[str, Any] | NotFound, now: float) -> None:
        if self.answers is not None:
            self.answers.put(token, KeptAnswer(answer, expires_at=now + self.answer_ttl_s), now=now)

    # --- JWTs -----------------------------------------------------------------------------------------

    async def _verify_jwt(self, token: str) -> MachineAuth:
        try:
            decoded = decode_jwt(token)
        except TokenVerificationError as error:
            raise MachineTokenRejectedError("m2m_token", MachineCode.TOKEN_INVALID, error.message) from error
        subject = decoded.payload.get("sub")
        if isinstance(subject, str) and subject.startswith(M2M_SUBJECT_PREFIX):
            if "cat" in decoded.header and decoded.header["cat"] != M2M_CATEGORY:
                raise MachineTokenRejectedError("m2m_token", MachineCode.TOKEN_INVALID, MSG_INVALID_M2M_CATEGORY)
            payload = await self._verified_payload("m2m_token", decoded, header_type=None, audience=self.audience)
            return m2m_from_payload(payload, token)
        typ = decoded.header.get("typ")
        if typ in OAUTH_JWT_TYPES:
            payload = await self._verified_payload("oauth_token", decoded, header_type=OAUTH_JWT_TYPES, audience=())
            _check_oauth_audience(payload.get("aud", UNDEFINED), self.audience)
            return oauth_from_payload(payload, token)
        shown = typ if isinstance(typ, str) else "missing" if typ is None else js_json(typ)
        raise MachineTokenRejectedError(
            "oauth_token",
            MachineCode.TOKEN_VERIFICATION_FAILED,
            f"Invalid JWT type: {shown}. Expected one of: {', '.join(OAUTH_JWT_TYPES)} for OAuth, "
            f"or sub starting with '{M2M_SUBJECT_PREFIX}' for M2M",
        )

    async def _verified_payload(
        self,
        token_type: MachineTokenType,
        decoded: DecodedJwt,
        *,
        header_type: tuple[str, ...] | None,
        audience: tuple[str, ...],
    ) -> dict[str, Any]:
        """Clerk's ``resolveKeyAndVerifyJwt``: any failure is ``token-verification-failed`` with its message."""
        options = VerifyOptions(
            keys=self.keys,
            audience=audience,
            clock_skew_ms=self.clock_skew_ms,
            header_type=header_type,
            clock=self.clock,
        )
        try:
            return (await verify_decoded_jwt(decoded, options)).payload
        except TokenVerificationError as error:
            raise MachineTokenRejectedError(token_type, MachineCode.TOKEN_VERIFICATION_FAILED, error.message) from error


def _api_failure(token_type: MachineTokenType, error: BackendAPIError) -> MachineTokenRejectedError:
    """Clerk's ``handleClerkAPIError``: 401 → secret-key-invalid, 404 → token-invalid, else unexpected-error.

    A Backend API that could not be reached has no status, which Clerk's message shows as ``n/a``.
    """
    if error.status == 401:
        message = error.first_message or MSG_INVALID_SECRET_KEY
        return MachineTokenRejectedError(token_type, MachineCode.SECRET_KEY_INVALID, message, 401)
    if error.status == 404:
        return MachineTokenRejectedError(token_type, MachineCode.TOKEN_INVALID, NOT_FOUND_MESSAGES[token_type], 404)
    return MachineTokenRejectedError(token_type, MachineCode.UNEXPECTED_ERROR, MSG_UNEXPECTED, error.status)


def _check_oauth_audience(aud: object, audience: tuple[str, ...]) -> None:
    """Clerk's ``assertOAuthAudienceClaim`` (3.25.0, §22): with an audience configured, ``aud`` must be a
    non-empty string or a non-empty list of non-empty strings, sharing at least one value with it."""
    wanted = [item for item in audience if item]
    if not wanted:
        return
    present = (aud if isinstance(aud, list) else [aud]) if js_truthy(aud) else None
    if not present or not all(isinstance(item, str) and item for item in present):
        raise MachineTokenRejectedError(
            "oauth_token",
            MachineCode.TOKEN_VERIFICATION_FAILED,
            f"Invalid OAuth audience claim (aud) {js_json(aud)}. "
            "Expected a non-empty string or a non-empty array of non-empty strings.",
        )
    if not any(item in wanted for item in present):
        raise MachineTokenRejectedError(
            "oauth_token",
            MachineCode.TOKEN_VERIFICATION_FAILED,
            f"OAuth audience mismatch. Verification expected audience {js_json(wanted)}, "
            f"but incoming token has aud {js_json(aud)}.",
        )
