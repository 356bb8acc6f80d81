"""A cached verdict never outlives the key that verified it: one worker's runtime against a real FakeClerk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from clerk_authd.clerk.runtime import ClerkRuntime
from clerk_authd.config import load_settings
from clerk_authd.rules.request import RequestView
from clerk_authd.testing.fake_clerk import FakeClerk


@pytest.fixture
async def runtime(fake_clerk: FakeClerk) -> AsyncIterator[ClerkRuntime]:
    """A worker's runtime configured against ``fake_clerk``; refetches on unknown kids are (almost) not rate-limited."""
    settings = load_settings(
        {
            "CLERK_PUBLISHABLE_KEY": fake_clerk.publishable_key,
            "CLERK_SECRET_KEY": fake_clerk.secret_key,
            "CLERK_API_URL": fake_clerk.url,
            "CLERK_AUTHORIZED_PARTIES": "http://localhost:3000",
            "CLERK_AUTHD_JWKS_MIN_REFETCH_S": "0.001",
        }
    )
    worker = ClerkRuntime(settings)
    await worker.open()
    try:
        yield worker
    finally:
        await worker.close()


def _bearer(token: str) -> RequestView:
    return RequestView.build(
        "GET", "http://app.example/api", [("host", "app.example"), ("authorization", f"Bearer {token}")]
    )


async def test_a_retired_key_drops_the_verdicts_it_vouched_for(fake_clerk: FakeClerk, runtime: ClerkRuntime) -> None:
    """After Clerk retires a key, a token it signed is refused even though its verdict was cached."""
    old_kid = fake_clerk.mint.kid
    old_token = fake_clerk.session_token(user_id="user_old")
    assert (await runtime.authenticate(_bearer(old_token))).status == "signed-in"
    assert (await runtime.authenticate(_bearer(old_token))).status == "signed-in"
    assert runtime.cache is not None
    assert runtime.cache.hits == 1

    fake_clerk.rotate()
    fake_clerk.retire_key(old_kid)
    new_token = fake_clerk.session_token(user_id="user_new")
    assert (await runtime.authenticate(_bearer(new_token))).status == "signed-in"  # its unknown kid refetches

    refused = await runtime.authenticate(_bearer(old_token))
    assert (refused.status, refused.reason) == ("signed-out", "jwk-kid-mismatch")


async def test_keys_that_stay_keep_their_cached_verdicts(fake_clerk: FakeClerk, runtime: ClerkRuntime) -> None:
    """Rotating a key in without retiring the old one leaves the old verdicts cached."""
    old_token = fake_clerk.session_token(user_id="user_old")
    assert (await runtime.authenticate(_bearer(old_token))).status == "signed-in"
    fake_clerk.rotate()
    assert (await runtime.authenticate(_bearer(fake_clerk.session_token()))).status == "signed-in"
    assert runtime.cache is not None
    hits = runtime.cache.hits
    assert (await runtime.authenticate(_bearer(old_token))).status == "signed-in"
    assert runtime.cache.hits == hits + 1


async def test_a_cached_verdict_fails_closed_with_the_keys_at_the_stale_limit(fake_clerk: FakeClerk) -> None:
    """Finding 3: with Clerk unreachable beyond CLERK_AUTHD_JWKS_STALE_S, fresh tokens got 503 but a token
    cached earlier still got 200 until its exp; now the cache stops at the same moment as the keys."""
    settings = load_settings(
        {
            "CLERK_PUBLISHABLE_KEY": fake_clerk.publishable_key,
            "CLERK_SECRET_KEY": fake_clerk.secret_key,
            "CLERK_API_URL": fake_clerk.url,
            "CLERK_AUTHORIZED_PARTIES": "http://localhost:3000",
            "CLERK_AUTHD_JWKS_STALE_S": "0.5",
        }
    )
    worker = ClerkRuntime(settings)
    await worker.open()
    try:
        token = fake_clerk.session_token(ttl_s=600)
        assert (await worker.authenticate(_bearer(token))).status == "signed-in"
        assert (await worker.authenticate(_bearer(token))).cache_hit is True
        fake_clerk.go_down()
        await asyncio.sleep(0.6)  # the one real wait: the stale limit is on the key store's monotonic clock
        refused = await worker.authenticate(_bearer(token))
        assert (refused.status, refused.reason) == ("signed-out", "jwk-remote-failed-to-load")
    finally:
        await worker.close()
