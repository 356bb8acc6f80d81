"""Operations endpoints: health, readiness by key state, and the Prometheus metrics of decisions and keys."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest

from clerk_authd.rules import cached_verdict
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import Running, bearer

StartService = Callable[..., Awaitable[Running]]


def sample(metrics: str, name: str, labels: str = "") -> float:
    """The value of one sample in a Prometheus text exposition."""
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", metrics, re.MULTILINE)
    assert match is not None, f"{name}{labels} not exposed"
    return float(match.group(1))


async def test_healthz_answers_whenever_the_process_does(start_service: StartService, live_clerk: FakeClerk) -> None:
    """200 even while Clerk is down."""
    live_clerk.go_down()
    running = await start_service(live_clerk)
    answer = await running.call("/healthz")
    assert (answer.status, answer.json()) == (200, {"status": "ok"})


async def test_readyz_is_200_once_keys_are_loaded(service: Running, live_clerk: FakeClerk) -> None:
    """Ready with the key ids and the key set's age."""
    answer = await service.call("/readyz")
    assert answer.status == 200
    assert answer.json()["ready"] is True
    assert answer.json()["kids"] == [live_clerk.mint.kid]
    assert answer.json()["key_age_s"] >= 0


async def test_readyz_is_503_with_the_reason_without_keys(start_service: StartService, live_clerk: FakeClerk) -> None:
    """A service that never loaded keys is not ready, and says why."""
    live_clerk.go_down()
    answer = await (await start_service(live_clerk)).call("/readyz")
    assert answer.status == 503
    assert answer.json()["ready"] is False
    assert answer.json()["reason"].startswith("jwk-remote-failed-to-load: Error loading Clerk JWKS")


async def test_a_networkless_key_is_always_ready(start_service: StartService, live_clerk: FakeClerk) -> None:
    """With CLERK_JWT_KEY there is nothing to fetch: ready, and tokens verify while the Backend API is down."""
    live_clerk.go_down()
    running = await start_service(live_clerk, CLERK_JWT_KEY=live_clerk.mint.public_pem)
    assert (await running.call("/readyz")).status == 200
    token = live_clerk.session_token(user_id="user_1", ttl_s=600)
    assert (await running.call("/verify", headers=bearer(token))).status == 200


async def test_metrics_count_decisions_cache_and_key_fetches(service: Running, live_clerk: FakeClerk) -> None:
    """Decisions by endpoint/status/reason, cache hits and misses, JWKS fetches by outcome, key age, latency."""
    token = bearer(live_clerk.session_token(user_id="user_1", ttl_s=600))
    for _ in range(3):
        await service.call("/verify", headers=token)
    await service.call("/forward-auth")
    await service.call("/verify?role=owner", headers=token)
    metrics = (await service.call("/metrics")).body.decode()
    decisions = "clerk_authd_decisions_total"
    assert sample(metrics, decisions, '{endpoint="/verify",reason="",status="200"}') == 3
    assert sample(metrics, decisions, '{endpoint="/verify",reason="requirement-not-met",status="403"}') == 1
    assert sample(metrics, decisions, '{endpoint="/forward-auth",reason="session-token-and-uat-missing",status="401"}')
    assert sample(metrics, "clerk_authd_token_cache_total", '{result="miss"}') == 1
    assert sample(metrics, "clerk_authd_token_cache_total", '{result="hit"}') == 3
    assert sample(metrics, "clerk_authd_jwks_fetches_total", '{outcome="ok"}') == 1
    assert sample(metrics, "clerk_authd_jwks_age_seconds") >= 0
    assert sample(metrics, "clerk_authd_request_duration_seconds_count", '{endpoint="/verify"}') == 4


async def test_metrics_count_the_cached_verdicts_parsed_again(
    start_service: StartService, live_clerk: FakeClerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached session read less recently than the claims a worker keeps parsed is parsed again on its next hit,
    and counted: here a worker keeping one, serving two sessions in turn."""
    monkeypatch.setattr(cached_verdict, "_recent", cached_verdict.RecentClaims(1))
    running = await start_service(live_clerk)
    first, second = (bearer(live_clerk.session_token(user_id=user, ttl_s=600)) for user in ("user_1", "user_2"))
    for headers in (first, second, second, first):
        answer = await running.call("/verify", headers=headers)
        assert answer.status == 200
    metrics = (await running.call("/metrics")).body.decode()
    assert sample(metrics, "clerk_authd_token_cache_total", '{result="hit"}') == 2
    assert sample(metrics, "clerk_authd_reparsed_claims_total") == 1


async def test_failed_key_fetches_are_counted(start_service: StartService, live_clerk: FakeClerk) -> None:
    """A Backend API that answers errors shows up as error fetches."""
    live_clerk.go_down()
    running = await start_service(live_clerk)
    metrics = (await running.call("/metrics")).body.decode()
    assert sample(metrics, "clerk_authd_jwks_fetches_total", '{outcome="error"}') == 1
