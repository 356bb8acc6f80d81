"""Finding 1: calls to Clerk that request input triggers are bounded, on a real service against FakeClerk.

With the default limits (``CLERK_AUTHD_BAPI_BURST`` 20, ``CLERK_AUTHD_BAPI_RATE`` 5/s), floods of 1,000 junk
handshake nonces or 1,000 junk API keys shaped like real ones make at most 50 Backend API calls each, twenty
checks of one API key make one, and the key set is still fetched during a flood (a rotated key works).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable

from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import Answer, Running, bearer

FLOOD = 1000
#: requests in flight at once during a flood (bounded: a shared two-core machine)
CONCURRENCY = 25
MAX_CALLS = 50
HANDSHAKE_PATH = "/v1/clients/handshake_payload"
API_KEY_PATH = "/api_keys/verify"
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def calls(fake: FakeClerk, path: str) -> int:
    """How many Backend API requests FakeClerk received on ``path``."""
    return sum(1 for request in fake.received if request.path == path)


def key_shaped(prefix: str = "ak_") -> str:
    """A junk token of the same alphabet and length as a real Clerk key, so no form check can refuse it."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(40))


async def flood(service: Running, requests: Iterable[dict[str, str]]) -> list[Answer]:
    """Send one ``/verify`` per header set, ``CONCURRENCY`` at a time."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(headers: dict[str, str]) -> Answer:
        async with gate:
            return await service.call("/verify", headers=headers)

    return await asyncio.gather(*(one(headers) for headers in requests))


async def test_junk_handshake_nonces_make_at_most_50_calls(
    start_service: Callable[..., Awaitable[Running]], live_clerk: FakeClerk
) -> None:
    """1,000 anonymous requests, each with its own nonce (the form of a real one): the limiter lets the burst
    and the refill through, every other request is answered signed out without a call."""
    service = await start_service(live_clerk)
    started = time.monotonic()
    answers = await flood(
        service, ({"Cookie": f"__clerk_handshake_nonce=junk{i}{secrets.token_hex(8)}"} for i in range(FLOOD))
    )
    elapsed = time.monotonic() - started
    made = calls(live_clerk, HANDSHAKE_PATH)
    assert made <= MAX_CALLS, (made, elapsed)
    assert made <= 20 + 5 * elapsed + 1
    assert {answer.status for answer in answers} == {401}


async def test_junk_api_keys_make_at_most_50_calls_and_are_answered_as_clerk_unreachable(
    start_service: Callable[..., Awaitable[Running]], live_clerk: FakeClerk
) -> None:
    """1,000 distinct ``ak_`` strings shaped like real keys: at most 50 calls; the ones over the limit get Clerk's
    signed-out reason for a Backend API it could not reach (``unexpected-error``, status n/a), and /metrics
    counts them."""
    service = await start_service(live_clerk, CLERK_AUTHD_ACCEPTS_TOKEN="api_key")
    answers = await flood(service, (bearer(key_shaped()) for _ in range(FLOOD)))
    assert calls(live_clerk, API_KEY_PATH) <= MAX_CALLS
    reasons = {answer.headers["X-Clerk-Auth-Reason"] for answer in answers}
    assert reasons == {"token-invalid", "unexpected-error"}
    limited = [a for a in answers if a.headers["X-Clerk-Auth-Reason"] == "unexpected-error"]
    assert "status=n/a" in limited[0].headers["X-Clerk-Auth-Message"]
    metrics = (await service.call("/metrics")).body.decode()
    assert f'clerk_authd_bapi_limited_total{{call="api_key"}} {float(len(limited))}' in metrics


async def test_tokens_that_cannot_be_clerks_are_refused_without_a_call(
    start_service: Callable[..., Awaitable[Running]], live_clerk: FakeClerk
) -> None:
    """A nonce or API key no Clerk endpoint could accept (spaces, quotes, non-ASCII, over 512 characters) is
    answered as Clerk answers an unknown one, without asking Clerk."""
    service = await start_service(live_clerk, CLERK_AUTHD_ACCEPTS_TOKEN="api_key,session_token")
    for junk in ["ak_" + "x" * 600, "ak_a'b", "ak_\u00e9t\u00e9", 'ak_a"b']:
        answer = await service.call("/verify", headers=bearer(junk))
        assert (answer.status, answer.headers["X-Clerk-Auth-Reason"]) == (401, "token-invalid")
    for nonce in ["n" * 600, "a%20b", "caf\u00e9"]:
        answer = await service.call("/verify", headers={"Cookie": f"__clerk_handshake_nonce={nonce}"})
        assert answer.status == 401
    assert calls(live_clerk, API_KEY_PATH) == calls(live_clerk, HANDSHAKE_PATH) == 0


async def test_twenty_checks_of_one_api_key_make_one_call(
    start_service: Callable[..., Awaitable[Running]], live_clerk: FakeClerk
) -> None:
    """Clerk's answer is reused for CLERK_AUTHD_MACHINE_CACHE_S (10 s), and concurrent checks share one call."""
    key = key_shaped()
    live_clerk.register_machine_token(key, "api_key", subject="user_1")
    service = await start_service(live_clerk, CLERK_AUTHD_ACCEPTS_TOKEN="api_key")
    first = await asyncio.gather(*(service.call("/verify", headers=bearer(key)) for _ in range(10)))
    second = [await service.call("/verify", headers=bearer(key)) for _ in range(10)]
    assert {answer.status for answer in [*first, *second]} == {200}
    assert calls(live_clerk, API_KEY_PATH) == 1


async def test_an_unknown_api_key_is_remembered_too(
    start_service: Callable[..., Awaitable[Running]], live_clerk: FakeClerk
) -> None:
    """Clerk's 404 is reused the same way: repeating one junk key costs one call."""
    service = await start_service(live_clerk, CLERK_AUTHD_ACCEPTS_TOKEN="api_key")
    junk = key_shaped()
    for _ in range(5):
        answer = await service.call("/verify", headers=bearer(junk))
        assert answer.headers["X-Clerk-Auth-Reason"] == "token-invalid"
    assert calls(live_clerk, API_KEY_PATH) == 1


async def test_a_rotated_key_is_fetched_during_a_flood(
    start_service: Callable[..., Awaitable[Running]], live_clerk: FakeClerk
) -> None:
    """Key-set fetches do not pass the limiter: while junk API keys have used it up, a token signed with a key
    Clerk has just rotated in triggers a fetch and verifies on first use."""
    service = await start_service(live_clerk, CLERK_AUTHD_ACCEPTS_TOKEN="api_key,session_token")
    fetches_before = live_clerk.jwks_fetches

    async def rotated_key_in_the_middle() -> Answer:
        await asyncio.sleep(0.2)
        live_clerk.rotate()
        return await service.call("/verify", headers=bearer(live_clerk.session_token(azp="http://localhost:3000")))

    _, answer = await asyncio.gather(
        flood(service, (bearer(key_shaped()) for _ in range(FLOOD // 2))), rotated_key_in_the_middle()
    )
    assert answer.status == 200
    assert live_clerk.jwks_fetches == fetches_before + 1
    assert calls(live_clerk, API_KEY_PATH) <= MAX_CALLS


async def test_a_replayed_expired_token_with_junk_refresh_cookies_is_bounded(
    start_service: Callable[..., Awaitable[Running]], live_clerk: FakeClerk
) -> None:
    """A real expired session token replayed with distinct refresh cookies: every refresh goes through the
    same limiter."""
    service = await start_service(live_clerk)
    expired = live_clerk.session_token(now=time.time() - 3600, azp="http://localhost:3000")
    suffix = live_clerk.cookie_suffix
    headers = (
        {"Cookie": f"__session={expired}; __client_uat=1; __refresh_{suffix}=junk{secrets.token_hex(8)}"}
        for _ in range(FLOOD // 2)
    )
    answers = await flood(service, headers)
    refreshes = sum(1 for request in live_clerk.received if request.path.endswith("/refresh"))
    assert 0 < refreshes <= MAX_CALLS
    assert {answer.status for answer in answers} == {401}
