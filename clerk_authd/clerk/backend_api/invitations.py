"""``client.invitations``: Clerk's ``InvitationAPI`` (``/v1/invitations``), invitations to the application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Required, TypedDict, Unpack

from clerk_authd.clerk.backend_api.resource import PaginatedResourceResponse, Resource
from clerk_authd.clerk.backend_api.subapi import SubAPI, ident, iterate_pages

InvitationStatus = Literal["pending", "accepted", "revoked", "expired"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Invitation(Resource):
    """Clerk's ``Invitation``."""

    id: str = ""
    object: str = "invitation"
    email_address: str = ""
    public_metadata: dict[str, Any] | None = field(default_factory=dict)
    revoked: bool | None = None
    status: str = ""
    url: str | None = None
    expires_at: int | None = None
    created_at: int = 0
    updated_at: int = 0


class GetInvitationListParams(TypedDict, total=False):
    """Clerk's ``GetInvitationListParams``."""

    order_by: str
    status: InvitationStatus
    query: str
    limit: int
    offset: int


class CreateInvitationParams(TypedDict, total=False):
    """Clerk's ``CreateParams`` of ``InvitationAPI``."""

    email_address: Required[str]
    expires_in_days: int
    ignore_existing: bool
    notify: bool
    public_metadata: dict[str, Any]
    redirect_url: str
    template_slug: Literal["invitation", "waitlist_invitation"]


class InvitationsAPI(SubAPI):
    """Clerk's ``InvitationAPI``."""

    async def get_invitation_list(
        self, **params: Unpack[GetInvitationListParams]
    ) -> PaginatedResourceResponse[Invitation]:
        """``GET /invitations?paginated=true``."""
        return await self._page(Invitation, "/invitations", {**params, "paginated": True})

    def iter_invitation_list(self, **params: Unpack[GetInvitationListParams]) -> AsyncIterator[Invitation]:
        """Every invitation ``get_invitation_list`` finds, page after page."""
        return iterate_pages(self.get_invitation_list, params)

    async def create_invitation(self, **params: Unpack[CreateInvitationParams]) -> Invitation:
        """``POST /invitations``: Clerk emails the link unless ``notify=False``."""
        return await self._one(Invitation, "POST", "/invitations", body=params)

    async def revoke_invitation(self, invitation_id: str) -> Invitation:
        """``POST /invitations/{invitation_id}/revoke``: the link stops working."""
        return await self._one(Invitation, "POST", f"/invitations/{ident(invitation_id, 'invitation id')}/revoke")
