"""``ClerkClient``: Clerk's Backend API as ``@clerk/backend``'s ``clerkClient`` has it, over one ``Transport``.

The resources are sub-APIs (``client.users.get_user_list()`` instead of a fetch of ``/v1/users``), and
``request()`` reaches any endpoint they do not cover. The verifier's own calls (``get_jwks``,
``get_handshake_payload``, ``refresh_session``, ``verify_*``) keep their raw-JSON forms and never retry: they
run inside a request being authenticated, where waiting out a rate limit would stall it (see ``transport``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self, TypeVar, overload

from clerk_authd.clerk.backend_api import machine_tokens
from clerk_authd.clerk.backend_api.identifiers import AllowlistIdentifiersAPI, BlocklistIdentifiersAPI
from clerk_authd.clerk.backend_api.invitations import InvitationsAPI
from clerk_authd.clerk.backend_api.jwks import JwksAPI
from clerk_authd.clerk.backend_api.organizations import OrganizationsAPI
from clerk_authd.clerk.backend_api.resource import Resource
from clerk_authd.clerk.backend_api.retry import RetryPolicy
from clerk_authd.clerk.backend_api.sessions import SessionsAPI
from clerk_authd.clerk.backend_api.subapi import ident
from clerk_authd.clerk.backend_api.transport import ClientState, Transport
from clerk_authd.clerk.backend_api.users import UsersAPI
from clerk_authd.errors import BackendAPIError

R = TypeVar("R", bound=Resource)


class ClerkClient:
    """The Backend API client: one ``aiohttp.ClientSession``, opened and closed explicitly (or ``async with``).

    ``machine_secret_key`` authenticates M2M token verification when it is set. ``timeout_s`` bounds every
    attempt as a whole (connect, send, read the body); ``retry`` says how the sub-APIs retry (its
    ``deadline_s`` bounds a call with its retries). The secret keys never appear in a repr, a message or a log.
    """

    def __init__(
        self,
        *,
        secret_key: str,
        api_url: str = "https://api.clerk.com",
        api_version: str = "v1",
        machine_secret_key: str = "",
        timeout_s: float = 5.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.transport = Transport(
            secret_key=secret_key,
            api_url=api_url,
            api_version=api_version,
            machine_secret_key=machine_secret_key,
            timeout_s=timeout_s,
            retry=retry or RetryPolicy(),
        )
        self.users = UsersAPI(self.transport)
        self.organizations = OrganizationsAPI(self.transport)
        self.sessions = SessionsAPI(self.transport)
        self.invitations = InvitationsAPI(self.transport)
        self.allowlist_identifiers = AllowlistIdentifiersAPI(self.transport)
        self.blocklist_identifiers = BlocklistIdentifiersAPI(self.transport)
        self.jwks = JwksAPI(self.transport)
        self.api_keys = machine_tokens.api_keys(self.transport)
        self.m2m_tokens = machine_tokens.m2m_tokens(self.transport)
        self.oauth_access_tokens = machine_tokens.oauth_access_tokens(self.transport)

    def __repr__(self) -> str:
        return f"<ClerkClient {self.transport.api_url} {self.state.name.lower()}>"

    @property
    def state(self) -> ClientState:
        """Whether the client is not yet opened, open, or closed."""
        return self.transport.state

    async def open(self) -> None:
        """Create the HTTP session. A client opens once; reopening a closed client is a programming error."""
        await self.transport.open()

    async def close(self) -> None:
        """Close the HTTP session; closing twice is harmless."""
        await self.transport.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def url_for(self, path: str, *, versioned: bool = True) -> str:
        """The absolute URL of ``path`` (``Transport.url_for``)."""
        return self.transport.url_for(path, versioned=versioned)

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = ...,
        body: object = ...,
        versioned: bool = ...,
        retry: bool | None = ...,
        into: None = ...,
    ) -> Any: ...

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = ...,
        body: object = ...,
        versioned: bool = ...,
        retry: bool | None = ...,
        into: type[R],
    ) -> R: ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = None,
        body: object = None,
        versioned: bool = True,
        retry: bool | None = None,
        into: type[R] | None = None,
    ) -> Any:
        """Any Backend API endpoint, with the client's headers, timeouts, retries and errors.

        The parsed JSON, or ``into.from_json`` of it (``into=User``). ``path`` is used as given: put only
        trusted or ``ident``-checked ids in it.
        """
        answer = await self.transport.send(method, path, query=query, body=body, versioned=versioned, retry=retry)
        return answer if into is None else into.from_json(answer)

    # -- the verifier's calls ------------------------------------------------------------------------------

    @property
    def jwks_url(self) -> str:
        """Where the JWKS comes from; Clerk's JWKS error messages name it."""
        return self.url_for("/jwks")

    async def get_jwks(self) -> dict[str, Any]:
        """``GET /v1/jwks``: the instance's JSON Web Key Set, as Clerk sent it (the key store vets each key)."""
        body = await self.transport.send("GET", "/jwks", retry=False)
        if not isinstance(body, dict):
            raise BackendAPIError(f"{self.jwks_url} answered with JSON that is not an object", status=200)
        return body

    async def get_handshake_payload(self, nonce: str) -> list[str]:
        """``GET /v1/clients/handshake_payload?nonce=…``: the ``Set-Cookie`` directives of a handshake."""
        body = await self.transport.send("GET", "/clients/handshake_payload", query={"nonce": nonce}, retry=False)
        return _string_list(body, "directives", self.url_for("/clients/handshake_payload"))

    async def refresh_session(
        self,
        session_id: str,
        *,
        expired_token: str,
        refresh_token: str,
        request_origin: str,
        request_headers: Mapping[str, list[str]],
        suffixed_cookies: bool,
    ) -> list[str]:
        """``POST /v1/sessions/{sid}/refresh``: new session cookies for an expired token (clerk-semantics §6)."""
        path = f"/sessions/{ident(session_id, 'session id')}/refresh"
        body = await self.transport.send(
            "POST",
            path,
            query={"suffixed_cookies": "true" if suffixed_cookies else "false"},
            body={
                "format": "cookie",
                "expired_token": expired_token,
                "refresh_token": refresh_token,
                "request_origin": request_origin,
                "request_headers": dict(request_headers),
            },
            retry=False,
        )
        return _string_list(body, "cookies", self.url_for(path))

    async def verify_api_key(self, secret: str) -> dict[str, Any]:
        """``POST /api_keys/verify``: Clerk's ``APIKey`` JSON for ``secret`` (an ``ak_`` token)."""
        return await self.api_keys.verify_json(secret)

    async def verify_m2m_token(self, token: str) -> dict[str, Any]:
        """``POST /m2m_tokens/verify``: Clerk's ``M2MToken`` JSON for an ``mt_`` token (machine secret key)."""
        return await self.m2m_tokens.verify_json(token)

    async def verify_oauth_token(self, access_token: str) -> dict[str, Any]:
        """``POST /oauth_applications/access_tokens/verify``: Clerk's ``IdPOAuthAccessToken`` JSON (``oat_``)."""
        return await self.oauth_access_tokens.verify_json(access_token)


def _string_list(body: Any, member: str, url: str) -> list[str]:
    """``body[member]`` when it is a list of strings; anything else is a malformed answer."""
    value = body.get(member) if isinstance(body, dict) else None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BackendAPIError(f"{url} answered without a list of strings in {member!r}", status=200)
    return value
