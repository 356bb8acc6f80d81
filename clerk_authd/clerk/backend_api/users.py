"""``client.users``: Clerk's ``UserAPI`` (``/v1/users``) and the ``User`` resource with its identifiers.

``update_user`` takes no metadata: Clerk deprecated that path (it turns one call into a PATCH and a PUT);
``update_user_metadata`` merges metadata as Clerk's does. ``get_user_list`` is Clerk's two calls at once,
``GET /users`` for the page and ``GET /users/count`` for ``total_count``, because ``/users`` answers a bare array.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Required, TypedDict, Unpack

from clerk_authd.clerk.backend_api.organizations import OrganizationMembership
from clerk_authd.clerk.backend_api.resource import DeletedObject, PaginatedResourceResponse, Resource
from clerk_authd.clerk.backend_api.subapi import SubAPI, ident, iterate_pages
from clerk_authd.errors import BackendAPIError


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification(Resource):
    """How an identifier was verified."""

    status: str = ""
    strategy: str = ""
    attempts: int | None = None
    expire_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailAddress(Resource):
    """One of a user's email addresses."""

    id: str = ""
    object: str = "email_address"
    email_address: str = ""
    verification: Verification | None = None
    linked_to: tuple[dict[str, Any], ...] = ()
    nested: ClassVar[dict[str, type[Resource]]] = {"verification": Verification}


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneNumber(Resource):
    """One of a user's phone numbers."""

    id: str = ""
    object: str = "phone_number"
    phone_number: str = ""
    reserved_for_second_factor: bool = False
    default_second_factor: bool = False
    reserved: bool = False
    verification: Verification | None = None
    linked_to: tuple[dict[str, Any], ...] = ()
    backup_codes: tuple[str, ...] | None = None
    nested: ClassVar[dict[str, type[Resource]]] = {"verification": Verification}


@dataclass(frozen=True, slots=True, kw_only=True)
class Web3Wallet(Resource):
    """One of a user's Web3 wallets."""

    id: str = ""
    object: str = "web3_wallet"
    web3_wallet: str = ""
    verification: Verification | None = None
    nested: ClassVar[dict[str, type[Resource]]] = {"verification": Verification}


@dataclass(frozen=True, slots=True, kw_only=True)
class User(Resource):
    """Clerk's ``User``; timestamps are milliseconds since the epoch, as Clerk sends them."""

    id: str = ""
    object: str = "user"
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image_url: str = ""
    has_image: bool = False
    primary_email_address_id: str | None = None
    primary_phone_number_id: str | None = None
    primary_web3_wallet_id: str | None = None
    password_enabled: bool = False
    two_factor_enabled: bool = False
    totp_enabled: bool = False
    backup_code_enabled: bool = False
    email_addresses: tuple[EmailAddress, ...] = ()
    phone_numbers: tuple[PhoneNumber, ...] = ()
    web3_wallets: tuple[Web3Wallet, ...] = ()
    organization_memberships: tuple[OrganizationMembership, ...] | None = None
    external_accounts: tuple[dict[str, Any], ...] = ()
    public_metadata: dict[str, Any] = field(default_factory=dict)
    private_metadata: dict[str, Any] = field(default_factory=dict)
    unsafe_metadata: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None
    last_sign_in_at: int | None = None
    banned: bool = False
    locked: bool = False
    lockout_expires_in_seconds: int | None = None
    verification_attempts_remaining: int | None = None
    created_at: int = 0
    updated_at: int = 0
    last_active_at: int | None = None
    password_last_updated_at: int | None = None
    create_organization_enabled: bool = False
    create_organizations_limit: int | None = None
    delete_self_enabled: bool = False
    legal_accepted_at: int | None = None
    locale: str | None = None
    nested: ClassVar[dict[str, type[Resource]]] = {
        "email_addresses": EmailAddress,
        "phone_numbers": PhoneNumber,
        "web3_wallets": Web3Wallet,
        "organization_memberships": OrganizationMembership,
    }

    @property
    def primary_email_address(self) -> EmailAddress | None:
        """The email address ``primary_email_address_id`` names, as Clerk's ``User.primaryEmailAddress``."""
        return next((e for e in self.email_addresses if e.id == self.primary_email_address_id), None)


class UserCountParams(TypedDict, total=False):
    """Clerk's ``UserCountParams``: the filters of ``get_count`` (and of ``get_user_list``)."""

    email_address: Sequence[str]
    phone_number: Sequence[str]
    username: Sequence[str]
    web3_wallet: Sequence[str]
    query: str
    user_id: Sequence[str]
    external_id: Sequence[str]


class UserListParams(UserCountParams, total=False):
    """Clerk's ``UserListParams``: the count filters, the activity windows (ms since the epoch), the page."""

    organization_id: Sequence[str]
    order_by: str
    last_active_at_since: int
    last_active_at_before: int
    last_active_at_after: int
    created_at_before: int
    created_at_after: int
    last_sign_in_at_before: int
    last_sign_in_at_after: int
    limit: int
    offset: int


class UserMetadataParams(TypedDict, total=False):
    """Clerk's ``UserMetadataParams``: each given part is merged into the user's metadata."""

    public_metadata: dict[str, Any]
    private_metadata: dict[str, Any]
    unsafe_metadata: dict[str, Any]


class _UserFields(TypedDict, total=False):
    external_id: str
    username: str
    password: str
    first_name: str
    last_name: str
    locale: str
    skip_password_checks: bool
    skip_legal_checks: bool
    legal_accepted_at: str
    totp_secret: str
    backup_codes: Sequence[str]
    created_at: str
    password_digest: str
    password_hasher: str


class CreateUserParams(_UserFields, UserMetadataParams, total=False):
    """Clerk's ``CreateUserParams`` (dates as ISO 8601 strings)."""

    email_address: Sequence[str]
    email_address_identification_status: Sequence[Literal["verified", "reserved"]]
    phone_number: Sequence[str]
    phone_number_identification_status: Sequence[Literal["verified", "reserved"]]
    skip_password_requirement: bool
    banned: bool
    locked: bool


class UpdateUserParams(_UserFields, total=False):
    """Clerk's ``UpdateUserParams`` without the deprecated metadata members."""

    sign_out_of_other_sessions: bool
    primary_email_address_id: str
    notify_primary_email_address_changed: bool
    primary_phone_number_id: str
    primary_web3_wallet_id: str
    profile_image_id: str
    delete_self_enabled: bool
    create_organization_enabled: bool
    create_organizations_limit: int


class UserMembershipListParams(TypedDict, total=False):
    """Clerk's ``GetOrganizationMembershipListParams`` of ``UserAPI``: the user and the page."""

    user_id: Required[str]
    limit: int
    offset: int


_COUNT_FILTERS = frozenset(UserCountParams.__annotations__)


class UsersAPI(SubAPI):
    """Clerk's ``UserAPI``."""

    async def get_user_list(self, **params: Unpack[UserListParams]) -> PaginatedResourceResponse[User]:
        """``GET /users`` with the filters and ``GET /users/count`` with the count filters, concurrently; the
        first failure is raised as itself, as Clerk's ``Promise.all`` rejects with it."""
        count_query = {name: value for name, value in params.items() if name in _COUNT_FILTERS}
        page = asyncio.ensure_future(self._transport.send("GET", "/users", query=params))
        count = asyncio.ensure_future(self._count(count_query))
        try:
            await asyncio.gather(page, count)
        except BaseException:
            page.cancel()  # the first failure is the call's; the other call's answer is no longer wanted
            count.cancel()
            raise
        listed = PaginatedResourceResponse.from_json(User, page.result())
        return PaginatedResourceResponse(listed.data, count.result())

    def iter_user_list(self, **params: Unpack[UserListParams]) -> AsyncIterator[User]:
        """Every user ``get_user_list`` finds, page after page."""
        return iterate_pages(self.get_user_list, params)

    async def get_count(self, **params: Unpack[UserCountParams]) -> int:
        """``GET /users/count``: how many users match the filters."""
        return await self._count(params)

    async def get_user(self, user_id: str) -> User:
        """``GET /users/{user_id}``."""
        return await self._one(User, "GET", f"/users/{ident(user_id, 'user id')}")

    async def create_user(self, **params: Unpack[CreateUserParams]) -> User:
        """``POST /users``."""
        return await self._one(User, "POST", "/users", body=params)

    async def update_user(self, user_id: str, **params: Unpack[UpdateUserParams]) -> User:
        """``PATCH /users/{user_id}``."""
        return await self._one(User, "PATCH", f"/users/{ident(user_id, 'user id')}", body=params)

    async def update_user_metadata(self, user_id: str, **params: Unpack[UserMetadataParams]) -> User:
        """``PATCH /users/{user_id}/metadata``: merge, as Clerk does (a ``None`` member deletes a key)."""
        return await self._one(User, "PATCH", f"/users/{ident(user_id, 'user id')}/metadata", body=params)

    async def delete_user(self, user_id: str) -> DeletedObject:
        """``DELETE /users/{user_id}``."""
        return await self._one(DeletedObject, "DELETE", f"/users/{ident(user_id, 'user id')}")

    async def ban_user(self, user_id: str) -> User:
        """``POST /users/{user_id}/ban``: sign the user out everywhere and refuse new sign-ins."""
        return await self._action(user_id, "ban")

    async def unban_user(self, user_id: str) -> User:
        """``POST /users/{user_id}/unban``."""
        return await self._action(user_id, "unban")

    async def lock_user(self, user_id: str) -> User:
        """``POST /users/{user_id}/lock``: as too many failed sign-ins would."""
        return await self._action(user_id, "lock")

    async def unlock_user(self, user_id: str) -> User:
        """``POST /users/{user_id}/unlock``."""
        return await self._action(user_id, "unlock")

    async def get_organization_membership_list(
        self, **params: Unpack[UserMembershipListParams]
    ) -> PaginatedResourceResponse[OrganizationMembership]:
        """``GET /users/{user_id}/organization_memberships``: the organizations the user belongs to."""
        path = f"/users/{ident(params['user_id'], 'user id')}/organization_memberships"
        return await self._page(
            OrganizationMembership, path, {"limit": params.get("limit"), "offset": params.get("offset")}
        )

    def iter_organization_membership_list(
        self, **params: Unpack[UserMembershipListParams]
    ) -> AsyncIterator[OrganizationMembership]:
        """Every membership of the user, page after page."""
        return iterate_pages(self.get_organization_membership_list, params)

    async def _count(self, query: Mapping[str, object]) -> int:
        body = await self._transport.send("GET", "/users/count", query=query)
        total = body.get("total_count") if isinstance(body, dict) else None
        if not isinstance(total, int) or isinstance(total, bool):
            raise BackendAPIError("GET /users/count answered without an integer total_count", status=200)
        return total

    async def _action(self, user_id: str, action: str) -> User:
        return await self._one(User, "POST", f"/users/{ident(user_id, 'user id')}/{action}")
