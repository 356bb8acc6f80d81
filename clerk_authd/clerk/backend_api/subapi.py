"""What every resource sub-API shares: its transport, the ids it puts in paths, and paging through a list.

A sub-API method is one line naming Clerk's endpoint (method, path, query or body) and the resource it returns;
these helpers do the rest, so the endpoints read like ``@clerk/backend``'s and no two methods repeat a body.
Filters and bodies arrive as ``TypedDict`` keyword arguments (Clerk's parameter names in snake_case), which is
what ``mypy --strict`` checks a caller against, and go out unchanged: Clerk snake-cases its own the same way.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Final
from urllib.parse import quote

from clerk_authd.clerk.backend_api.resource import PaginatedResourceResponse, R
from clerk_authd.clerk.backend_api.transport import Transport
from clerk_authd.errors import BackendAPIError

#: the page size the iterators ask for when the caller names no ``limit`` (Clerk's maximum is 500)
DEFAULT_PAGE_SIZE: Final = 100
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+")


def ident(value: str, what: str = "id") -> str:
    """An id placed in a URL path. Some come from unverified tokens, so only plain ids pass: a ``/`` or ``..``
    would call another endpoint with the secret key (Clerk's ``requireId`` only refuses an empty one)."""
    if not _PLAIN_ID.fullmatch(value):
        raise BackendAPIError(f"refusing to call the Backend API: the {what} is not a Clerk identifier")
    return quote(value, safe="")


class SubAPI:
    """A group of Clerk endpoints (``users``, ``organizations``, ...) over the client's transport."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def _one(
        self,
        resource: type[R],
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = None,
        body: Mapping[str, object] | None = None,
    ) -> R:
        """Call an endpoint answering one resource."""
        return resource.from_json(await self._transport.send(method, path, query=query, body=body))

    async def _page(
        self, resource: type[R], path: str, query: Mapping[str, object] | None = None
    ) -> PaginatedResourceResponse[R]:
        """``GET`` a list endpoint answering one page."""
        return PaginatedResourceResponse.from_json(resource, await self._transport.send("GET", path, query=query))


async def iterate_pages(
    fetch: Callable[..., Awaitable[PaginatedResourceResponse[R]]], params: Mapping[str, Any]
) -> AsyncIterator[R]:
    """Every item of a list, fetching page after page with ``fetch(**params, limit=, offset=)``.

    Starts at the caller's ``offset`` and asks for ``limit`` items a page (``DEFAULT_PAGE_SIZE`` without one);
    stops at ``total_count`` or at the first empty page, so a list that shrinks while it is read still ends.
    """
    limit = params.get("limit") or DEFAULT_PAGE_SIZE
    offset = params.get("offset") or 0
    while True:
        page = await fetch(**{**params, "limit": limit, "offset": offset})
        for item in page.data:
            yield item
        offset += len(page.data)
        if not page.data or offset >= page.total_count:
            return
