"""``CallGuard``: the token bucket on a test clock, single flight, refusals as an unreachable Backend API."""

from __future__ import annotations

import asyncio

import pytest

from clerk_authd.clerk.limiter import MAX_VALUE_LENGTH, CallGuard, TokenBucket, may_be_clerk_value
from clerk_authd.errors import BackendAPIError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_lets_the_burst_through_then_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5  # one token at 2/s
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.now += 3600  # refills to the burst, never beyond
    assert sum(bucket.take() for _ in range(10)) == 3


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (1, 0), (-1, 5)])
def test_a_bucket_needs_a_rate_and_a_burst(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="positive rate"):
        TokenBucket(rate, burst)


async def test_concurrent_calls_for_one_key_share_one_call_and_one_token() -> None:
    clock = Clock()
    guard = CallGuard(rate=1.0, burst=1, clock=clock)
    made = 0
    release = asyncio.Event()

    async def call() -> str:
        nonlocal made
        made += 1
        await release.wait()
        return "answer"

    waiting = [asyncio.ensure_future(guard.call("api_key", "k", call)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == ["answer"] * 5
    assert made == 1
    with pytest.raises(BackendAPIError) as caught:  # the one token went to the shared call
        await guard.call("api_key", "other", call)
    assert caught.value.status is None
    assert guard.limited == {"api_key": 1}


async def test_a_failed_call_reaches_every_caller_and_is_not_kept() -> None:
    guard = CallGuard(rate=100.0, burst=10)

    async def failing() -> str:
        raise BackendAPIError("boom", status=404)

    results = await asyncio.gather(*(guard.call("handshake", "n", failing) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(result, BackendAPIError) for result in results)

    async def working() -> str:
        return "ok"

    assert await guard.call("handshake", "n", working) == "ok"


async def test_close_cancels_the_calls_in_flight() -> None:
    guard = CallGuard()
    started = asyncio.Event()

    async def hangs() -> str:
        started.set()
        await asyncio.sleep(3600)
        return "never"

    caller = asyncio.ensure_future(guard.call("refresh", "r", hangs))
    await started.wait()
    await guard.close(deadline_s=1)
    with pytest.raises(asyncio.CancelledError):
        await caller


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("ak_1", True),
        ("nonce_AbC-12.x~y", True),
        ("base64+/=", True),
        ("x" * MAX_VALUE_LENGTH, True),
        ("x" * (MAX_VALUE_LENGTH + 1), False),
        ("", False),
        ("a b", False),
        ("a\nb", False),
        ("caf\u00e9", False),
        ('a"b', False),
        ("a;b", False),
    ],
)
def test_the_form_check_refuses_only_what_cannot_be_clerks(value: str, accepted: bool) -> None:
    assert may_be_clerk_value(value) is accepted
