"""``KeyStore``: the instance's JWKS from the Backend API, kept fresh in the background.

Clerk's SDK (clerk-semantics §14.6–§14.7) fetches the JWKS inside the request: on a cold cache, every five
minutes, and on **every** unknown ``kid``, each time with up to five retries (about 2–4 s). A flood of random
kids therefore becomes a flood of Backend API calls, and a Clerk outage stalls every request. This store
keeps Clerk's answers (reasons, messages, actions) but changes when it fetches:

- the set is loaded at ``start()`` and refreshed by one named background task every ``refresh_s``, with
  exponential backoff and jitter while Clerk fails;
- a request never retries. An unknown ``kid`` (or an unusable set) triggers one shared, single-flight
  fetch, at most once per ``min_refetch_s``: concurrent callers await the same fetch, and callers inside
  the interval get their answer from what is already known;
- when Clerk cannot be reached the last good keys keep serving until ``stale_s`` after the last success;
  a set that was never loaded (or has gone stale) fails closed with the last fetch error's reason.

Keys are vetted one at a time by ``keys.import_jwk``, so one bad entry never takes the others down
(jwt-attacks §3.16). When a refresh drops kids, ``on_keys_removed`` is told so cached verdicts go too; after
every successful fetch ``on_loaded`` is told, so cached verdicts stay usable exactly as long as the keys.

One class, one state machine (loaded, fresh, failing, stale), which is why this module runs past 300 lines.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.errors import Action, BackendAPIError, TokenVerificationError
from clerk_authd.reasons import Reason
from clerk_authd.rules.keys import UnusableKeyError, VerificationKey, import_jwk

log = logging.getLogger(__name__)

REFRESH_TASK_NAME: Final = "clerk_authd.clerk.keystore.refresh"
FETCH_TASK_NAME: Final = "clerk_authd.clerk.keystore.fetch"
INVALID_SECRET_KEY_CODE: Final = "clerk_key_invalid"
MSG_EMPTY_SET: Final = "The JWKS endpoint did not contain any signing keys. Contact support@clerk.com."
MSG_KID_MISMATCH: Final = (
    "Unable to find a signing key in JWKS that matches the kid='{kid}' of the provided session token. "
    "Please make sure that the __session cookie or the HTTP authorization header contain a Clerk-generated "
    "session JWT."
)
_BACKOFF_FIRST_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class KeyStoreStatus:
    """What ``/readyz``, ``/metrics`` and ``clerk-authd check`` report about the key set.

    ``ready``: keys are loaded and younger than ``stale_s``. ``age_s``: seconds since the last successful
    fetch. ``last_error``: ``"<reason>: <message>"`` of the latest failed fetch, cleared by a success.
    """

    ready: bool
    loaded: bool
    age_s: float | None
    last_error: str | None
    kids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Failure:
    """A fetch failure, kept as parts: every caller gets its own exception (callers set ``token_carrier``)."""

    reason: str
    message: str
    action: str | None

    def error(self) -> TokenVerificationError:
        return TokenVerificationError(self.reason, self.message, self.action, check="key")


def backoff_delay(failures: int, refresh_s: float, jitter: float) -> float:
    """Seconds to wait after ``failures`` consecutive failed fetches: 1 s doubling, capped at ``refresh_s``.

    ``jitter`` in ``[0, 1)`` scales the delay into its upper half, so a fleet of workers that lost Clerk
    together does not come back in lockstep.
    """
    ceiling = min(refresh_s, _BACKOFF_FIRST_S * 2.0 ** min(failures - 1, 30))
    return ceiling * (0.5 + jitter / 2.0)


class KeyStore:
    """A ``keys.KeyResolver`` over the Backend API JWKS (see the module docstring for the fetch policy).

    ``clock`` (monotonic seconds) drives ages, staleness and the refetch interval; ``sleep`` drives the
    background loop's waits. Tests set the first and replace the second, and never wait for real time.
    """

    def __init__(
        self,
        client: ClerkClient,
        *,
        refresh_s: float = 300.0,
        min_refetch_s: float = 10.0,
        stale_s: float = 86400.0,
        clock: Callable[[], float] = time.monotonic,
        on_keys_removed: Callable[[frozenset[str]], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_loaded: Callable[[], None] | None = None,
    ) -> None:
        self._client = client
        self._refresh_s = refresh_s
        self._min_refetch_s = min_refetch_s
        self._stale_s = stale_s
        self._clock = clock
        self._on_keys_removed = on_keys_removed
        self._on_loaded = on_loaded
        self._sleep = sleep
        self._keys: dict[str, VerificationKey] = {}
        self._loaded_at: float | None = None
        self._failure: _Failure | None = None
        self._last_refetch_at: float | None = None
        self._fetch_count = 0
        self._inflight: asyncio.Task[bool] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def fetch_count(self) -> int:
        """How many JWKS fetches this store has started, whatever their outcome."""
        return self._fetch_count

    def status(self) -> KeyStoreStatus:
        """A snapshot of the key set's health."""
        age = None if self._loaded_at is None else self._clock() - self._loaded_at
        failure = self._failure
        return KeyStoreStatus(
            ready=age is not None and age <= self._stale_s,
            loaded=self._loaded_at is not None,
            age_s=age,
            last_error=None if failure is None else f"{failure.reason}: {failure.message}",
            kids=tuple(sorted(self._keys)),
        )

    async def start(self) -> None:
        """Load the set once and start the background refresh. Never raises: a failure is kept for callers."""
        if self._loop_task is not None or self._closed:
            raise RuntimeError("a KeyStore starts once")
        loaded = await self._fetch_shared()
        self._loop_task = asyncio.create_task(self._refresh_loop(0 if loaded else 1), name=REFRESH_TASK_NAME)

    async def close(self, deadline_s: float = 5.0) -> None:
        """Cancel the refresh task and any fetch in flight, waiting at most ``deadline_s`` for them to end."""
        self._closed = True
        tasks = [task for task in (self._loop_task, self._inflight) if task is not None and not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=deadline_s)
            if pending:
                log.warning("JWKS tasks did not stop within %.1fs of being cancelled", deadline_s)

    async def get_key(self, kid: str | None) -> VerificationKey:
        """The key for ``kid``, fetching at most once per interval when it is unknown; else Clerk's error.

        Inside a fresh set an unknown kid is ``jwk-kid-mismatch``; with no usable set (never loaded, or
        older than ``stale_s``) the answer is the last fetch error (fail closed). No retries happen here.
        """
        key = self._fresh_key(kid)
        if key is not None:
            return key
        if (kid or not self._is_fresh()) and self._may_fetch_now():
            await self._fetch_shared(for_request=True)
            key = self._fresh_key(kid)
            if key is not None:
                return key
        if self._is_fresh():
            raise TokenVerificationError(
                Reason.JWK_KID_MISMATCH,
                MSG_KID_MISMATCH.format(kid="undefined" if kid is None else kid),
                Action.VERIFY_KEYS,
                check="key",
            )
        raise self._unavailable().error()

    def key_now(self, kid: str | None) -> VerificationKey | None:
        """The key of ``kid`` in a fresh set: what ``get_key`` returns without fetching."""
        return self._fresh_key(kid)

    def _is_fresh(self) -> bool:
        return self._loaded_at is not None and self._clock() - self._loaded_at <= self._stale_s

    def _fresh_key(self, kid: str | None) -> VerificationKey | None:
        if kid is None or not self._is_fresh():
            return None
        return self._keys.get(kid)

    def _may_fetch_now(self) -> bool:
        """Join a fetch in flight, or start one if the last request-triggered fetch is old enough."""
        if self._inflight is not None:
            return True
        last = self._last_refetch_at
        return not self._closed and (last is None or self._clock() - last >= self._min_refetch_s)

    def _unavailable(self) -> _Failure:
        if self._failure is not None:
            return self._failure
        url = self._client.jwks_url
        if self._loaded_at is None:
            message = f"The JWKS from {url} has not been loaded yet."
        else:
            message = f"The JWKS from {url} is older than {self._stale_s:g}s and could not be refreshed."
        return _Failure(Reason.JWK_REMOTE_FAILED_TO_LOAD, message, Action.CONTACT_SUPPORT)

    async def _fetch_shared(self, *, for_request: bool = False) -> bool:
        """Run one fetch, or join the one in flight; True when the set was (re)loaded.

        The fetch runs as its own task behind ``shield``, so a request that gives up (client gone) does not
        cancel the fetch other callers are waiting for.
        """
        task = self._inflight
        if task is None:
            if for_request:
                self._last_refetch_at = self._clock()
            task = asyncio.create_task(self._fetch(), name=FETCH_TASK_NAME)
            self._inflight = task
            task.add_done_callback(self._fetch_done)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and current is not None and not current.cancelling():
                return False  # close() cancelled the fetch; this caller was not cancelled itself
            raise

    def _fetch_done(self, task: asyncio.Task[bool]) -> None:
        if self._inflight is task:
            self._inflight = None

    async def _fetch(self) -> bool:
        self._fetch_count += 1
        try:
            jwks = await self._client.get_jwks()
        except BackendAPIError as exc:
            return self._failed(self._failure_from(exc))
        entries = jwks.get("keys")
        if not isinstance(entries, list) or not entries:
            return self._failed(_Failure(Reason.JWK_REMOTE_FAILED_TO_LOAD, MSG_EMPTY_SET, Action.CONTACT_SUPPORT))
        keys = _import_keys(entries)
        if not keys:
            message = f"The JWKS from {self._client.jwks_url} did not contain any usable RS256 signing keys."
            return self._failed(_Failure(Reason.JWK_REMOTE_FAILED_TO_LOAD, message, Action.CONTACT_SUPPORT))
        removed = frozenset(self._keys) - frozenset(keys)
        self._keys = keys
        self._loaded_at = self._clock()
        self._failure = None
        if removed:
            log.info("JWKS refresh retired %d key(s): %s", len(removed), ", ".join(sorted(removed)))
            self._notify_removed(removed)
        if self._on_loaded is not None:
            self._on_loaded()
        return True

    def _failed(self, failure: _Failure) -> bool:
        self._failure = failure
        log.warning("JWKS fetch failed (reason=%s): %s", failure.reason, failure.message)
        return False

    def _failure_from(self, exc: BackendAPIError) -> _Failure:
        """Clerk's mapping of a failed JWKS call (clerk-semantics §14.6)."""
        for error in exc.errors:
            if error.code == INVALID_SECRET_KEY_CODE:
                return _Failure(Reason.SECRET_KEY_INVALID, error.message, Action.CONTACT_SUPPORT)
        url = self._client.jwks_url
        # The message reaches clients (X-Clerk-Auth-Message), so it says what failed in Clerk's words and no
        # more; the transport's own detail goes to the log only.
        log.warning("JWKS fetch from %s failed: %s", url, exc.message)
        if exc.status is None:
            message = f"Error loading Clerk JWKS from {url}: the Backend API could not be reached"
        elif not 200 <= exc.status < 300:
            message = f"Error loading Clerk JWKS from {url} with code={exc.status}"
        else:
            message = f"Error loading Clerk JWKS from {url}: the answer was not a JSON key set"
        return _Failure(Reason.JWK_REMOTE_FAILED_TO_LOAD, message, Action.CONTACT_SUPPORT)

    def _notify_removed(self, removed: frozenset[str]) -> None:
        if self._on_keys_removed is None:
            return
        try:
            self._on_keys_removed(removed)
        except Exception:
            log.exception("on_keys_removed failed; verdicts of retired keys may stay cached until they expire")

    async def _refresh_loop(self, failures: int) -> None:
        """Refresh every ``refresh_s``; after failures, back off. Logs its own errors so it never dies silently."""
        while True:
            jitter = random.random()  # noqa: S311 - spreading retries, not security
            await self._sleep(self._refresh_s if failures == 0 else backoff_delay(failures, self._refresh_s, jitter))
            try:
                loaded = await self._fetch_shared()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("JWKS refresh crashed; retrying with backoff")
                loaded = False
            failures = 0 if loaded else failures + 1


def _import_keys(entries: list[Any]) -> dict[str, VerificationKey]:
    """Every usable entry by kid. Bad entries and kids that appear twice are skipped, each with a log line."""
    keys: dict[str, VerificationKey] = {}
    duplicated: set[str] = set()
    for index, entry in enumerate(entries):
        try:
            key = import_jwk(entry)
        except UnusableKeyError as exc:
            named = entry.get("kid") if isinstance(entry, dict) else None
            log.warning("skipping JWKS entry #%d (kid=%r): %s", index, named, exc)
            continue
        kid: str = entry["kid"]  # import_jwk accepted it, so it is a non-empty string
        if kid in keys or kid in duplicated:
            duplicated.add(kid)
            keys.pop(kid, None)
            log.warning("skipping JWKS kid %r: it appears more than once", kid)
            continue
        keys[kid] = key
    return keys
