"""Clerk's authenticated machine objects (``authObjects.ts`` ``authenticatedMachineObject``), built from a
Backend API answer (opaque tokens) or a verified JWT payload (M2M and OAuth JWTs), refusing malformed members as
Clerk's ``fromJSON`` / ``fromJwtPayload`` would fail to build them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from clerk_authd.errors import MachineTokenVerificationError
from clerk_authd.reasons import MachineCode
from clerk_authd.rules.auth import MachineAuth
from clerk_authd.rules.tokentypes import MachineTokenType

#: claims ``M2MToken.fromJwtPayload`` maps onto fields, so they are not custom claims
M2M_RESERVED_CLAIMS: Final = frozenset({"iss", "sub", "exp", "nbf", "iat", "jti"})
MSG_UNEXPECTED: Final = "Unexpected error"


class MachineTokenRejectedError(MachineTokenVerificationError):
    """A machine token failed verification; ``token_type`` is the type Clerk's signed-out state reports."""

    def __init__(self, token_type: MachineTokenType, code: str, message: str, status: int | None = None) -> None:
        super().__init__(code, message, status)
        self.token_type: MachineTokenType = token_type


def api_key_from_json(answer: Mapping[str, Any], token: str) -> MachineAuth:
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


def m2m_from_json(answer: Mapping[str, Any], token: str) -> MachineAuth:
    """``M2MToken.fromJSON``: id, subject (the machine), scopes and claims."""
    return MachineAuth(
        "m2m_token",
        id=_string(answer, "id", "m2m_token"),
        subject=_subject(answer, "m2m_token"),
        scopes=_scopes(answer.get("scopes"), "m2m_token"),
        claims=_optional(answer, "claims", dict, "m2m_token"),
        token=token,
    )


def oauth_from_json(answer: Mapping[str, Any], token: str) -> MachineAuth:
    """``IdPOAuthAccessToken.fromJSON``: id, subject (the user), scopes and the OAuth client's id."""
    return MachineAuth(
        "oauth_token",
        id=_string(answer, "id", "oauth_token"),
        subject=_subject(answer, "oauth_token"),
        scopes=_scopes(answer.get("scopes"), "oauth_token"),
        client_id=_string(answer, "client_id", "oauth_token"),
        token=token,
    )


def m2m_from_payload(payload: Mapping[str, Any], token: str) -> MachineAuth:
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


def oauth_from_payload(payload: Mapping[str, Any], token: str) -> MachineAuth:
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
