"""KeyStore against a real FakeClerk: rotation, refetch floods, outages, bad keys, and shutdown.

The clock is a ``ManualClock`` the tests move; the background loop's waits go through ``ManualSleep``, so
nothing here waits for a TTL.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import string
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import ECKey

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.keystore import MSG_EMPTY_SET, REFRESH_TASK_NAME, KeyStore, backoff_delay
from clerk_authd.errors import Action, TokenVerificationError
from clerk_authd.reasons import Reason
from clerk_authd.testing.fake_clerk import MSG_INVALID_SECRET_KEY, FakeClerk
from clerk_authd.testing.mint import TokenMint

REFRESH_S = 300.0
MIN_REFETCH_S = 10.0
STALE_S = 3600.0


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ManualSleep:
    """Stands in for ``asyncio.sleep`` in the refresh loop: records each delay, returns when ``tick()`` is called."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._asleep = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._asleep.set()
        await waiter

    async def settled(self) -> None:
        """Return once the loop is waiting."""
        async with asyncio.timeout(5):
            await self._asleep.wait()

    async def tick(self) -> None:
        """End the current wait and let the loop run one round, until it waits again."""
        await self.settled()
        self._asleep.clear()
        self._waiters.pop(0).set_result(None)
        await self.settled()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sleep() -> ManualSleep:
    return ManualSleep()


@pytest.fixture
async def make_store(
    clerk_client: ClerkClient, clock: ManualClock, sleep: ManualSleep
) -> AsyncIterator[Callable[..., KeyStore]]:
    """Builds stores over the FakeClerk client with the manual clock and sleep; closes them after the test."""
    stores: list[KeyStore] = []

    def build(client: ClerkClient | None = None, **options: Any) -> KeyStore:
        options = {"refresh_s": REFRESH_S, "min_refetch_s": MIN_REFETCH_S, "stale_s": STALE_S, **options}
        store = KeyStore(client or clerk_client, clock=clock, sleep=sleep, **options)
        stores.append(store)
        return store

    yield build
    for store in stores:
        await store.close(deadline_s=1.0)


def random_kid() -> str:
    return "ins_" + "".join(random.choices(string.ascii_letters + string.digits, k=27))


async def expect_error(store: KeyStore, kid: str | None) -> TokenVerificationError:
    with pytest.raises(TokenVerificationError) as caught:
        await store.get_key(kid)
    return caught.value


def kid_mismatch_message(kid: str) -> str:
    return (
        f"Unable to find a signing key in JWKS that matches the kid='{kid}' of the provided session token. "
        "Please make sure that the __session cookie or the HTTP authorization header contain a Clerk-generated "
        "session JWT."
    )


# -- loading and serving ---------------------------------------------------------------------------------


async def test_start_loads_the_set_and_reports_it(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore], clock: ManualClock
) -> None:
    """start() fetches once; status says loaded, ready, age 0, no error, and which kids are known."""
    store = make_store()
    assert store.status().loaded is False
    await store.start()
    assert store.fetch_count == 1
    assert store.status().loaded is True
    assert store.status().ready is True
    assert store.status().age_s == 0
    assert store.status().last_error is None
    assert store.status().kids == (fake_clerk.mint.kid,)
    clock.advance(42)
    assert store.status().age_s == 42


async def test_a_known_kid_is_served_from_memory(fake_clerk: FakeClerk, make_store: Callable[..., KeyStore]) -> None:
    """Resolving a loaded kid costs no fetch, however often it is asked for."""
    store = make_store()
    await store.start()
    for _ in range(100):
        key = await store.get_key(fake_clerk.mint.kid)
    assert key.kid == fake_clerk.mint.kid
    assert store.fetch_count == fake_clerk.jwks_fetches == 1


async def test_the_refresh_task_is_named_and_owned(make_store: Callable[..., KeyStore]) -> None:
    """start() leaves one named background task; close() cancels it within its deadline."""
    store = make_store()
    await store.start()
    tasks = [t for t in asyncio.all_tasks() if t.get_name() == REFRESH_TASK_NAME]
    assert len(tasks) == 1
    started = time.monotonic()
    await store.close(deadline_s=1.0)
    assert time.monotonic() - started < 1.0
    assert tasks[0].cancelled()


async def test_a_store_used_before_start_loads_on_first_use(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore]
) -> None:
    """get_key on a store nobody started fetches the set instead of failing."""
    store = make_store()
    assert (await store.get_key(fake_clerk.mint.kid)).kid == fake_clerk.mint.kid


# -- rotation and unknown kids -----------------------------------------------------------------------------


async def test_a_rotated_in_key_works_on_the_first_token_that_uses_it(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore]
) -> None:
    """An unknown kid triggers one refetch, which finds the new key at once."""
    store = make_store()
    await store.start()
    new = fake_clerk.rotate()
    assert (await store.get_key(new.kid)).kid == new.kid
    assert store.fetch_count == fake_clerk.jwks_fetches == 2


async def test_a_flood_of_unknown_kids_costs_one_fetch_per_interval(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore], clock: ManualClock
) -> None:
    """1,000 concurrent random kids share one in-flight fetch; more kids inside the interval fetch nothing."""
    store = make_store()
    await store.start()
    results = await asyncio.gather(*(store.get_key(random_kid()) for _ in range(1000)), return_exceptions=True)
    assert all(isinstance(r, TokenVerificationError) and r.reason == Reason.JWK_KID_MISMATCH for r in results)
    assert store.fetch_count == fake_clerk.jwks_fetches == 2
    clock.advance(MIN_REFETCH_S - 0.1)
    await expect_error(store, random_kid())
    assert store.fetch_count == 2
    clock.advance(0.1)
    await expect_error(store, random_kid())
    assert store.fetch_count == 3
    assert (await store.get_key(fake_clerk.mint.kid)).kid == fake_clerk.mint.kid


async def test_a_flood_while_clerk_fails_costs_one_fetch_per_interval(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore]
) -> None:
    """A never-loaded store does not hammer a failing Clerk: concurrent callers share one fetch."""
    fake_clerk.go_down()
    store = make_store()
    await store.start()
    results = await asyncio.gather(*(store.get_key(random_kid()) for _ in range(1000)), return_exceptions=True)
    assert all(isinstance(r, TokenVerificationError) for r in results)
    assert store.fetch_count == fake_clerk.jwks_fetches == 2


async def test_an_unknown_kid_gets_clerks_exact_kid_mismatch(make_store: Callable[..., KeyStore]) -> None:
    """Clerk's jwk-kid-mismatch message and action; the known kids are not listed."""
    store = make_store()
    await store.start()
    error = await expect_error(store, "ins_unknown")
    assert error.reason == Reason.JWK_KID_MISMATCH
    assert error.message == kid_mismatch_message("ins_unknown")
    assert error.action == Action.VERIFY_KEYS


async def test_a_missing_kid_is_shown_as_undefined_and_fetches_nothing(
    make_store: Callable[..., KeyStore],
) -> None:
    """A token without a kid can match no key: Clerk's message says kid='undefined', and no refetch happens."""
    store = make_store()
    await store.start()
    error = await expect_error(store, None)
    assert (error.reason, error.message) == (Reason.JWK_KID_MISMATCH, kid_mismatch_message("undefined"))
    await expect_error(store, "")
    assert store.fetch_count == 1


async def test_every_caller_gets_its_own_error(make_store: Callable[..., KeyStore]) -> None:
    """Errors are built per call, so setting token_carrier on one never shows up on another."""
    store = make_store()
    await store.start()
    first = await expect_error(store, "ins_a")
    first.token_carrier = "header"
    second = await expect_error(store, "ins_a")
    assert first is not second
    assert second.token_carrier is None


async def test_a_retired_kid_is_reported_and_stops_resolving(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore]
) -> None:
    """A refresh that drops kids calls on_keys_removed with exactly those kids."""
    removed: list[frozenset[str]] = []
    store = make_store(on_keys_removed=removed.append)
    await store.start()
    old = fake_clerk.mint.kid
    new = fake_clerk.rotate()
    fake_clerk.retire_key(old)
    await store.get_key(new.kid)
    assert removed == [frozenset({old})]
    assert (await expect_error(store, old)).reason == Reason.JWK_KID_MISMATCH


async def test_a_failing_removal_callback_does_not_break_the_refresh(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore], caplog: pytest.LogCaptureFixture
) -> None:
    """An exception from on_keys_removed is logged; the new set is still in place."""

    def explode(kids: frozenset[str]) -> None:
        raise RuntimeError("cache is gone")

    store = make_store(on_keys_removed=explode)
    await store.start()
    old = fake_clerk.mint.kid
    new = fake_clerk.rotate()
    fake_clerk.retire_key(old)
    assert (await store.get_key(new.kid)).kid == new.kid
    assert "on_keys_removed failed" in caplog.text


# -- outages ---------------------------------------------------------------------------------------------------


async def test_known_keys_keep_working_through_an_outage_until_the_stale_limit(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore], clock: ManualClock
) -> None:
    """Last good keys serve until stale_s after the last success; then the store fails closed, and recovers."""
    store = make_store()
    await store.start()
    kid = fake_clerk.mint.kid
    fake_clerk.go_down()
    clock.advance(STALE_S)
    assert (await store.get_key(kid)).kid == kid
    await expect_error(store, "ins_new")  # a refetch inside the window fails; the set stays
    assert store.status().ready is True
    assert store.status().last_error is not None
    clock.advance(MIN_REFETCH_S)
    error = await expect_error(store, kid)
    assert error.reason == Reason.JWK_REMOTE_FAILED_TO_LOAD
    assert error.message == f"Error loading Clerk JWKS from {fake_clerk.url}/v1/jwks with code=503"
    assert error.action == Action.CONTACT_SUPPORT
    assert store.status().ready is False
    assert store.status().loaded is True
    fake_clerk.heal()
    clock.advance(MIN_REFETCH_S)
    assert (await store.get_key(kid)).kid == kid
    assert store.status().ready is True
    assert store.status().last_error is None


async def test_a_refetch_inside_a_good_set_still_answers_kid_mismatch(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore]
) -> None:
    """While the set is fresh, an unknown kid is the token's problem even if the refetch failed."""
    store = make_store()
    await store.start()
    fake_clerk.go_down()
    assert (await expect_error(store, "ins_new")).reason == Reason.JWK_KID_MISMATCH
    assert store.fetch_count == 2


@pytest.mark.parametrize(
    ("break_clerk", "reason", "message"),
    [
        (
            lambda fake: fake.go_down(),
            Reason.JWK_REMOTE_FAILED_TO_LOAD,
            "Error loading Clerk JWKS from {url} with code=503",
        ),
        (
            lambda fake: fake.fail_with(500),
            Reason.JWK_REMOTE_FAILED_TO_LOAD,
            "Error loading Clerk JWKS from {url} with code=500",
        ),
        (lambda fake: fake.serve_empty_keys(), Reason.JWK_REMOTE_FAILED_TO_LOAD, MSG_EMPTY_SET),
        (
            lambda fake: fake.serve_garbage(),
            Reason.JWK_REMOTE_FAILED_TO_LOAD,
            "Error loading Clerk JWKS from {url}: the answer was not a JSON key set",
        ),
        (
            lambda fake: fake.fail_with(401, [{"code": "clerk_key_invalid", "message": "Nope."}]),
            Reason.SECRET_KEY_INVALID,
            "Nope.",
        ),
    ],
    ids=["503", "500", "empty set", "garbage", "clerk_key_invalid"],
)
async def test_a_never_loaded_store_fails_closed_with_clerks_reason(
    fake_clerk: FakeClerk,
    make_store: Callable[..., KeyStore],
    break_clerk: Callable[[FakeClerk], None],
    reason: str,
    message: str,
) -> None:
    """start() does not raise; every kid, known or not, gets the failed fetch's reason and message."""
    break_clerk(fake_clerk)
    store = make_store()
    await store.start()
    error = await expect_error(store, fake_clerk.mint.kid)
    url = f"{fake_clerk.url}/v1/jwks"
    assert (error.reason, error.message, error.action) == (reason, message.format(url=url), Action.CONTACT_SUPPORT)
    assert store.status().loaded is False
    assert store.status().ready is False
    assert store.status().last_error == f"{reason}: {message.format(url=url)}"


async def test_a_wrong_secret_key_is_secret_key_invalid(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore]
) -> None:
    """Clerk's 401 clerk_key_invalid becomes secret-key-invalid carrying Clerk's own message."""
    async with ClerkClient(secret_key="sk_test_wrong", api_url=fake_clerk.url) as client:
        store = make_store(client)
        await store.start()
        error = await expect_error(store, fake_clerk.mint.kid)
    assert (error.reason, error.message) == (Reason.SECRET_KEY_INVALID, MSG_INVALID_SECRET_KEY)


async def test_an_unreachable_api_is_jwk_remote_failed_to_load(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore], caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listening is a load failure that says so in Clerk's words; the transport's detail is only logged."""
    url = fake_clerk.url
    await fake_clerk.stop()
    async with ClerkClient(secret_key="sk", api_url=url, timeout_s=1.0) as client:
        store = make_store(client)
        await store.start()
        error = await expect_error(store, "ins_x")
    assert error.reason == Reason.JWK_REMOTE_FAILED_TO_LOAD
    assert error.message == f"Error loading Clerk JWKS from {url}/v1/jwks: the Backend API could not be reached"
    assert "Cannot connect" in caplog.text or "ClientConnector" in caplog.text


# -- hostile key sets ------------------------------------------------------------------------------------------


def rsa_jwk(kid: str, *, bits: int = 2048, exponent: int = 65537, **extra: str) -> dict[str, str]:
    mint = TokenMint(rsa.generate_private_key(public_exponent=exponent, key_size=bits), kid)
    return {**mint.jwk, **extra}


BAD_KEYS: dict[str, dict[str, str]] = {
    "rsa-1024": rsa_jwk("rsa-1024", bits=1024),
    "rsa-e3": rsa_jwk("rsa-e3", exponent=3),
    "oct": {"kty": "oct", "kid": "oct", "alg": "HS256", "k": base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("=")},
    "use-enc": rsa_jwk("use-enc", use="enc"),
    "ec": {**ECKey.generate_key("P-256").as_dict(private=False), "kid": "ec", "alg": "ES256"},
}


async def test_one_bad_key_leaves_the_others_usable(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore], caplog: pytest.LogCaptureFixture
) -> None:
    """Each unusable entry is skipped with a log line; the good key resolves, the bad kids never do."""
    for jwk in BAD_KEYS.values():
        fake_clerk.add_key(jwk)
    store = make_store()
    with caplog.at_level(logging.WARNING, logger="clerk_authd.clerk.keystore"):
        await store.start()
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipping JWKS entry")]
    assert [any(f"kid='{kid}'" in line for line in skipped) for kid in BAD_KEYS] == [True] * len(BAD_KEYS)
    assert (await store.get_key(fake_clerk.mint.kid)).kid == fake_clerk.mint.kid
    assert store.status().kids == (fake_clerk.mint.kid,)
    for kid in BAD_KEYS:
        assert (await expect_error(store, kid)).reason == Reason.JWK_KID_MISMATCH


async def test_a_kid_served_twice_is_refused(fake_clerk: FakeClerk, make_store: Callable[..., KeyStore]) -> None:
    """Two entries sharing a kid make that kid unresolvable (no guessing which one signed)."""
    fake_clerk.add_key(TokenMint.generate(kid="ins_twin"))
    fake_clerk.add_key(TokenMint.generate(kid="ins_twin"))
    store = make_store()
    await store.start()
    assert store.status().kids == (fake_clerk.mint.kid,)
    assert (await expect_error(store, "ins_twin")).reason == Reason.JWK_KID_MISMATCH


async def test_a_set_with_no_usable_key_is_a_failed_load(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore]
) -> None:
    """Only bad keys served: the fetch counts as failed, so the store stays unloaded and fails closed."""
    fake_clerk.retire_key(fake_clerk.mint.kid)
    fake_clerk.add_key(BAD_KEYS["ec"])
    store = make_store()
    await store.start()
    error = await expect_error(store, "ec")
    assert error.reason == Reason.JWK_REMOTE_FAILED_TO_LOAD
    assert "did not contain any usable RS256 signing keys" in error.message


# -- the background refresh ---------------------------------------------------------------------------------


async def test_the_background_refresh_picks_up_changes_every_refresh_s(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore], sleep: ManualSleep
) -> None:
    """The loop waits refresh_s, fetches, and replaces the set."""
    store = make_store()
    await store.start()
    await sleep.settled()
    assert sleep.delays == [REFRESH_S]
    new = fake_clerk.rotate()
    await sleep.tick()
    assert store.fetch_count == 2
    assert new.kid in store.status().kids
    assert sleep.delays == [REFRESH_S, REFRESH_S]


async def test_the_background_refresh_backs_off_while_clerk_fails(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore], sleep: ManualSleep
) -> None:
    """Failures double the wait (with jitter) up to refresh_s; one success restores the period."""
    store = make_store(refresh_s=5.0)
    await store.start()
    fake_clerk.go_down()
    for _ in range(5):
        await sleep.tick()
    backoffs = sleep.delays[1:]
    for failures, delay in enumerate(backoffs, start=1):
        ceiling = min(5.0, 2.0 ** (failures - 1))
        assert ceiling / 2 <= delay <= ceiling
    fake_clerk.heal()
    await sleep.tick()
    assert sleep.delays[-1] == 5.0


async def test_a_store_that_failed_to_start_retries_with_backoff(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore], sleep: ManualSleep
) -> None:
    """A failed first load schedules the next attempt after a backoff, not a whole refresh_s."""
    fake_clerk.go_down()
    store = make_store()
    await store.start()
    await sleep.settled()
    assert 0.5 <= sleep.delays[0] <= 1.0
    fake_clerk.heal()
    await sleep.tick()
    assert store.status().ready is True


async def test_a_crash_inside_the_refresh_is_logged_and_the_loop_carries_on(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore], sleep: ManualSleep, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected exception in a refresh never kills the task."""

    class CrashingClient(ClerkClient):
        crash = False

        async def get_jwks(self) -> dict[str, Any]:
            if self.crash:
                raise RuntimeError("bug")
            return await super().get_jwks()

    async with CrashingClient(secret_key=fake_clerk.secret_key, api_url=fake_clerk.url) as client:
        store = make_store(client)
        await store.start()
        client.crash = True
        await sleep.tick()
        assert "JWKS refresh crashed" in caplog.text
        client.crash = False
        await sleep.tick()
        assert store.fetch_count == 3
        await store.close()


@pytest.mark.parametrize(
    ("failures", "jitter", "expected"),
    [
        (1, 0.0, 0.5),
        (1, 1.0, 1.0),
        (2, 0.0, 1.0),
        (4, 1.0, 8.0),
        (9, 1.0, 256.0),
        (10, 0.0, 150.0),
        (10, 1.0, 300.0),
        (10_000, 1.0, 300.0),
    ],
)
def test_backoff_doubles_from_one_second_capped_at_the_refresh_period(
    failures: int, jitter: float, expected: float
) -> None:
    """1 s, 2 s, 4 s, … never above refresh_s, scaled into its upper half by the jitter."""
    assert backoff_delay(failures, 300.0, jitter) == expected


# -- shutdown --------------------------------------------------------------------------------------------------


async def test_close_cancels_a_fetch_in_flight_and_its_waiters_still_get_an_answer(
    fake_clerk: FakeClerk, make_store: Callable[..., KeyStore]
) -> None:
    """A request waiting on a fetch that close() cancels gets Clerk's answer, not CancelledError."""
    store = make_store()
    await store.start()
    fake_clerk.slow(30.0)
    waiting = asyncio.create_task(store.get_key("ins_new"))
    async with asyncio.timeout(5):
        while fake_clerk.jwks_fetches < 2:  # noqa: ASYNC110 - the counter lives in FakeClerk, no event to await
            await asyncio.sleep(0.001)
    started = time.monotonic()
    await store.close(deadline_s=1.0)
    assert time.monotonic() - started < 1.0
    with pytest.raises(TokenVerificationError) as caught:
        await waiting
    assert caught.value.reason == Reason.JWK_KID_MISMATCH
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("clerk_authd.clerk.keystore")]
