"""``client.allowlist_identifiers`` and ``client.blocklist_identifiers``: who may, or may not, sign up.

Clerk's two APIs are the same three endpoints under two paths (only the allowlist asks for ``paginated=true``
and takes ``notify``), so one generic class carries them and each list keeps Clerk's method names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import ClassVar, Generic, TypedDict, TypeVar, Unpack

from clerk_authd.clerk.backend_api.resource import DeletedObject, PaginatedResourceResponse, Resource
from clerk_authd.clerk.backend_api.subapi import SubAPI, ident, iterate_pages


@dataclass(frozen=True, slots=True, kw_only=True)
class AllowlistIdentifier(Resource):
    """An email address, phone number, domain or Web3 wallet allowed to sign up."""

    id: str = ""
    object: str = "allowlist_identifier"
    identifier: str = ""
    identifier_type: str = ""
    instance_id: str | None = None
    invitation_id: str | None = None
    created_at: int = 0
    updated_at: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class BlocklistIdentifier(Resource):
    """An email address, phone number, domain or Web3 wallet refused at sign-up."""

    id: str = ""
    object: str = "blocklist_identifier"
    identifier: str = ""
    identifier_type: str = ""
    instance_id: str | None = None
    created_at: int = 0
    updated_at: int = 0


class PageParams(TypedDict, total=False):
    """Clerk's ``ClerkPaginationRequest``."""

    limit: int
    offset: int


Identifier = TypeVar("Identifier", AllowlistIdentifier, BlocklistIdentifier)


class _IdentifierList(SubAPI, Generic[Identifier]):
    """The three endpoints under ``path``; ``paginated`` adds Clerk's ``paginated=true`` to the list query."""

    path: ClassVar[str]
    resource: type[Identifier]
    paginated: ClassVar[bool]

    async def _list(self, params: PageParams) -> PaginatedResourceResponse[Identifier]:
        return await self._page(self.resource, self.path, {**params, "paginated": self.paginated})

    async def _create(self, body: dict[str, object]) -> Identifier:
        return await self._one(self.resource, "POST", self.path, body=body)

    async def _delete(self, identifier_id: str) -> DeletedObject:
        return await self._one(DeletedObject, "DELETE", f"{self.path}/{ident(identifier_id, 'identifier id')}")


class AllowlistIdentifiersAPI(_IdentifierList[AllowlistIdentifier]):
    """Clerk's ``AllowlistIdentifierAPI``."""

    path = "/allowlist_identifiers"
    resource = AllowlistIdentifier
    paginated = True

    async def get_allowlist_identifier_list(
        self, **params: Unpack[PageParams]
    ) -> PaginatedResourceResponse[AllowlistIdentifier]:
        """``GET /allowlist_identifiers?paginated=true``."""
        return await self._list(params)

    def iter_allowlist_identifier_list(self, **params: Unpack[PageParams]) -> AsyncIterator[AllowlistIdentifier]:
        """Every allowlist identifier, page after page."""
        return iterate_pages(self.get_allowlist_identifier_list, params)

    async def create_allowlist_identifier(self, *, identifier: str, notify: bool) -> AllowlistIdentifier:
        """``POST /allowlist_identifiers``; ``notify`` emails an invitation to an allowed address."""
        return await self._create({"identifier": identifier, "notify": notify})

    async def delete_allowlist_identifier(self, allowlist_identifier_id: str) -> DeletedObject:
        """``DELETE /allowlist_identifiers/{id}``."""
        return await self._delete(allowlist_identifier_id)


class BlocklistIdentifiersAPI(_IdentifierList[BlocklistIdentifier]):
    """Clerk's ``BlocklistIdentifierAPI``."""

    path = "/blocklist_identifiers"
    resource = BlocklistIdentifier
    paginated = False

    async def get_blocklist_identifier_list(
        self, **params: Unpack[PageParams]
    ) -> PaginatedResourceResponse[BlocklistIdentifier]:
        """``GET /blocklist_identifiers``."""
        return await self._list(params)

    def iter_blocklist_identifier_list(self, **params: Unpack[PageParams]) -> AsyncIterator[BlocklistIdentifier]:
        """Every blocklist identifier, page after page."""
        return iterate_pages(self.get_blocklist_identifier_list, params)

    async def create_blocklist_identifier(self, *, identifier: str) -> BlocklistIdentifier:
        """``POST /blocklist_identifiers``."""
        return await self._create({"identifier": identifier})

    async def delete_blocklist_identifier(self, blocklist_identifier_id: str) -> DeletedObject:
        """``DELETE /blocklist_identifiers/{id}``."""
        return await self._delete(blocklist_identifier_id)
