"""Clerk's auth objects: who a request is, as ``getAuth()`` / ``toAuth()`` return it (clerk-semantics §16, §18).

::

    Auth = SignedInAuth       a verified session token (has() works)
         | SignedOutAuth      no usable session (has() is False); session_status 'pending' for pending sessions
         | MachineAuth        an API key, M2M token or OAuth token, authenticated or not (has() is False)
         | InvalidTokenAuth   the token's type is not in an accepted list (tokenType null)

``to_json()`` renders Clerk's object in Clerk's camelCase and key order, without the functions: a field JS leaves
``undefined`` is omitted, a ``null`` one is present. ``identity`` gives the same facts as plain strings (``''``
when absent), in the order of api.md §3's identity headers, so the service renders headers without looking
inside each variant.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from clerk_authd.js.values import json_list, put_defined
from clerk_authd.rules.claims import SessionClaims, parse_session_claims, session_identity
from clerk_authd.rules.has import check_authorization
from clerk_authd.rules.identity import Identity
from clerk_authd.rules.machine_auth import MachineAuth
from clerk_authd.rules.tokentypes import SESSION_TOKEN, MachineTokenType, is_machine_token_type


@dataclass(frozen=True, slots=True)
class SignedInAuth:
    """Clerk's ``signedInAuthObject`` for a verified session token; ``token`` is the raw token (``getToken()``)."""

    claims: SessionClaims
    token: str = field(repr=False)

    token_type: ClassVar[Literal["session_token"]] = "session_token"
    is_authenticated: ClassVar[Literal[True]] = True

    @property
    def user_id(self) -> str | None:
        """``sub``."""
        return self.claims.user_id

    @property
    def session_id(self) -> str | None:
        """``sid``."""
        return self.claims.session_id

    @property
    def session_status(self) -> str | None:
        """``sts`` (``'active'`` or ``'pending'``) or ``None``."""
        return self.claims.session_status

    @property
    def actor(self) -> dict[str, Any] | None:
        """``act``: who is impersonating the user, if anyone."""
        return self.claims.actor

    @property
    def org_id(self) -> str | None:
        """The active organization's id, if any."""
        return self.claims.org_id

    @property
    def org_role(self) -> str | None:
        """The user's role in the active organization (``org:``-prefixed for v2 tokens)."""
        return self.claims.org_role

    @property
    def org_slug(self) -> str | None:
        """The active organization's slug, if any."""
        return self.claims.org_slug

    @property
    def org_permissions(self) -> tuple[str, ...] | None:
        """``org:<feature>:<permission>`` strings granted in the active organization."""
        return self.claims.org_permissions

    @property
    def factor_verification_age(self) -> object:
        """``fva``: minutes since the first and second factor were verified (``-1``: not enrolled)."""
        return self.claims.factor_verification_age

    @property
    def session_claims(self) -> dict[str, Any]:
        """The verified payload."""
        return self.claims.raw

    @property
    def identity(self) -> Identity:
        """The identity strings of the claims (``session_identity``): every hit of one cached verdict shares them."""
        return session_identity(self.claims)

    def has(self, **params: object) -> bool:
        """Clerk's ``has()`` (clerk-semantics §17): every asked condition must hold; asking nothing is False."""
        return check_authorization(self.claims, params)

    def to_json(self, *, include_claims: bool = True) -> dict[str, Any]:
        """Clerk's object as JSON; ``include_claims`` adds ``sessionClaims`` (the payload)."""
        claims = self.claims
        out: dict[str, Any] = {"tokenType": SESSION_TOKEN}
        put_defined(out, "actor", claims.actor)
        if include_claims:
            out["sessionClaims"] = dict(claims.raw)
        put_defined(out, "sessionId", claims.session_id)
        out["sessionStatus"] = claims.session_status
        put_defined(out, "userId", claims.user_id)
        put_defined(out, "orgId", claims.org_id)
        put_defined(out, "orgRole", claims.org_role)
        put_defined(out, "orgSlug", claims.org_slug)
        put_defined(out, "orgPermissions", json_list(claims.org_permissions))
        out["factorVerificationAge"] = json_list(claims.factor_verification_age)
        out["isAuthenticated"] = True
        return out


@dataclass(frozen=True, slots=True)
class SignedOutAuth:
    """Clerk's ``signedOutAuthObject``: every field null; ``session_status`` is ``'pending'`` for a pending session."""

    session_status: str | None = None

    token_type: ClassVar[Literal["session_token"]] = "session_token"
    is_authenticated: ClassVar[Literal[False]] = False
    user_id: ClassVar[None] = None
    session_id: ClassVar[None] = None
    actor: ClassVar[None] = None
    org_id: ClassVar[None] = None
    org_role: ClassVar[None] = None
    org_slug: ClassVar[None] = None
    org_permissions: ClassVar[None] = None
    factor_verification_age: ClassVar[None] = None
    session_claims: ClassVar[None] = None

    @property
    def identity(self) -> Identity:
        """Only the token type (and a pending status) are known."""
        return Identity(session_status=self.session_status or "", token_type=SESSION_TOKEN)

    def has(self, **params: object) -> bool:
        """Always False: a signed-out request has no role, permission, feature or plan."""
        return False

    def to_json(self, *, include_claims: bool = True) -> dict[str, Any]:
        """Clerk's object as JSON; ``include_claims`` adds ``sessionClaims: null``."""
        out: dict[str, Any] = {"tokenType": SESSION_TOKEN}
        if include_claims:
            out["sessionClaims"] = None
        out.update(
            sessionId=None,
            sessionStatus=self.session_status,
            userId=None,
            actor=None,
            orgId=None,
            orgRole=None,
            orgSlug=None,
            orgPermissions=None,
            factorVerificationAge=None,
            isAuthenticated=False,
        )
        return out


@dataclass(frozen=True, slots=True)
class InvalidTokenAuth:
    """Clerk's ``invalidTokenAuthObject``: the token's type was not in the accepted list."""

    token_type: ClassVar[None] = None
    is_authenticated: ClassVar[Literal[False]] = False
    user_id: ClassVar[None] = None

    @property
    def identity(self) -> Identity:
        """Nothing is known."""
        return Identity()

    def has(self, **params: object) -> bool:
        """Always False."""
        return False

    def to_json(self, *, include_claims: bool = True) -> dict[str, Any]:
        """``{"isAuthenticated": false, "tokenType": null}``."""
        return {"isAuthenticated": False, "tokenType": None}


Auth = SignedInAuth | SignedOutAuth | MachineAuth | InvalidTokenAuth


def signed_in_auth(payload: dict[str, Any], token: str) -> SignedInAuth:
    """The signed-in object of a verified session token; raises ``TokenVerificationError`` where JS throws."""
    return SignedInAuth(parse_session_claims(payload), token)


def signed_out_auth(session_status: str | None = None) -> SignedOutAuth:
    """Clerk's ``signedOutAuthObject(debug, initialSessionStatus)``."""
    return SignedOutAuth(session_status)


def unauthenticated_machine_auth(token_type: MachineTokenType) -> MachineAuth:
    """Clerk's ``unauthenticatedMachineObject(tokenType)``: the variant's keys, all null."""
    return MachineAuth(token_type, is_authenticated=False)


def pending_as_signed_out(auth: Auth) -> Auth:
    """``treatPendingAsSignedOut``: a signed-in auth of a pending session (``sts: 'pending'``) is signed out."""
    if isinstance(auth, SignedInAuth) and auth.session_status == "pending":
        return SignedOutAuth("pending")
    return auth


def auth_for_accepted_token(auth: Auth, accepts_token: str | Collection[str] = SESSION_TOKEN) -> Auth:
    """Clerk's ``getAuthObjectForAcceptedToken``: the object if its type is accepted, else the right null object.

    ``'any'`` returns ``auth``; a collection (JS's array) gives ``InvalidTokenAuth`` on a mismatch; a single
    type gives an unauthenticated machine object of that type, or a signed-out session object.
    """
    if isinstance(accepts_token, str):
        if accepts_token in ("any", auth.token_type):
            return auth
        if is_machine_token_type(accepts_token):
            return unauthenticated_machine_auth(accepts_token)
        return SignedOutAuth()
    if auth.token_type is not None and auth.token_type in accepts_token:
        return auth
    return InvalidTokenAuth()
