"""pytest fixtures around FakeClerk. Enable with ``pytest_plugins = ["clerk_authd.testing.pytest_plugin"]``.

``fake_clerk`` is a started FakeClerk on a free loopback port, stopped after the test; ``clerk_client`` is
an open ``ClerkClient`` pointed at it with its secret key. Tests that need another instance (their own
mint, publishable key or clock) build ``FakeClerk(...)`` themselves with ``async with``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.testing.fake_clerk import FakeClerk


@pytest.fixture
async def fake_clerk() -> AsyncIterator[FakeClerk]:
    """A running FakeClerk on 127.0.0.1 (free port); ``fake_clerk.url`` is the Backend API URL."""
    async with FakeClerk() as fake:
        yield fake


@pytest.fixture
async def clerk_client(fake_clerk: FakeClerk) -> AsyncIterator[ClerkClient]:
    """An open ClerkClient authenticated to ``fake_clerk`` (2 s timeout)."""
    async with ClerkClient(secret_key=fake_clerk.secret_key, api_url=fake_clerk.url, timeout_s=2.0) as client:
        yield client
