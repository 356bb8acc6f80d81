"""The resources FakeClerk serves, kept as the JSON Clerk would answer: users, organizations and memberships,
sessions, invitations, allowlist and blocklist identifiers.

Tests seed it directly (``fake.store.add_user(...)``) or through the API; either way an object is built here,
once, in Clerk's shape (``api/resources/JSON.ts``), so every endpoint answers the same object the same way.
Timestamps are milliseconds from FakeClerk's clock, and ids count up per prefix (``user_1``, ``org_2``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

JSON = dict[str, Any]


class StoreError(Exception):
    """A request the store refuses: answered as Clerk's error body with ``status``."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.meta = {"param_name": param} if param else {}


def get_or_404(resources: dict[str, JSON], resource_id: str, what: str) -> JSON:
    """The resource, or Clerk's 404 ``resource_not_found``."""
    resource = resources.get(resource_id)
    if resource is None:
        raise StoreError(404, "resource_not_found", f"{what} not found")
    return resource


def required(body: JSON, member: str) -> Any:
    """``body[member]``, or Clerk's 422 ``form_param_missing`` naming it."""
    if body.get(member) is None:
        raise StoreError(422, "form_param_missing", f"{member} must be included", param=member)
    return body[member]


def merge_metadata(target: JSON, body: JSON, parts: Iterable[str]) -> None:
    """Clerk's metadata merge: members of each given part replace, and a ``null`` member is removed."""
    for part in parts:
        for key, value in (body.get(part) or {}).items():
            if value is None:
                target[part].pop(key, None)
            else:
                target[part][key] = value


class ResourceStore:
    """Every resource by id, in creation order; ``now_ms`` stamps them."""

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self.now_ms = now_ms
        self.users: dict[str, JSON] = {}
        self.organizations: dict[str, JSON] = {}
        self.memberships: dict[str, JSON] = {}
        self.sessions: dict[str, JSON] = {}
        self.invitations: dict[str, JSON] = {}
        self.allowlist: dict[str, JSON] = {}
        self.blocklist: dict[str, JSON] = {}
        self._ids = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def _stamped(self, prefix: str, obj: str, fields: JSON) -> JSON:
        now = self.now_ms()
        return {"id": self.new_id(prefix), "object": obj, **fields, "created_at": now, "updated_at": now}

    def touch(self, resource: JSON) -> JSON:
        resource["updated_at"] = self.now_ms()
        return resource

    def add_user(self, **body: Any) -> JSON:
        """A user as ``POST /v1/users`` creates it from ``body`` (Clerk's ``CreateUserParams``)."""
        emails = [self._identifier("idn", "email_address", value) for value in body.get("email_address") or []]
        phones = [self._identifier("idn", "phone_number", value) for value in body.get("phone_number") or []]
        if any(self.find_user_by_email(e["email_address"]) for e in emails):
            raise StoreError(422, "form_identifier_exists", "That email address is taken.", param="email_address")
        user = self._stamped(
            "user",
            "user",
            {
                "username": body.get("username"),
                "first_name": body.get("first_name"),
                "last_name": body.get("last_name"),
                "image_url": "https://img.clerk.com/fake",
                "has_image": False,
                "primary_email_address_id": emails[0]["id"] if emails else None,
                "primary_phone_number_id": phones[0]["id"] if phones else None,
                "primary_web3_wallet_id": None,
                "password_enabled": bool(body.get("password") or body.get("password_digest")),
                "two_factor_enabled": False,
                "totp_enabled": False,
                "backup_code_enabled": False,
                "email_addresses": emails,
                "phone_numbers": phones,
                "web3_wallets": [],
                "external_accounts": [],
                "enterprise_accounts": [],
                "public_metadata": dict(body.get("public_metadata") or {}),
                "private_metadata": dict(body.get("private_metadata") or {}),
                "unsafe_metadata": dict(body.get("unsafe_metadata") or {}),
                "external_id": body.get("external_id"),
                "last_sign_in_at": None,
                "banned": bool(body.get("banned")),
                "locked": bool(body.get("locked")),
                "lockout_expires_in_seconds": None,
                "verification_attempts_remaining": 100,
                "last_active_at": None,
                "password_last_updated_at": None,
                "create_organization_enabled": True,
                "create_organizations_limit": None,
                "delete_self_enabled": True,
                "legal_accepted_at": None,
                "locale": body.get("locale"),
            },
        )
        self.users[user["id"]] = user
        return user

    def _identifier(self, prefix: str, kind: str, value: str) -> JSON:
        return {
            "id": self.new_id(prefix),
            "object": kind,
            kind: value,
            "verification": {"status": "verified", "strategy": "admin", "attempts": None, "expire_at": None},
            "linked_to": [],
            **(
                {"reserved_for_second_factor": False, "default_second_factor": False, "reserved": False}
                if kind == "phone_number"
                else {}
            ),
        }

    def find_user_by_email(self, email: str) -> JSON | None:
        return next(
            (u for u in self.users.values() if any(e["email_address"] == email for e in u["email_addresses"])), None
        )

    def add_organization(self, **body: Any) -> JSON:
        """An organization as ``POST /v1/organizations`` creates it (``name`` required)."""
        name = required(body, "name")
        slug = body.get("slug") or "-".join(str(name).lower().split())
        if any(org["slug"] == slug for org in self.organizations.values()):
            raise StoreError(422, "form_identifier_exists", "That slug is taken.", param="slug")
        org = self._stamped(
            "org",
            "organization",
            {
                "name": name,
                "slug": slug,
                "image_url": "https://img.clerk.com/fake",
                "has_image": False,
                "max_allowed_memberships": body.get("max_allowed_memberships") or 0,
                "admin_delete_enabled": True,
                "public_metadata": dict(body.get("public_metadata") or {}),
                "private_metadata": dict(body.get("private_metadata") or {}),
                "created_by": body.get("created_by"),
            },
        )
        self.organizations[org["id"]] = org
        return org

    def add_membership(self, organization_id: str, **body: Any) -> JSON:
        """``user_id`` joins the organization with ``role`` (Clerk's ``org:admin``, ``org:member``, ...)."""
        org = get_or_404(self.organizations, organization_id, "organization")
        user = get_or_404(self.users, str(required(body, "user_id")), "user")
        role = str(required(body, "role"))
        if self.membership_of(organization_id, user["id"]) is not None:
            raise StoreError(422, "already_a_member_in_organization", "already a member", param="user_id")
        email = next((e["email_address"] for e in user["email_addresses"]), "")
        membership = self._stamped(
            "orgmem",
            "organization_membership",
            {
                "role": role,
                "permissions": [],
                "public_metadata": {},
                "private_metadata": {},
                "organization": org,
                "public_user_data": {
                    "user_id": user["id"],
                    "identifier": email,
                    "first_name": user["first_name"],
                    "last_name": user["last_name"],
                    "image_url": user["image_url"],
                    "has_image": user["has_image"],
                },
            },
        )
        self.memberships[membership["id"]] = membership
        return membership

    def membership_of(self, organization_id: str, user_id: str) -> JSON | None:
        return next(
            (
                m
                for m in self.memberships.values()
                if m["organization"]["id"] == organization_id and m["public_user_data"]["user_id"] == user_id
            ),
            None,
        )

    def add_session(self, user_id: str, *, client_id: str = "client_fake", status: str = "active") -> JSON:
        """An active session of ``user_id`` (sessions are made by signing in, so only tests add them)."""
        now = self.now_ms()
        session = self._stamped(
            "sess",
            "session",
            {
                "client_id": client_id,
                "user_id": user_id,
                "status": status,
                "last_active_organization_id": None,
                "actor": None,
                "last_active_at": now,
                "expire_at": now + 7 * 86_400_000,
                "abandon_at": now + 30 * 86_400_000,
            },
        )
        self.sessions[session["id"]] = session
        return session

    def add_invitation(self, **body: Any) -> JSON:
        """An invitation as ``POST /v1/invitations`` creates it (``email_address`` required)."""
        email = required(body, "email_address")
        if not body.get("ignore_existing") and any(
            i["email_address"] == email and i["status"] == "pending" for i in self.invitations.values()
        ):
            raise StoreError(422, "duplicate_record", "There are already pending invitations", param="email_address")
        invitation = self._stamped(
            "inv",
            "invitation",
            {
                "email_address": email,
                "public_metadata": dict(body.get("public_metadata") or {}),
                "revoked": False,
                "status": "pending",
                "url": f"https://accounts.fake/sign-up?__clerk_ticket=fake_{len(self.invitations) + 1}",
                "expires_at": self.now_ms() + (body.get("expires_in_days") or 30) * 86_400_000,
            },
        )
        self.invitations[invitation["id"]] = invitation
        return invitation

    def add_identifier(self, listing: dict[str, JSON], prefix: str, obj: str, body: JSON) -> JSON:
        """An allowlist or blocklist entry; Clerk infers ``identifier_type`` from its form."""
        identifier = str(required(body, "identifier"))
        kind = (
            "email_address"
            if "@" in identifier
            else "phone_number"
            if identifier.startswith("+")
            else "web3_wallet"
            if identifier.startswith("0x")
            else "domain"
        )
        entry = self._stamped(
            prefix, obj, {"identifier": identifier, "identifier_type": kind, "instance_id": "ins_fake"}
        )
        listing[entry["id"]] = entry
        return entry
