"""``client.sessions``: Clerk's ``SessionAPI`` (``/v1/sessions``) to list, read and revoke sessions.

Refreshing a session is the verifier's call (``ClerkClient.refresh_session``, cookie format only), not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypedDict, Unpack

from clerk_authd.clerk.backend_api.resource import PaginatedResourceResponse, Resource
from clerk_authd.clerk.backend_api.subapi import SubAPI, ident, iterate_pages

SessionStatus = Literal["abandoned", "active", "ended", "expired", "removed", "replaced", "revoked", "pending"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionActivity(Resource):
    """Where and on what the session was last active."""

    id: str = ""
    device_type: str | None = None
    is_mobile: bool = False
    browser_name: str | None = None
    browser_version: str | None = None
    ip_address: str | None = None
    city: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Session(Resource):
    """Clerk's ``Session``; timestamps are milliseconds since the epoch."""

    id: str = ""
    object: str = "session"
    client_id: str = ""
    user_id: str = ""
    status: str = ""
    last_active_organization_id: str | None = None
    actor: dict[str, Any] | None = None
    latest_activity: SessionActivity | None = None
    last_active_at: int = 0
    expire_at: int = 0
    abandon_at: int = 0
    created_at: int = 0
    updated_at: int = 0
    nested: ClassVar[dict[str, type[Resource]]] = {"latest_activity": SessionActivity}


class SessionListParams(TypedDict, total=False):
    """Clerk's ``SessionListParams``."""

    client_id: str
    user_id: str
    status: SessionStatus
    limit: int
    offset: int


class SessionsAPI(SubAPI):
    """Clerk's ``SessionAPI``."""

    async def get_session_list(self, **params: Unpack[SessionListParams]) -> PaginatedResourceResponse[Session]:
        """``GET /sessions?paginated=true``: Clerk asks for the paginated shape, to get ``total_count``."""
        return await self._page(Session, "/sessions", {**params, "paginated": True})

    def iter_session_list(self, **params: Unpack[SessionListParams]) -> AsyncIterator[Session]:
        """Every session ``get_session_list`` finds, page after page."""
        return iterate_pages(self.get_session_list, params)

    async def get_session(self, session_id: str) -> Session:
        """``GET /sessions/{session_id}``."""
        return await self._one(Session, "GET", f"/sessions/{ident(session_id, 'session id')}")

    async def revoke_session(self, session_id: str) -> Session:
        """``POST /sessions/{session_id}/revoke``: the session ends now, on every device that holds it."""
        return await self._one(Session, "POST", f"/sessions/{ident(session_id, 'session id')}/revoke")
