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
rule, while an OAuth JWT is checked by the OAuth rule alone (§22). Verdicts are not cached: an opaque token can
be revoked at any moment, and Clerk asks the Backend API every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.tokens import DEFAULT_CLOCK_SKEW_MS, VerifyOptions, verify_decoded_jwt
from clerk_authd.errors import BackendAPIError, MachineTokenVerificationError, TokenVerificationError
from clerk_authd.js.values import UNDEFINED, js_json, js_truthy
from clerk_authd.reasons import MachineCode
from clerk_authd.rules.auth import MachineAuth
from clerk_authd.rules.jwt import DecodedJwt, decode_jwt, looks_like_jwt
from clerk_authd.rules.keys import KeyResolver
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
#: the header types of an OAuth access-token JWT, in Clerk's order (``OAUTH_ACCESS_TOKEN_TYPES``)
OAUTH_HEADER_TYPES: Final = ("at+jwt", "application/at+jwt")
#: claims ``M2MToken.fromJwtPayload`` maps onto fields, so they are not custom claims
M2M_RESERVED_CLAIMS: Final = frozenset({"iss", "sub", "exp", "nbf", "iat", "jti"})
MSG_INVALID_M2M_CATEGORY: Final = "Invalid M2M JWT category."
MSG_INVALID_SECRET_KEY: Final = "Invalid secret key"
MSG_UNEXPECTED: Final = "Unexpected error"


class MachineTokenRejectedError(MachineTokenVerificationError):
    """A machine token failed verification; ``token_type`` is the type Clerk's signed-out state reports."""

    def __init__(self, token_type: MachineTokenType, code: str, message: str, status: int | None = None) -> None:
        super().__init__(code, message, status)
        self.token_type: MachineTokenType = token_type


@dataclass(frozen=True, slots=True)
class MachineVerifier:
    """Verifies machine tokens with one Backend API client, key resolver and set of options.

    ``client`` verifies opaque tokens (without one they fail as Clerk's calls fail without a secret key:
    ``unexpected-error``); ``keys`` resolves the signing keys of machine JWTs. ``audience`` is Clerk's
    ``audience`` option; ``clock`` (seconds) and ``clock_skew_ms`` drive the JWT time checks.
    """

    client: ClerkClient | None
    keys: KeyResolver | None
    audience: tuple[str, ...] = ()
    clock_skew_ms: float = DEFAULT_CLOCK_SKEW_MS
    clock: Callable[[], float] = time.time

    async def verify(self, token: str) -> MachineAuth:
        """The authenticated machine object for ``token``, or ``MachineTokenRejectedError`` with Clerk's code.

        ``token`` must be a machine token (``tokentypes.is_machine_token``); anything else raises
        ``ValueError('Unknown machine token type')`` as Clerk throws.
        """
        if looks_like_jwt(token):
            return await self._verify_jwt(token)
        if token.startswith(M2M_TOKEN_PREFIX):
            return _m2m_from_json(await self._call_api("m2m_token", token), token)
        if token.startswith(OAUTH_TOKEN_PREFIX):
            answer = await self._call_api("oauth_token", token)
            _check_oauth_audience(answer.get("aud", UNDEFINED), self.audience)
            return _oauth_from_json(answer, token)
        if token.startswith(API_KEY_PREFIX):
            return _api_key_from_json(await self._call_api("api_key", token), token)
        raise ValueError("Unknown machine token type")

    # --- opaque tokens --------------------------------------------------------------------------------

    async def _call_api(self, token_type: MachineTokenType, token: str) -> dict[str, Any]:
        """The Backend API's answer for ``token``; its failures mapped as Clerk's ``handleClerkAPIError``."""
        if self.client is None:
            raise MachineTokenRejectedError(token_type, MachineCode.UNEXPECTED_ERROR, MSG_UNEXPECTED)
        verify = {
            "m2m_token": self.client.verify_m2m_token,
            "oauth_token": self.client.verify_oauth_token,
            "api_key": self.client.verify_api_key,
        }[token_type]
        try:
            return await verify(token)
        except BackendAPIError as error:
            raise _api_failure(token_type, error) from error

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
            return _m2m_from_payload(payload, token)
        typ = decoded.header.get("typ")
        if typ in OAUTH_JWT_TYPES:
            payload = await self._verified_payload("oauth_token", decoded, header_type=OAUTH_HEADER_TYPES, audience=())
            _check_oauth_audience(payload.get("aud", UNDEFINED), self.audience)
            return _oauth_from_payload(payload, token)
        shown = typ if isinstance(typ, str) else "missing" if typ is None else js_json(typ)
        raise MachineTokenRejectedError(
            "oauth_token",
            MachineCode.TOKEN_VERIFICATION_FAILED,
            f"Invalid JWT type: {shown}. Expected one of: {', '.join(OAUTH_HEADER_TYPES)} for OAuth, "
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


# --- building the auth objects (authObjects.ts ``authenticatedMachineObject``) ------------------------------


def _api_key_from_json(answer: Mapping[str, Any], token: str) -> MachineAuth:
    """``APIKey.fromJSON``: id, subject, scopes, name and claims."""
    return MachineAuth(
        "api_key",
        id=_string(answer, "id", "api_key"),
        subject=_subject(answer, "api_key"),
        scopes=_scopes(answer.get("scopes"), "api_key"),
        name=_optional(answer, "name", str, "api_key"),
        claims=_optional(answer, "claims", dict, "api_key"),
        token=token,
    )


def _m2m_from_json(answer: Mapping[str, Any], token: str) -> MachineAuth:
    """``M2MToken.fromJSON``: id, subject (the machine), scopes and claims."""
    return MachineAuth(
        "m2m_token",
        id=_string(answer, "id", "m2m_token"),
        subject=_subject(answer, "m2m_token"),
        scopes=_scopes(answer.get("scopes"), "m2m_token"),
        claims=_optional(answer, "claims", dict, "m2m_token"),
        token=token,
    )


def _oauth_from_json(answer: Mapping[str, Any], token: str) -> MachineAuth:
    """``IdPOAuthAccessToken.fromJSON``: id, subject (the user), scopes and the OAuth client's id."""
    return MachineAuth(
        "oauth_token",
        id=_string(answer, "id", "oauth_token"),
        subject=_subject(answer, "oauth_token"),
        scopes=_scopes(answer.get("scopes"), "oauth_token"),
        client_id=_string(answer, "client_id", "oauth_token"),
        token=token,
    )


def _m2m_from_payload(payload: Mapping[str, Any], token: str) -> MachineAuth:
    """``M2MToken.fromJwtPayload``: ``jti`` is the id; scopes from ``scopes`` (space-separated), else ``aud``;
    the claims are the payload less the structural ones, or ``None`` when nothing is left.

    Where JS would keep a claim of the wrong type as is (or throw, for a ``scopes`` that is not a string), the
    scopes stay a tuple of strings: only strings are kept.
    """
    scopes = payload.get("scopes")
    aud = payload.get("aud")
    if isinstance(scopes, str):
        scope_list: tuple[str, ...] = tuple(scopes.split(" "))
    elif isinstance(aud, str):
        scope_list = (aud,)
    else:
        scope_list = _string_items(aud)
    claims = {name: value for name, value in payload.items() if name not in M2M_RESERVED_CLAIMS}
    return MachineAuth(
        "m2m_token",
        id=_jwt_string(payload, "jti"),
        subject=payload["sub"],
        scopes=scope_list,
        claims=claims or None,
        token=token,
    )


def _oauth_from_payload(payload: Mapping[str, Any], token: str) -> MachineAuth:
    """``IdPOAuthAccessToken.fromJwtPayload``: ``jti`` is the id; scopes from ``scp``, else ``scope`` split on
    spaces; ``client_id`` names the OAuth application."""
    scp = payload.get("scp")
    scope = payload.get("scope")
    if isinstance(scp, list):
        scopes = _string_items(scp)
    elif isinstance(scope, str):
        scopes = tuple(scope.split(" "))
    else:
        scopes = ()
    return MachineAuth(
        "oauth_token",
        id=_jwt_string(payload, "jti"),
        subject=payload["sub"],
        scopes=scopes,
        client_id=_jwt_string(payload, "client_id"),
        token=token,
    )


def _string_items(value: object) -> tuple[str, ...]:
    """The strings of a claim that should be a list of strings; anything else gives none."""
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def _jwt_string(payload: Mapping[str, Any], name: str) -> str:
    """A string claim, ``''`` when missing or not a string (Clerk's ``payload.<name> ?? ''``)."""
    value = payload.get(name)
    return value if isinstance(value, str) else ""


def _malformed(token_type: MachineTokenType) -> MachineTokenRejectedError:
    """A 200 answer no auth object can be built from: an unexpected error, like an answer that is not JSON."""
    return MachineTokenRejectedError(token_type, MachineCode.UNEXPECTED_ERROR, MSG_UNEXPECTED, 200)


def _string(answer: Mapping[str, Any], member: str, token_type: MachineTokenType) -> str:
    value = answer.get(member)
    if not isinstance(value, str):
        raise _malformed(token_type)
    return value


def _subject(answer: Mapping[str, Any], token_type: MachineTokenType) -> str:
    """The subject every identity decision rests on: a non-empty string, or the answer is unusable."""
    subject = _string(answer, "subject", token_type)
    if not subject:
        raise _malformed(token_type)
    return subject


def _scopes(value: object, token_type: MachineTokenType) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _malformed(token_type)
    return tuple(value)


def _optional(answer: Mapping[str, Any], member: str, kind: type[Any], token_type: MachineTokenType) -> Any:
    """A member that may be ``null`` (or absent), else must be of ``kind``."""
    value = answer.get(member)
    if value is not None and not isinstance(value, kind):
        raise _malformed(token_type)
    return value
