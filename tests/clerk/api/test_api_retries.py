"""Retries: 429 and 5xx on idempotent calls, Retry-After obeyed, backoff with jitter, the total deadline."""

from __future__ import annotations

import itertools
import logging
import random
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from clerk_authd.clerk.backend_api import ClerkClient, RetryPolicy
from clerk_authd.clerk.backend_api.retry import parse_retry_after
from clerk_authd.errors import ClerkAPIResponseError, ClerkTransportError
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.clerk.api.conftest import FAST_RETRY


async def test_a_429_is_retried_after_retry_after(fake: FakeClerk, client: ClerkClient) -> None:
    """Two 429s with Retry-After: 1, then the answer: three requests, each a second after the last."""
    user = fake.store.add_user()
    fake.rate_limit(retry_after="1", times=2)
    assert (await client.users.get_user(user["id"])).id == user["id"]
    arrivals = [r.at for r in fake.received]
    assert len(arrivals) == 3
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(arrivals))


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_5xx_is_retried_with_backoff(fake: FakeClerk, client: ClerkClient, status: int) -> None:
    """A 5xx without Retry-After waits a jittered backoff and tries again."""
    fake.fail_with(status, times=1)
    assert (await client.jwks.get_jwks()).keys == (fake.mint.jwk,)
    assert len(fake.received) == 2


async def test_retries_stop_after_max_retries(fake: FakeClerk, client: ClerkClient) -> None:
    """max_retries=3: four attempts, then the last 503 is raised."""
    fake.go_down()
    with pytest.raises(ClerkAPIResponseError) as caught:
        await client.sessions.get_session("sess_1")
    assert caught.value.status == 503
    assert len(fake.received) == FAST_RETRY.max_retries + 1


async def test_a_retry_after_past_the_deadline_gives_up_at_once(fake: FakeClerk) -> None:
    """Waiting 60 s cannot fit a 3 s deadline: the 429 is raised now, with its retry_after, after one request."""
    fake.rate_limit(retry_after="60", times=None)
    async with ClerkClient(secret_key=fake.secret_key, api_url=fake.url, retry=FAST_RETRY) as client:
        started = time.monotonic()
        with pytest.raises(ClerkAPIResponseError) as caught:
            await client.users.get_count()
    assert time.monotonic() - started < 1.0
    assert (caught.value.status, caught.value.retry_after, caught.value.code) == (429, 60.0, "too_many_requests")
    assert len(fake.received) == 1


async def test_a_slow_clerk_gives_up_at_the_total_deadline(fake: FakeClerk) -> None:
    """Attempts of 0.3 s against a 0.8 s deadline: the call ends near 0.8 s with a ClerkTransportError."""
    fake.slow(5.0)
    policy = RetryPolicy(max_retries=10, base_delay_s=0.01, max_delay_s=0.01, deadline_s=0.8)
    async with ClerkClient(secret_key=fake.secret_key, api_url=fake.url, timeout_s=0.3, retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(ClerkTransportError, match=r"timed out|deadline") as caught:
            await client.organizations.get_organization_list()
    assert 0.7 < time.monotonic() - started < 1.5
    assert caught.value.status is None
    assert len(fake.received) >= 3


async def test_a_post_is_not_retried_unless_asked(fake: FakeClerk, client: ClerkClient) -> None:
    """create_user is a POST: one 503 is final. request(..., retry=True) retries the same POST."""
    fake.fail_with(503, times=1)
    with pytest.raises(ClerkAPIResponseError):
        await client.users.create_user(first_name="Once")
    assert len(fake.received) == 1
    fake.fail_with(503, times=1)
    body = await client.request("POST", "/users", body={"first_name": "Twice"}, retry=True)
    assert body["first_name"] == "Twice"
    assert [r.method for r in fake.received] == ["POST", "POST", "POST"]


async def test_a_4xx_other_than_429_is_not_retried(fake: FakeClerk, client: ClerkClient) -> None:
    """A 404 will not change: one request."""
    with pytest.raises(ClerkAPIResponseError) as caught:
        await client.users.get_user("user_missing")
    assert (caught.value.status, len(fake.received)) == (404, 1)


async def test_the_verifiers_calls_never_retry(fake: FakeClerk, client: ClerkClient) -> None:
    """get_jwks (the key store's) and the handshake payload take one attempt: the request waiting on them is live."""
    fake.go_down()
    for call in (client.get_jwks(), client.get_handshake_payload("n")):
        with pytest.raises(ClerkAPIResponseError):
            await call
    assert len(fake.received) == 2


async def test_a_refused_connection_is_retried_then_raised() -> None:
    """A closed port is a transport failure; an idempotent call retries it, then raises ClerkTransportError."""
    async with FakeClerk() as gone:
        url = gone.url
    async with ClerkClient(secret_key="sk_test_x", api_url=url, retry=FAST_RETRY) as client:
        with pytest.raises(ClerkTransportError, match="failed: ClientConnectorError") as caught:
            await client.users.get_user("user_1")
    assert caught.value.status is None


async def test_retries_are_logged_without_the_secret_key(
    fake: FakeClerk, client: ClerkClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Each retry is one INFO line naming the call and the failure; no header, no key."""
    fake.rate_limit(retry_after="0", times=2)
    with caplog.at_level(logging.DEBUG):
        await client.jwks.get_jwks()
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
    assert len(retries) == 2
    assert all("GET " in line and "429" in line for line in retries)
    assert fake.secret_key not in caplog.text
    assert fake.secret_key not in repr(client)
    assert fake.secret_key not in repr(client.transport)


def test_backoff_is_full_jitter_capped_and_yields_to_retry_after() -> None:
    """Retry n waits uniform(0, min(max, base * 2**n)); a Retry-After replaces the draw."""
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=4.0)
    rng = random.Random(7)
    for retry, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        draws = [policy.delay_s(retry, None, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8
    assert policy.delay_s(5, 2.5, rng) == 2.5


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 0 ", 0.0), (None, None), ("soon", None), ("-1", None), ("1.5", None)],
)
def test_retry_after_in_seconds(header: str | None, seconds: float | None) -> None:
    """delay-seconds is a non-negative integer; anything else is not a usable Retry-After."""
    assert parse_retry_after(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    """An HTTP-date is the time until it (never negative); a date without a zone is unusable."""
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert parse_retry_after("Wed, 02 Dec 2026 09:00:30 -0000", now) is None


async def test_a_spent_deadline_sends_nothing(fake: FakeClerk) -> None:
    """No time left (here none to begin with): a ClerkTransportError naming the deadline, and no request."""
    async with ClerkClient(secret_key=fake.secret_key, api_url=fake.url, retry=RetryPolicy(deadline_s=0)) as client:
        with pytest.raises(ClerkTransportError, match="gave up at the total deadline of 0s"):
            await client.users.get_user("user_1")
    assert fake.received == []
