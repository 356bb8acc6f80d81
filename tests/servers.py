"""Real servers on loopback for the service and Sanic SDK tests: FakeClerk, then a Sanic app bound to a free port.

``start_service(**variables)`` runs ``create_app`` against the test's FakeClerk (the ``CLERK_*`` variables
point at it; more can be given); ``serve_app(app)`` runs any Sanic app (the SDK tests build their own).
Both are stopped after the test through the same listeners a production server runs. Requests go through
aiohttp over TCP, never through an in-process test client.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest
from multidict import CIMultiDictProxy
from sanic import Sanic

from clerk_authd.config import load_settings
from clerk_authd.rules.names import IDENTITY_HEADERS
from clerk_authd.service.app import create_app
from clerk_authd.service.limits import protocol_of
from clerk_authd.testing.fake_clerk import DEFAULT_FRONTEND_API, FakeClerk

#: a production instance on FakeClerk's Frontend API host (production instances hand-shake on page loads)
PK_LIVE_LOCAL = "pk_live_" + base64.b64encode(f"{DEFAULT_FRONTEND_API}$".encode()).decode().rstrip("=")
SIGN_IN_URL = "https://accounts.example.com/sign-in"
#: a request or a server stop that takes longer fails the test, well inside pytest-timeout's 120 s
DEADLINE_S = 10.0
_app_names = itertools.count()


def unique_app_name(prefix: str) -> str:
    """Sanic refuses two apps of one name in a process; every test app gets its own."""
    return f"{prefix}_{next(_app_names)}"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read whole."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Running:
    """A server on loopback and a client for it."""

    url: str
    app: Sanic[Any, Any]
    http: aiohttp.ClientSession

    async def call(
        self, path: str, *, method: str = "GET", headers: Mapping[str, str] | None = None, body: Any = None
    ) -> Answer:
        """Send one request (redirects are not followed) and read the whole answer."""
        data = orjson.dumps(body) if body is not None and not isinstance(body, bytes) else body
        async with self.http.request(
            method, self.url + path, headers=dict(headers or {}), data=data, allow_redirects=False
        ) as response:
            return Answer(response.status, response.headers, await response.read())


def assert_identity_headers(answer: Answer) -> None:
    """Every identity header of api.md §3 is present exactly once (empty when it has no value)."""
    for name in IDENTITY_HEADERS:
        assert len(answer.headers.getall(name, [])) == 1, f"{name} missing or repeated"


def bearer(token: str) -> dict[str, str]:
    """An ``Authorization: Bearer`` header."""
    return {"Authorization": f"Bearer {token}"}


def _free_socket() -> socket.socket:
    """A loopback socket on a port the kernel picked, already listening: nothing can take the port before the
    server uses it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """create_app configures process-wide logging; put it back so other tests see the logging they expect."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
async def serve_app() -> AsyncIterator[Callable[[Sanic[Any, Any]], Awaitable[Running]]]:
    """Start Sanic apps on free loopback ports, running their listeners as a real server does."""
    stops: list[Callable[[], Awaitable[None]]] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DEADLINE_S)) as http:

        async def start(app: Sanic[Any, Any]) -> Running:
            app.config.TOUCHUP = False  # Sanic rewrites its HTTP code once per process; a second app would fail
            sock = _free_socket()
            server = await app.create_server(sock=sock, access_log=False, protocol=protocol_of(app))
            assert server is not None

            async def begin() -> None:
                await server.startup()
                await server.before_start()
                await server.after_start()
                await server.start_serving()

            await asyncio.wait_for(begin(), DEADLINE_S)

            async def stop() -> None:
                await server.before_stop()
                closing = server.close()
                if closing is not None:
                    await closing
                await server.after_stop()

            stops.append(stop)
            host, port = sock.getsockname()[:2]
            return Running(f"http://{host}:{port}", app, http)

        yield start
        for stop in reversed(stops):
            await asyncio.wait_for(stop(), DEADLINE_S)


@pytest.fixture
def fake_variables() -> Callable[[FakeClerk], dict[str, str]]:
    """The variables that point a service at a FakeClerk."""

    def variables(fake: FakeClerk) -> dict[str, str]:
        return {
            "CLERK_PUBLISHABLE_KEY": fake.publishable_key,
            "CLERK_SECRET_KEY": fake.secret_key,
            "CLERK_API_URL": fake.url,
            "CLERK_AUTHORIZED_PARTIES": "http://localhost:3000",
            "CLERK_AUTHD_LOG_LEVEL": "warning",
        }

    return variables


@pytest.fixture
def start_service(
    serve_app: Callable[[Sanic[Any, Any]], Awaitable[Running]],
    fake_variables: Callable[[FakeClerk], dict[str, str]],
) -> Callable[..., Awaitable[Running]]:
    """Start the service against ``fake`` with extra ``variables`` (``CLERK_*`` names)."""

    async def start(fake: FakeClerk, **variables: str) -> Running:
        settings = load_settings({**fake_variables(fake), **variables})
        return await serve_app(create_app(settings, name=unique_app_name("clerk_authd")))

    return start


@pytest.fixture
async def live_clerk() -> AsyncIterator[FakeClerk]:
    """A FakeClerk for a production instance (``pk_live_``): page loads without a session hand-shake."""
    async with FakeClerk(publishable_key=PK_LIVE_LOCAL) as fake:
        yield fake


@pytest.fixture
async def service(start_service: Callable[..., Awaitable[Running]], live_clerk: FakeClerk) -> Running:
    """The service for a production instance, with a sign-in URL."""
    return await start_service(live_clerk, CLERK_SIGN_IN_URL=SIGN_IN_URL)
