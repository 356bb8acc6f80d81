"""``Transport``: the one aiohttp door to Clerk's Backend API, and the boundary where its failures get our types.

Requests look like ``@clerk/backend``'s ``buildRequest`` (clerk-semantics §14.6): the same four headers, URLs
joined like Clerk's ``joinPaths(pathname, apiVersion, path)`` (an ``api_url`` with a path prefix, a corporate
egress proxy or FakeClerk behind a router, keeps that prefix), query values dropped when falsy and lists sent as
repeated parameters, a JSON body only when there is one. A non-2xx raises ``ClerkAPIResponseError``, an
unreachable or slow Clerk ``ClerkTransportError``, a 2xx that is not JSON plain ``BackendAPIError``.

Retries (``retry.RetryPolicy``) are per call: the resource sub-APIs retry idempotent methods on 429/5xx and
dropped connections within a total deadline; the verifier's calls pass ``retry=False``, because a retry loop
would stall the request that triggered them and ``keystore.KeyStore`` already refreshes in the background.
Messages name the URL without its query string (queries carry handshake nonces), and nothing logs a header.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

from clerk_authd.clerk.backend_api.retry import IDEMPOTENT_METHODS, RetryPolicy, is_retryable_status, parse_retry_after
from clerk_authd.errors import BackendAPIError, ClerkAPIError, ClerkAPIResponseError, ClerkTransportError
from clerk_authd.rules.names import SUPPORTED_BAPI_VERSION
from clerk_authd.version import __version__

log = logging.getLogger(__name__)

USER_AGENT: Final = f"clerk_authd/{__version__}"

_MULTIPLE_SLASHES = re.compile(r"(?<!:)/+")
_NOT_JSON: Final = object()


def join_paths(*parts: str) -> str:
    """Clerk's ``joinPaths``: join the non-empty parts with ``/`` and collapse repeated slashes."""
    return _MULTIPLE_SLASHES.sub("/", "/".join(part for part in parts if part))


def encode_query(params: Mapping[str, object]) -> list[tuple[str, str]]:
    """Clerk's query encoding: a falsy value (``None``, ``False``, ``0``, ``""``, ``[]``) is left out, ``True``
    is ``"true"``, and each item of a list is its own ``name=value`` pair."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if not value:
            continue
        if isinstance(value, bool):
            pairs.append((name, "true"))
        elif isinstance(value, Sequence) and not isinstance(value, str):
            pairs.extend((name, str(item)) for item in value)
        else:
            pairs.append((name, str(value)))
    return pairs


class ClientState(enum.Enum):
    """A client is opened once and closed once; calls work only in between (as in httpx)."""

    UNOPENED = 1
    OPENED = 2
    CLOSED = 3


class Transport:
    """One ``aiohttp.ClientSession``, the keys, the timeouts and the retry policy of a ``ClerkClient``.

    ``timeout_s`` bounds each attempt as a whole (connect, send, read the body); ``retry.deadline_s`` bounds a
    call with all its retries.
    """

    def __init__(
        self,
        *,
        secret_key: str,
        api_url: str,
        api_version: str,
        machine_secret_key: str,
        timeout_s: float,
        retry: RetryPolicy,
    ) -> None:
        self.secret_key = secret_key
        self.machine_secret_key = machine_secret_key
        self.api_url = api_url
        self.api_version = api_version
        self.timeout_s = timeout_s
        self.retry = retry
        self._rng = random.Random()  # noqa: S311 - jitter, not a secret
        self._state = ClientState.UNOPENED
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"<Transport {self.api_url} {self._state.name.lower()}>"

    @property
    def state(self) -> ClientState:
        """Whether the transport is not yet opened, open, or closed."""
        return self._state

    async def open(self) -> None:
        """Create the HTTP session. It opens once; reopening a closed one is a programming error."""
        if self._state is not ClientState.UNOPENED:
            raise RuntimeError(f"cannot open a ClerkClient that is {self._state.name.lower()}")
        self._session = aiohttp.ClientSession(
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Clerk-API-Version": SUPPORTED_BAPI_VERSION,
            }
        )
        self._state = ClientState.OPENED

    async def close(self) -> None:
        """Close the HTTP session; closing twice is harmless."""
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._state = ClientState.CLOSED

    def url_for(self, path: str, *, versioned: bool = True) -> str:
        """The absolute URL of ``path``: ``api_url``'s path, then the API version unless told otherwise.

        Machine-token endpoints (``/m2m_tokens/verify``, ...) live outside ``/v1`` (clerk-semantics §23.19).
        """
        parts = urlsplit(self.api_url)
        pathname = join_paths(parts.path or "/", self.api_version if versioned else "", path)
        return urlunsplit((parts.scheme, parts.netloc, pathname, "", ""))

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = None,
        body: object = None,
        versioned: bool = True,
        machine: bool = False,
        retry: bool | None = None,
    ) -> Any:
        """One call: the parsed JSON of its 2xx answer (``None`` for a 204), after any retries.

        ``retry`` defaults to whether ``method`` is idempotent. ``machine`` authenticates with the machine
        secret key when there is one (Clerk's ``useMachineSecretKey``, for M2M tokens). Redirects are not
        followed: Clerk does not redirect, and following one would hand the secret key to wherever it points.
        """
        if self._session is None:
            raise BackendAPIError(f"the ClerkClient is {self._state.name.lower()}, not open")
        url = self.url_for(path, versioned=versioned)
        bearer = self.machine_secret_key if machine and self.machine_secret_key else self.secret_key
        request = _Request(method, url, encode_query(query or {}), _body_bytes(method, body), f"Bearer {bearer}")
        retrying = method in IDEMPOTENT_METHODS if retry is None else retry
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry.deadline_s
        retry_number = 0
        while True:
            timeout_s = min(self.timeout_s, deadline - loop.time())
            try:
                return await self._attempt(self._session, request, timeout_s)
            except (ClerkAPIResponseError, ClerkTransportError) as error:
                wait_s = self._wait_before_retry(error, retry_number, retrying, deadline - loop.time())
                if wait_s is None:
                    raise
                log.info("retrying %s %s in %.2fs after: %s", method, url, wait_s, error.message)
                await asyncio.sleep(wait_s)
                retry_number += 1

    def _wait_before_retry(
        self, error: BackendAPIError, retry_number: int, retrying: bool, remaining_s: float
    ) -> float | None:
        """How long to wait before trying again, or ``None`` to give up now: not retrying, out of retries, an
        answer that will not change (a 4xx other than 429), or a wait that would end past the deadline."""
        if not retrying or retry_number >= self.retry.max_retries:
            return None
        if isinstance(error, ClerkAPIResponseError) and not is_retryable_status(error.status):
            return None
        retry_after = error.retry_after if isinstance(error, ClerkAPIResponseError) else None
        wait_s = self.retry.delay_s(retry_number, retry_after, self._rng)
        return wait_s if wait_s < remaining_s else None

    async def _attempt(self, session: aiohttp.ClientSession, request: _Request, timeout_s: float) -> Any:
        """Send once and read the whole body within ``timeout_s``; the boundary where aiohttp errors end."""
        what = f"{request.method} {request.url}"
        if timeout_s <= 0:
            raise ClerkTransportError(f"{what} gave up at the total deadline of {self.retry.deadline_s:g}s")
        try:
            async with session.request(
                request.method,
                request.url,
                params=request.query,
                data=request.data,
                headers={"Authorization": request.authorization},
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                status, headers = response.status, response.headers
                raw = await response.read()
        except TimeoutError as exc:
            raise ClerkTransportError(f"{what} timed out after {timeout_s:g}s") from exc
        except aiohttp.ClientError as exc:
            raise ClerkTransportError(f"{what} failed: {exc.__class__.__name__}: {exc}") from exc
        if status == 204:
            return None
        body = _parse_json(raw)
        if not 200 <= status < 300:
            errors = ClerkAPIError.parse_body(body)
            detail = next((error.message for error in errors if error.message), "")
            raise ClerkAPIResponseError(
                f"{what} answered {status}" + (f": {detail}" if detail else ""),
                status=status,
                errors=errors,
                clerk_trace_id=_trace_id(body, headers.get("CF-Ray")),
                retry_after=parse_retry_after(headers.get("Retry-After")),
            )
        if body is _NOT_JSON:
            raise BackendAPIError(f"{what} answered {status} with a body that is not JSON", status=status)
        return body


@dataclass(frozen=True, slots=True)
class _Request:
    """What every attempt of one call sends."""

    method: str
    url: str
    query: list[tuple[str, str]]
    data: bytes | None
    authorization: str = field(repr=False)


def _body_bytes(method: str, body: object) -> bytes | None:
    """Clerk's ``buildBody``: no body for a GET or an empty one, else the JSON."""
    if method == "GET" or body is None or (isinstance(body, Mapping | list) and not body):
        return None
    return orjson.dumps(body)


def _parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _trace_id(body: Any, cf_ray: str | None) -> str | None:
    """Clerk's ``getTraceId``: the body's ``clerk_trace_id``, else the ``CF-Ray`` header."""
    trace_id = body.get("clerk_trace_id") if isinstance(body, dict) else None
    return trace_id if isinstance(trace_id, str) else cf_ray
