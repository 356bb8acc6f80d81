"""``client.api_keys``, ``client.m2m_tokens``, ``client.oauth_access_tokens``: verifying opaque machine tokens.

The three are one endpoint shape (clerk-semantics §18): ``POST`` outside ``/v1`` with the token in a member of
its own, answered with the token's resource. A table row per type drives one class. ``verify`` is the typed
call for users; ``verify_json`` is what ``clerk.machine`` reads, the resource JSON as Clerk sent it. A JWT M2M
token is the verifier's business (``clerk.machine``), not this endpoint's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from clerk_authd.clerk.backend_api.resource import Resource
from clerk_authd.clerk.backend_api.subapi import SubAPI
from clerk_authd.clerk.backend_api.transport import Transport
from clerk_authd.errors import BackendAPIError


@dataclass(frozen=True, slots=True, kw_only=True)
class _MachineToken(Resource):
    """What the three token resources share."""

    id: str = ""
    object: str = ""
    subject: str = ""
    scopes: tuple[str, ...] = ()
    revoked: bool = False
    revocation_reason: str | None = None
    expired: bool = False
    expiration: int | None = None
    created_at: int = 0
    updated_at: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class APIKey(_MachineToken):
    """Clerk's ``APIKey`` (``ak_`` secrets)."""

    type: str = "api_key"
    name: str = ""
    claims: dict[str, Any] | None = None
    created_by: str | None = None
    description: str | None = None
    last_used_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class M2MToken(_MachineToken):
    """Clerk's ``M2MToken`` (``mt_`` tokens); ``subject`` is the machine's ``mch_`` id."""

    claims: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IdPOAuthAccessToken(_MachineToken):
    """Clerk's ``IdPOAuthAccessToken`` (``oat_`` tokens Clerk issued as an OAuth identity provider)."""

    type: str = "oauth:access_token"
    client_id: str = ""


T = TypeVar("T", APIKey, M2MToken, IdPOAuthAccessToken)


class MachineTokenAPI(SubAPI, Generic[T]):
    """One machine-token type's verification: its path, body member, resource, and key to authenticate with."""

    def __init__(self, transport: Transport, resource: type[T], path: str, member: str, *, machine: bool) -> None:
        super().__init__(transport)
        self._resource: type[T] = resource
        self._path = path
        self._member = member
        self._machine = machine

    async def verify(self, token: str) -> T:
        """The verified token's resource; an unknown, revoked or expired token is Clerk's 4xx."""
        return self._resource.from_json(await self.verify_json(token))

    async def verify_json(self, token: str) -> dict[str, Any]:
        """``POST {path}`` with ``{member: token}``: the resource JSON as Clerk sent it."""
        body = {self._member: token}
        answer = await self._transport.send("POST", self._path, body=body, versioned=False, machine=self._machine)
        if not isinstance(answer, dict):
            url = self._transport.url_for(self._path, versioned=False)
            raise BackendAPIError(f"{url} answered with JSON that is not an object", status=200)
        return answer


def api_keys(transport: Transport) -> MachineTokenAPI[APIKey]:
    """Clerk's ``APIKeysAPI.verify``: ``POST /api_keys/verify`` with ``secret``."""
    return MachineTokenAPI(transport, APIKey, "/api_keys/verify", "secret", machine=False)


def m2m_tokens(transport: Transport) -> MachineTokenAPI[M2MToken]:
    """Clerk's ``M2MTokenApi.verify``: ``POST /m2m_tokens/verify`` with ``token``, by the machine secret key."""
    return MachineTokenAPI(transport, M2MToken, "/m2m_tokens/verify", "token", machine=True)


def oauth_access_tokens(transport: Transport) -> MachineTokenAPI[IdPOAuthAccessToken]:
    """Clerk's ``IdPOAuthAccessTokenApi.verify``: ``POST /oauth_applications/access_tokens/verify``."""
    return MachineTokenAPI(
        transport, IdPOAuthAccessToken, "/oauth_applications/access_tokens/verify", "access_token", machine=False
    )
