"""A FakeClerk and a ClerkClient on it, retrying fast, for the Backend API client's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from clerk_authd.clerk.backend_api import USER_AGENT, ClerkClient, RetryPolicy
from clerk_authd.rules.names import SUPPORTED_BAPI_VERSION
from clerk_authd.testing.fake_clerk import FakeClerk, RecordedRequest

#: retries a test can wait out: 20-160 ms of backoff, a 3 s ceiling on a call
FAST_RETRY = RetryPolicy(max_retries=3, base_delay_s=0.02, max_delay_s=0.2, deadline_s=3.0)


@pytest.fixture
def fake(fake_clerk: FakeClerk) -> FakeClerk:
    """The plugin's running FakeClerk, by the shorter name these tests use."""
    return fake_clerk


@pytest.fixture
async def client(fake: FakeClerk) -> AsyncIterator[ClerkClient]:
    """An open ClerkClient on ``fake`` with ``FAST_RETRY``."""
    async with ClerkClient(secret_key=fake.secret_key, api_url=fake.url, timeout_s=2.0, retry=FAST_RETRY) as clerk:
        yield clerk


def sent(fake: FakeClerk) -> RecordedRequest:
    """The one request the call under test sent (every test starts from an empty record)."""
    assert len(fake.received) == 1, fake.requests
    return fake.received[0]


def assert_clerk_headers(request: RecordedRequest, fake: FakeClerk) -> None:
    """The headers every call carries, as ``@clerk/backend``'s do."""
    assert request.headers["Authorization"] == f"Bearer {fake.secret_key}"
    assert request.headers["Clerk-API-Version"] == SUPPORTED_BAPI_VERSION
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Content-Type"] == "application/json"
