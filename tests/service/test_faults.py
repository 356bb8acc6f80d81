"""Faults survived: a real service against FakeClerk's failure switches, with its clocks in the test's hands.

Clerk down at start, down for hours (on moved clocks: nothing sleeps for long), slow, serving garbage or an
empty key set, a wrong secret key, key rotation, a flood of unknown kids and a storm of 429s. The last test
reads every log record this module produced (debug level included) and looks for every token and secret the
module used: none may appear.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sanic import Sanic

from clerk_authd.config import load_settings
from clerk_authd.service.app import create_app
from clerk_authd.service.logging import JsonFormatter, TextFormatter
from clerk_authd.testing.fake_clerk import FakeClerk
from clerk_authd.testing.mint import b64url
from tests.servers import PK_LIVE_LOCAL, Answer, Running, bearer, unique_app_name

AZP = "http://localhost:3000"
HOUR = 3600.0
STALE_S = 86400.0
#: every token, key and secret this module hands to a service; the last test looks for each in the logs
USED: set[str] = set()


def used(value: str) -> str:
    """Remember ``value`` as a secret the logs must not contain, and return it."""
    USED.add(value)
    return value


class _Collector(logging.Handler):
    """Every record, formatted both ways the service can write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self._formats = (JsonFormatter(), TextFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.extend(formatter.format(record) for formatter in self._formats)


COLLECTOR = _Collector()


@pytest.fixture(scope="module", autouse=True)
def collect_every_record() -> Iterator[None]:
    """The collector sits on the root logger for the whole module (before each test's logging snapshot)."""
    root = logging.getLogger()
    root.addHandler(COLLECTOR)
    yield
    root.removeHandler(COLLECTOR)


@dataclass
class Clocks:
    """The service's wall and monotonic clocks, both moved by ``advance``."""

    offset: float = 0.0

    def wall(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Faulty:
    """A service, its FakeClerk and its clocks."""

    service: Running
    fake: FakeClerk
    clocks: Clocks
    answers: list[Answer] = field(default_factory=list)

    def token(self, **claims: Any) -> str:
        """A session token of the fake's current key, stamped on the service's clock."""
        claims.setdefault("azp", AZP)
        claims.setdefault("now", self.clocks.wall())
        return used(self.fake.session_token(**claims))

    async def verify(self, token: str | None = None, **headers: str) -> Answer:
        return await self.service.call("/verify", headers={**(bearer(token) if token else {}), **headers})

    async def ready(self) -> Answer:
        return await self.service.call("/readyz")


@pytest.fixture
async def fake() -> AsyncIterator[FakeClerk]:
    secret_key = used("sk_test_" + secrets.token_hex(16))
    async with FakeClerk(publishable_key=PK_LIVE_LOCAL, secret_key=secret_key) as clerk:
        yield clerk


@pytest.fixture
def start(
    serve_app: Callable[[Sanic[Any, Any]], Awaitable[Running]], fake: FakeClerk
) -> Callable[..., Awaitable[Faulty]]:
    """Start the service against ``fake`` at debug level, on clocks the test moves."""

    async def begin(**variables: str) -> Faulty:
        clocks = Clocks()
        settings = load_settings(
            {
                "CLERK_PUBLISHABLE_KEY": fake.publishable_key,
                "CLERK_SECRET_KEY": fake.secret_key,
                "CLERK_API_URL": fake.url,
                "CLERK_AUTHORIZED_PARTIES": AZP,
                "CLERK_AUTHD_LOG_LEVEL": "debug",
                "CLERK_AUTHD_DEBUG": "true",
                **variables,
            }
        )
        app = create_app(settings, name=unique_app_name("faults"), clock=clocks.wall, monotonic=clocks.monotonic)
        return Faulty(await serve_app(app), fake, clocks)

    return begin


def forged_kid(token: str, kid: str) -> str:
    """``token`` with another ``kid`` in its header (the signature no longer matters: the key lookup fails)."""
    _, payload, signature = token.split(".")
    header = b64url(json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}).encode())
    return f"{header}.{payload}.{signature}"


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float) -> float:
    """Seconds until ``check()`` holds, polling every 0.1 s; fails after ``within_s``."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < within_s, "did not happen in time"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_clerk_down_at_start_fails_closed_then_recovers(
    start: Callable[..., Awaitable[Faulty]], fake: FakeClerk
) -> None:
    """No keys yet: /readyz and /verify are 503 (never an allow); once Clerk is back, the background refresh
    (backoff from 1 s) loads the keys without any request asking."""
    fake.go_down()
    faulty = await start()
    token = faulty.token()
    ready = await faulty.ready()
    assert ready.status == 503
    assert "jwk-remote-failed-to-load" in ready.json()["reason"]
    denied = await faulty.verify(token)
    assert (denied.status, denied.headers["X-Clerk-Auth-Reason"]) == (503, "jwk-remote-failed-to-load")
    fetches_while_down = fake.jwks_fetches
    fake.heal()

    async def ready_again() -> bool:
        return (await faulty.ready()).status == 200

    await eventually(ready_again, within_s=8)
    assert fake.jwks_fetches - fetches_while_down <= 3  # backoff, not a retry loop
    assert (await faulty.verify(token)).status == 200


async def test_clerk_down_for_hours_serves_known_keys_until_the_stale_limit_then_fails_closed(
    start: Callable[..., Awaitable[Faulty]], fake: FakeClerk
) -> None:
    """Finding 3 among them: a verdict cached before the outage stops at the stale limit with the fresh ones."""
    faulty = await start()
    cached = faulty.token(ttl_s=3 * 86400)
    assert (await faulty.verify(cached)).status == 200
    fake.go_down()
    faulty.clocks.advance(STALE_S - HOUR)  # 23 hours without Clerk
    fresh = faulty.token(ttl_s=3 * 86400)
    assert (await faulty.verify(cached)).status == 200
    assert (await faulty.verify(fresh)).status == 200
    assert (await faulty.ready()).status == 200
    faulty.clocks.advance(2 * HOUR)  # 25 hours
    for token in (cached, fresh):
        answer = await faulty.verify(token)
        assert (answer.status, answer.headers["X-Clerk-Auth-Reason"]) == (503, "jwk-remote-failed-to-load")
    assert (await faulty.ready()).status == 503
    fake.heal()
    faulty.clocks.advance(60)  # past the refetch interval: the next request may fetch
    assert (await faulty.verify(cached)).status == 200


async def test_a_slow_clerk_bounds_every_wait_and_fetches_do_not_pile_up(
    start: Callable[..., Awaitable[Faulty]], fake: FakeClerk
) -> None:
    """Ten requests for a key Clerk has just rotated in, while Clerk takes 7 s to answer: one fetch for all,
    every answer within the Backend API timeout (5 s) plus a margin, and the known key keeps serving."""
    faulty = await start()
    known = faulty.token()
    fake.rotate()
    rotated = faulty.token()
    fake.slow(7)
    started = time.monotonic()
    answers = await asyncio.gather(*(faulty.verify(rotated) for _ in range(10)), faulty.verify(known))
    elapsed = time.monotonic() - started
    assert elapsed < 6.5
    assert {a.headers["X-Clerk-Auth-Reason"] for a in answers[:10]} == {"jwk-kid-mismatch"}
    assert answers[10].status == 200
    assert fake.jwks_fetches == 2  # the start, and one shared fetch


@pytest.mark.parametrize("fault", ["garbage", "empty"])
async def test_a_garbage_or_empty_key_set_leaves_the_last_good_keys(
    start: Callable[..., Awaitable[Faulty]], fake: FakeClerk, fault: str
) -> None:
    """A 200 that is not JSON, or ``{"keys": []}``: the fetch fails, the keys already loaded stay."""
    faulty = await start()
    token = faulty.token()
    if fault == "garbage":
        fake.serve_garbage()
    else:
        fake.serve_empty_keys()
    unknown = await faulty.verify(forged_kid(token, "ins_unknown"))  # makes the service fetch
    assert unknown.headers["X-Clerk-Auth-Reason"] == "jwk-kid-mismatch"
    assert fake.jwks_fetches == 2
    assert (await faulty.verify(token)).status == 200
    assert (await faulty.ready()).status == 200


async def test_a_wrong_secret_key_is_a_clear_error_in_readyz_and_the_logs(
    start: Callable[..., Awaitable[Faulty]],
) -> None:
    """Clerk's 401 ``clerk_key_invalid``: /readyz names secret-key-invalid, a warning says so, nothing is allowed."""
    wrong = used("sk_test_" + secrets.token_hex(16))
    before = len(COLLECTOR.texts)
    faulty = await start(CLERK_SECRET_KEY=wrong)
    ready = await faulty.ready()
    assert ready.status == 503
    assert ready.json()["reason"].startswith("secret-key-invalid: ")
    assert any("reason=secret-key-invalid" in text for text in COLLECTOR.texts[before:])
    assert (await faulty.verify(faulty.token())).status == 503


async def test_a_rotated_key_works_on_first_use_and_a_retired_one_stops_after_the_next_refresh(
    start: Callable[..., Awaitable[Faulty]], fake: FakeClerk
) -> None:
    """Rotation needs no restart; retirement reaches cached verdicts too."""
    faulty = await start()
    old_kid = fake.mint.kid
    old = faulty.token()
    assert (await faulty.verify(old)).status == 200
    fake.rotate()
    new = faulty.token()
    assert (await faulty.verify(new)).status == 200  # first use of the new kid fetched the set
    fake.retire_key(old_kid)
    assert (await faulty.verify(old)).status == 200  # cached, and the set was not fetched since
    faulty.clocks.advance(11)  # past CLERK_AUTHD_JWKS_MIN_REFETCH_S: an unknown kid may fetch again
    await faulty.verify(forged_kid(new, "ins_unknown"))
    refused = await faulty.verify(old)
    assert (refused.status, refused.headers["X-Clerk-Auth-Reason"]) == (401, "jwk-kid-mismatch")
    assert (await faulty.verify(new)).status == 200


async def test_an_unknown_kid_flood_fetches_once_per_interval_and_valid_traffic_passes(
    start: Callable[..., Awaitable[Faulty]], fake: FakeClerk
) -> None:
    """300 tokens with random kids: one fetch in the refetch interval, and valid tokens between them pass."""
    faulty = await start()
    valid = faulty.token()
    gate = asyncio.Semaphore(25)

    async def one(i: int) -> Answer:
        async with gate:
            if i % 10 == 0:
                return await faulty.verify(valid)
            return await faulty.verify(forged_kid(valid, f"ins_{secrets.token_hex(6)}"))

    answers = await asyncio.gather(*(one(i) for i in range(300)))
    assert fake.jwks_fetches <= 2
    assert {answers[i].status for i in range(0, 300, 10)} == {200}
    assert {a.headers["X-Clerk-Auth-Reason"] for i, a in enumerate(answers) if i % 10} == {"jwk-kid-mismatch"}


async def test_a_429_storm_is_held_by_the_limiter_and_key_fetches_still_happen(
    start: Callable[..., Awaitable[Faulty]], fake: FakeClerk
) -> None:
    """Clerk answers 429 to everything: junk API keys stay within the limiter, the known key keeps serving,
    and an unknown kid still triggers its key-set fetch (which the storm then fails)."""
    faulty = await start(CLERK_AUTHD_ACCEPTS_TOKEN="api_key,session_token")
    valid = faulty.token()
    fake.fail_with(429)
    started = time.monotonic()
    gate = asyncio.Semaphore(25)

    async def junk() -> Answer:
        async with gate:
            return await faulty.verify(used("ak_" + secrets.token_hex(20)))

    answers = await asyncio.gather(*(junk() for _ in range(300)))
    calls = sum(1 for request in fake.received if request.path == "/api_keys/verify")
    assert calls <= 20 + 5 * (time.monotonic() - started) + 1
    assert {a.status for a in answers} == {401}
    fetches = fake.jwks_fetches
    await faulty.verify(forged_kid(valid, "ins_unknown"))
    assert fake.jwks_fetches == fetches + 1
    assert (await faulty.verify(valid)).status == 200


async def test_handshakes_and_refreshes_of_the_suite_use_secrets_too(
    start: Callable[..., Awaitable[Faulty]], fake: FakeClerk
) -> None:
    """Put a nonce, a refresh cookie and an API key through the service, so the log search below covers them."""
    faulty = await start(CLERK_AUTHD_ACCEPTS_TOKEN="any")
    key = used("ak_" + secrets.token_hex(20))
    fake.register_machine_token(key, "api_key", subject="user_1")
    assert (await faulty.verify(key)).status == 200
    session = faulty.token()
    nonce = used("nonce_" + secrets.token_hex(16))
    fake.register_handshake_nonce(nonce, [f"__session={session}; Path=/", "__client_uat=1; Path=/"])
    assert (await faulty.verify(Cookie=f"__clerk_handshake_nonce={nonce}")).status == 200
    expired = faulty.token(now=faulty.clocks.wall() - HOUR, session_id="sess_refresh")
    refresh = used("refresh_" + secrets.token_hex(16))
    fake.register_refresh_token("sess_refresh", refresh)
    cookie = f"__session={expired}; __client_uat=1; __refresh_{fake.cookie_suffix}={refresh}"
    await faulty.verify(Cookie=cookie)
    assert any(request.path.endswith("/refresh") for request in fake.received)


def test_no_log_record_holds_a_token_or_a_secret() -> None:
    """Every record of this module, debug level included, in both formats: no token, key or secret, nor the
    signature of a JWT or the secret part of an opaque token on its own."""
    assert len(COLLECTOR.texts) > 100
    assert len(USED) > 10
    needles = set(USED)
    for value in USED:
        if value.count(".") == 2:
            needles.add(value.rsplit(".", 1)[1])
        elif "_" in value:
            needles.add(value.split("_", 1)[1] if not value.startswith("sk_") else value.split("_", 2)[2])
    leaked = sorted({needle[:12] for needle in needles for text in COLLECTOR.texts if needle in text})
    assert not leaked, f"in the logs: {leaked}"
