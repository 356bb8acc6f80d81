"""Clerk's machine auth objects (``authObjects.ts`` ``authenticatedMachineObject``) and how they are built from a
Backend API answer (opaque tokens) or a verified JWT payload (M2M and OAuth JWTs), refusing malformed members as
Clerk's ``fromJSON`` / ``fromJwtPayload`` would fail to build them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from clerk_authd.errors import MachineTokenVerificationError
from clerk_authd.js.values import json_list
from clerk_authd.reasons import MachineCode
from clerk_authd.rules.identity import Identity
from clerk_authd.rules.tokentypes import MachineTokenType, is_machine_token_type

#: claims ``M2MToken.fromJwtPayload`` maps onto fields, so they are not custom claims
M2M_RESERVED_CLAIMS: Final = frozenset({"iss", "sub", "exp", "nbf", "iat", "jti"})
MSG_UNEXPECTED: Final = "Unexpected error"


@dataclass(frozen=True, slots=True)
class MachineAuth:
    """Clerk's machine auth object for an API key, M2M token or OAuth token (clerk-semantics §18).

    Authenticated, it carries the verified token's ``id``, ``subject`` and ``scopes``, plus ``name`` and
    ``claims`` (API keys), ``claims`` (M2M tokens) or ``client_id`` (OAuth tokens); ``token`` is the raw token.
    Unauthenticated (``unauthenticated_machine_auth``), every field is ``None``.
    """

    token_type: MachineTokenType
    is_authenticated: bool = True
    id: str | None = None
    subject: str | None = None
    scopes: tuple[str, ...] | None = None
    name: str | None = None
    claims: dict[str, Any] | None = None
    client_id: str | None = None
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not is_machine_token_type(self.token_type):
            raise ValueError(f"not a machine token type: {self.token_type!r}")
        if self.is_authenticated and self.subject is None:
            raise ValueError("an authenticated machine token has a subject")

    @property
    def user_id(self) -> str | None:
        """An API key's subject when it is a user (``user_…``); an OAuth token's subject; else ``None``."""
        if self.subject is None or self.token_type == "m2m_token":
            return None
        if self.token_type == "oauth_token" or self.subject.startswith("user_"):
            return self.subject
        return None

    @property
    def org_id(self) -> str | None:
        """An API key's subject when it is an organization (``org_…``); else ``None``."""
        if self.token_type == "api_key" and self.subject is not None and self.subject.startswith("org_"):
            return self.subject
        return None

    @property
    def machine_id(self) -> str | None:
        """An M2M token's subject; else ``None``."""
        return self.subject if self.token_type == "m2m_token" else None

    @property
    def identity(self) -> Identity:
        """The machine facts as identity strings."""
        return Identity(
            user_id=self.user_id or "",
            org_id=self.org_id or "",
            token_type=self.token_type,
            machine_id=self.machine_id or "",
            client_id=self.client_id or "",
            scopes=",".join(self.scopes or ()),
        )

    def has(self, **params: object) -> bool:
        """Always False: machine tokens carry no roles or permissions for ``has()``."""
        return False

    def to_json(self, *, include_claims: bool = True) -> dict[str, Any]:
        """Clerk's object as JSON, keys in the order JS's object spreads produce (``include_claims`` is moot)."""
        out: dict[str, Any] = {"id": self.id, "subject": self.subject}
        if not self.is_authenticated:
            out["scopes"] = None  # the unauthenticated base object lists scopes before isAuthenticated
        out["isAuthenticated"] = self.is_authenticated
        out["tokenType"] = self.token_type
        scopes = json_list(self.scopes)
        if self.token_type == "api_key":
            out.update(name=self.name, claims=self.claims, scopes=scopes, userId=self.user_id, orgId=self.org_id)
        elif self.token_type == "m2m_token":
            out.update(claims=self.claims, scopes=scopes, machineId=self.machine_id)
        else:
            out.update(scopes=scopes, userId=self.user_id, clientId=self.client_id)
        return out


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
