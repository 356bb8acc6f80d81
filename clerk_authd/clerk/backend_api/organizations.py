"""``client.organizations``: Clerk's ``OrganizationAPI`` (``/v1/organizations``), memberships included.

As with users, ``update_organization`` leaves metadata to ``update_organization_metadata`` (Clerk deprecated
sending both in one call). Ids and slugs both go into paths, so both pass ``subapi.ident``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Required, TypedDict, Unpack

from clerk_authd.clerk.backend_api.resource import DeletedObject, PaginatedResourceResponse, Resource
from clerk_authd.clerk.backend_api.subapi import SubAPI, ident, iterate_pages


@dataclass(frozen=True, slots=True, kw_only=True)
class Organization(Resource):
    """Clerk's ``Organization``; ``members_count`` only when asked for (``include_members_count``)."""

    id: str = ""
    object: str = "organization"
    name: str = ""
    slug: str = ""
    image_url: str | None = None
    has_image: bool = False
    members_count: int | None = None
    pending_invitations_count: int | None = None
    max_allowed_memberships: int = 0
    admin_delete_enabled: bool = False
    public_metadata: dict[str, Any] | None = field(default_factory=dict)
    private_metadata: dict[str, Any] | None = field(default_factory=dict)
    created_by: str | None = None
    created_at: int = 0
    updated_at: int = 0
    last_active_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrganizationMembershipPublicUserData(Resource):
    """The member as other members may see them."""

    user_id: str = ""
    identifier: str = ""
    first_name: str | None = None
    last_name: str | None = None
    image_url: str = ""
    has_image: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OrganizationMembership(Resource):
    """Clerk's ``OrganizationMembership``: a user's role and permissions in one organization."""

    id: str = ""
    object: str = "organization_membership"
    role: str = ""
    permissions: tuple[str, ...] = ()
    public_metadata: dict[str, Any] = field(default_factory=dict)
    private_metadata: dict[str, Any] | None = None
    created_at: int = 0
    updated_at: int = 0
    organization: Organization | None = None
    public_user_data: OrganizationMembershipPublicUserData | None = None
    nested: ClassVar[dict[str, type[Resource]]] = {
        "organization": Organization,
        "public_user_data": OrganizationMembershipPublicUserData,
    }


class GetOrganizationListParams(TypedDict, total=False):
    """Clerk's ``GetOrganizationListParams``."""

    include_members_count: bool
    query: str
    order_by: str
    organization_id: Sequence[str]
    limit: int
    offset: int


class OrganizationMetadataParams(TypedDict, total=False):
    """Clerk's ``MetadataParams``: each given part is merged into the organization's metadata."""

    public_metadata: dict[str, Any]
    private_metadata: dict[str, Any]


class CreateOrganizationParams(OrganizationMetadataParams, total=False):
    """Clerk's ``CreateParams``."""

    name: Required[str]
    slug: str
    created_by: str
    max_allowed_memberships: int


class UpdateOrganizationParams(TypedDict, total=False):
    """Clerk's ``UpdateParams`` without the deprecated metadata members."""

    name: str
    slug: str
    admin_delete_enabled: bool
    max_allowed_memberships: int


class OrganizationMembershipListParams(TypedDict, total=False):
    """Clerk's ``GetOrganizationMembershipListParams``: the organization, the member filters, the page."""

    organization_id: Required[str]
    order_by: str
    user_id: Sequence[str]
    email_address: Sequence[str]
    phone_number: Sequence[str]
    username: Sequence[str]
    web3_wallet: Sequence[str]
    role: Sequence[str]
    query: str
    email_address_query: str
    phone_number_query: str
    username_query: str
    name_query: str
    last_active_at_before: int
    last_active_at_after: int
    created_at_before: int
    created_at_after: int
    limit: int
    offset: int


class OrganizationsAPI(SubAPI):
    """Clerk's ``OrganizationAPI``."""

    async def get_organization_list(
        self, **params: Unpack[GetOrganizationListParams]
    ) -> PaginatedResourceResponse[Organization]:
        """``GET /organizations``."""
        return await self._page(Organization, "/organizations", params)

    def iter_organization_list(self, **params: Unpack[GetOrganizationListParams]) -> AsyncIterator[Organization]:
        """Every organization ``get_organization_list`` finds, page after page."""
        return iterate_pages(self.get_organization_list, params)

    async def get_organization(
        self, *, organization_id: str | None = None, slug: str | None = None, include_members_count: bool = False
    ) -> Organization:
        """``GET /organizations/{organization_id or slug}``: exactly one of the two, as Clerk's union type."""
        if (organization_id is None) == (slug is None):
            raise TypeError("get_organization takes exactly one of organization_id and slug")
        key = ident(organization_id or slug or "", "organization id or slug")
        query = {"include_members_count": include_members_count}
        return await self._one(Organization, "GET", f"/organizations/{key}", query=query)

    async def create_organization(self, **params: Unpack[CreateOrganizationParams]) -> Organization:
        """``POST /organizations``."""
        return await self._one(Organization, "POST", "/organizations", body=params)

    async def update_organization(
        self, organization_id: str, **params: Unpack[UpdateOrganizationParams]
    ) -> Organization:
        """``PATCH /organizations/{organization_id}``."""
        return await self._one(Organization, "PATCH", _org(organization_id), body=params)

    async def update_organization_metadata(
        self, organization_id: str, **params: Unpack[OrganizationMetadataParams]
    ) -> Organization:
        """``PATCH /organizations/{organization_id}/metadata``: merge, as Clerk does."""
        return await self._one(Organization, "PATCH", f"{_org(organization_id)}/metadata", body=params)

    async def delete_organization(self, organization_id: str) -> DeletedObject:
        """``DELETE /organizations/{organization_id}``."""
        return await self._one(DeletedObject, "DELETE", _org(organization_id))

    async def get_organization_membership_list(
        self, **params: Unpack[OrganizationMembershipListParams]
    ) -> PaginatedResourceResponse[OrganizationMembership]:
        """``GET /organizations/{organization_id}/memberships`` with the member filters."""
        query = {name: value for name, value in params.items() if name != "organization_id"}
        return await self._page(OrganizationMembership, f"{_org(params['organization_id'])}/memberships", query)

    def iter_organization_membership_list(
        self, **params: Unpack[OrganizationMembershipListParams]
    ) -> AsyncIterator[OrganizationMembership]:
        """Every membership ``get_organization_membership_list`` finds, page after page."""
        return iterate_pages(self.get_organization_membership_list, params)

    async def create_organization_membership(
        self, *, organization_id: str, user_id: str, role: str
    ) -> OrganizationMembership:
        """``POST /organizations/{organization_id}/memberships``: add the user with ``role``."""
        body = {"user_id": user_id, "role": role}
        return await self._one(OrganizationMembership, "POST", f"{_org(organization_id)}/memberships", body=body)

    async def update_organization_membership(
        self, *, organization_id: str, user_id: str, role: str
    ) -> OrganizationMembership:
        """``PATCH /organizations/{organization_id}/memberships/{user_id}``: change the member's role."""
        return await self._one(
            OrganizationMembership, "PATCH", _membership(organization_id, user_id), body={"role": role}
        )

    async def delete_organization_membership(self, *, organization_id: str, user_id: str) -> OrganizationMembership:
        """``DELETE /organizations/{organization_id}/memberships/{user_id}``: the membership that was removed."""
        return await self._one(OrganizationMembership, "DELETE", _membership(organization_id, user_id))


def _org(organization_id: str) -> str:
    return f"/organizations/{ident(organization_id, 'organization id')}"


def _membership(organization_id: str, user_id: str) -> str:
    return f"{_org(organization_id)}/memberships/{ident(user_id, 'user id')}"
