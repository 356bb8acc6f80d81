"""``ClerkClient``: the few Clerk Backend API calls the gateway makes, over one aiohttp session.

This module is the only place aiohttp and response JSON are touched. Every failure (unreachable, timed out,
non-2xx, not JSON, wrong shape) leaves it as ``errors.BackendAPIError`` so callers handle exactly one type:
``status`` is ``None`` when Clerk was not reached, and Clerk's ``errors[]`` is kept when the body had it.

Requests look like ``@clerk/backend``'s (clerk-semantics §14.6): the same four headers and URLs joined like
Clerk's ``joinPaths(pathname, apiVersion, path)``, so an ``api_url`` with a path prefix (a corporate egress
proxy, FakeClerk behind a router) keeps that prefix. Clerk retries each call up to five times with
backoff; we do not, because a retry loop would stall the request that triggered it. Callers that need
resilience (``keystore.KeyStore``) refresh in the background instead.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp
import orjson

from clerk_authd.errors import BackendAPIError
from clerk_authd.rules.names import SUPPORTED_BAPI_VERSION
from clerk_authd.version import __version__

#: the Backend API version Clerk's SDK pins in ``Clerk-API-Version``
USER_AGENT: Final = f"clerk_authd/{__version__}"

_MULTIPLE_SLASHES = re.compile(r"(?<!:)/+")
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+")


def join_paths(*parts: str) -> str:
    """Clerk's ``joinPaths``: join the non-empty parts with ``/`` and collapse repeated slashes."""
    return _MULTIPLE_SLASHES.sub("/", "/".join(part for part in parts if part))


def _path_id(value: str, what: str) -> str:
    """An id placed in a URL path. Session ids come from unverified tokens, so only plain ids pass."""
    if not _PLAIN_ID.fullmatch(value):
        raise BackendAPIError(f"refusing to call the Backend API: the {what} is not a Clerk identifier")
    return quote(value, safe="")


def _clerk_errors(body: Any) -> list[dict[str, object]]:
    """Clerk's ``errors[]`` from an error body, keeping only well-formed entries."""
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return []
    return [error for error in body["errors"] if isinstance(error, dict)]


def _string_list(body: Any, member: str, url: str) -> list[str]:
    """``body[member]`` when it is a list of strings; anything else is a malformed answer."""
    value = body.get(member) if isinstance(body, dict) else None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BackendAPIError(f"{url} answered without a list of strings in {member!r}", status=200)
    return value


class ClientState(enum.Enum):
    """A client is opened once and closed once; calls work only in between (as in httpx)."""

    UNOPENED = 1
    OPENED = 2
    CLOSED = 3


class ClerkClient:
    """The Backend API client: one ``aiohttp.ClientSession``, opened and closed explicitly.

    ``machine_secret_key`` is kept for machine-token verification, which authenticates with that key when
    it is set. ``timeout_s`` bounds every call as a whole: connect, send, and reading the body.
    """

    def __init__(
        self,
        *,
        secret_key: str,
        api_url: str = "https://api.clerk.com",
        api_version: str = "v1",
        machine_secret_key: str = "",
        timeout_s: float = 5.0,
    ) -> None:
        self.secret_key = secret_key
        self.machine_secret_key = machine_secret_key
        self.api_url = api_url
        self.api_version = api_version
        self.timeout_s = timeout_s
        self._state = ClientState.UNOPENED
        self._session: aiohttp.ClientSession | None = None

    @property
    def state(self) -> ClientState:
        """Whether the client is not yet opened, open, or closed."""
        return self._state

    async def open(self) -> None:
        """Create the HTTP session. A client opens once; reopening a closed client is a programming error."""
        if self._state is not ClientState.UNOPENED:
            raise RuntimeError(f"cannot open a ClerkClient that is {self._state.name.lower()}")
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        self._state = ClientState.OPENED

    async def close(self) -> None:
        """Close the HTTP session; closing twice is harmless."""
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._state = ClientState.CLOSED

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def url_for(self, path: str, *, versioned: bool = True) -> str:
        """The absolute URL of ``path``: ``api_url``'s path, then the API version unless told otherwise.

        Machine-token endpoints (``/m2m_tokens/verify``, ...) live outside ``/v1`` (clerk-semantics §23.19).
        """
        parts = urlsplit(self.api_url)
        pathname = join_paths(parts.path or "/", self.api_version if versioned else "", path)
        return urlunsplit((parts.scheme, parts.netloc, pathname, "", ""))

    @property
    def jwks_url(self) -> str:
        """Where the JWKS comes from; Clerk's JWKS error messages name it."""
        return self.url_for("/jwks")

    async def get_jwks(self) -> dict[str, Any]:
        """``GET /v1/jwks``: the instance's JSON Web Key Set, as Clerk sent it (the key store vets each key)."""
        body = await self._request("GET", "/jwks")
        if not isinstance(body, dict):
            raise BackendAPIError(f"{self.jwks_url} answered with JSON that is not an object", status=200)
        return body

    async def get_handshake_payload(self, nonce: str) -> object:
        """``GET /v1/clients/handshake_payload?nonce=…``: the ``directives`` member as Clerk sent it (normally a list
        of ``Set-Cookie`` strings; ``None`` when absent). Clerk's SDK does not check its shape; the handshake rules
        (``rules.handshake.directives_of``) give a malformed one the meaning Clerk's code gives it."""
        body = await self._request("GET", "/clients/handshake_payload", query={"nonce": nonce})
        return body.get("directives") if isinstance(body, dict) else None

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
        path = f"/sessions/{_path_id(session_id, 'session id')}/refresh"
        body = await self._request(
            "POST",
            path,
            query={"suffixed_cookies": "true" if suffixed_cookies else "false"},
            json_body={
                "format": "cookie",
                "expired_token": expired_token,
                "refresh_token": refresh_token,
                "request_origin": request_origin,
                "request_headers": dict(request_headers),
            },
        )
        return _string_list(body, "cookies", self.url_for(path))

    async def verify_api_key(self, secret: str) -> dict[str, Any]:
        """``POST /api_keys/verify``: Clerk's ``APIKey`` JSON for ``secret`` (an ``ak_`` token)."""
        return await self._verify_machine_token("/api_keys/verify", {"secret": secret}, self.secret_key)

    async def verify_m2m_token(self, token: str) -> dict[str, Any]:
        """``POST /m2m_tokens/verify``: Clerk's ``M2MToken`` JSON for an ``mt_`` token.

        The only call that authenticates with the machine secret key, when one is set.
        """
        bearer = self.machine_secret_key or self.secret_key
        return await self._verify_machine_token("/m2m_tokens/verify", {"token": token}, bearer)

    async def verify_oauth_token(self, access_token: str) -> dict[str, Any]:
        """``POST /oauth_applications/access_tokens/verify``: Clerk's ``IdPOAuthAccessToken`` JSON (``oat_``)."""
        path = "/oauth_applications/access_tokens/verify"
        return await self._verify_machine_token(path, {"access_token": access_token}, self.secret_key)

    async def _verify_machine_token(self, path: str, body: dict[str, str], bearer: str) -> dict[str, Any]:
        """One machine-token verification: ``POST`` outside ``/v1`` (clerk-semantics §18), a JSON object back."""
        answer = await self._request("POST", path, json_body=body, versioned=False, bearer=bearer)
        if not isinstance(answer, dict):
            url = self.url_for(path, versioned=False)
            raise BackendAPIError(f"{url} answered with JSON that is not an object", status=200)
        return answer

    async def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        json_body: object = None,
        versioned: bool = True,
        bearer: str | None = None,
    ) -> Any:
        """One call: send, read the whole body within the timeout, and return the parsed JSON of a 2xx.

        The boundary where aiohttp and JSON errors become ``BackendAPIError``. Messages name the URL without
        its query string, because queries carry handshake nonces. Redirects are not followed: Clerk does not
        redirect, and following one would hand the secret key to wherever it points. ``versioned`` and
        ``bearer`` serve the machine-token endpoints (no ``/v1``, the machine secret key).
        """
        if self._session is None:
            raise BackendAPIError(f"the ClerkClient is {self._state.name.lower()}, not open")
        url = self.url_for(path, versioned=versioned)
        headers = {"Authorization": f"Bearer {self.secret_key if bearer is None else bearer}"}
        headers["Clerk-API-Version"] = SUPPORTED_BAPI_VERSION
        data = None if json_body is None else orjson.dumps(json_body)
        try:
            async with self._session.request(
                method, url, params=query, data=data, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                raw = await response.read()
        except TimeoutError as exc:
            raise BackendAPIError(f"{method} {url} timed out after {self.timeout_s:g}s") from exc
        except aiohttp.ClientError as exc:
            raise BackendAPIError(f"{method} {url} failed: {exc.__class__.__name__}: {exc}") from exc
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
            parsed = False
        else:
            parsed = True
        if not 200 <= status < 300:
            errors = _clerk_errors(body)
            detail = next((str(e["message"]) for e in errors if isinstance(e.get("message"), str)), "")
            message = f"{method} {url} answered {status}" + (f": {detail}" if detail else "")
            raise BackendAPIError(message, status=status, errors=errors)
        if not parsed:
            raise BackendAPIError(f"{method} {url} answered {status} with a body that is not JSON", status=status)
        return body
