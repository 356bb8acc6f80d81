"""``CallGuard``: the one gate for Backend API calls that untrusted request input triggers.

A handshake nonce, a refresh cookie and an opaque machine token (``ak_``, ``mt_``, ``oat_``) each make the
service call Clerk. Left alone, every hostile request becomes one call: 150 junk nonces make 150 calls, and once
Clerk answers 429 the instance's real API keys, handshakes and key rotations fail too. Every such call
therefore passes through one guard per worker:

- **form check** (``may_be_clerk_value``): a value no Clerk endpoint could accept (too long, or characters a
  Clerk identifier never has) is refused by the caller without asking Clerk;
- **single flight**: concurrent calls for the same value share one call and its outcome;
- **token bucket**: at most ``burst`` calls at once and ``rate`` per second after that. A call over the limit
  is not made: the caller gets ``BackendAPIError`` with no status, exactly what an unreachable Backend API
  gives, and answers with Clerk's reason for that. ``limited`` counts them per kind for ``/metrics``.

JWKS fetches never pass through here: they are the key store's, bounded by ``CLERK_AUTHD_JWKS_MIN_REFETCH_S``,
so a flood of input-triggered calls can never starve a key rotation.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Final, TypeVar, cast

from clerk_authd.errors import BackendAPIError

T = TypeVar("T")
#: the longest nonce, refresh token or opaque machine token sent to Clerk
MAX_VALUE_LENGTH: Final = 512
#: what a Clerk identifier, nonce or opaque token can be made of: URL-unreserved ASCII and base64's ``+/=``
_VALUE_FORM: Final = re.compile(r"[A-Za-z0-9._~+/=-]+")
MSG_LIMITED: Final = "the Backend API call was not made: too many calls triggered by requests (CLERK_AUTHD_BAPI_RATE)"
FLIGHT_TASK_NAME: Final = "clerk_authd.clerk.limiter.call"


def may_be_clerk_value(value: str) -> bool:
    """Whether ``value`` could be a nonce, refresh token or opaque machine token Clerk issued.

    Deliberately loose (Clerk does not publish the formats): it refuses only what cannot be one, so a valid
    value is never refused, and a hostile value with spaces, control characters, non-ASCII or megabytes of
    text never reaches Clerk.
    """
    return len(value) <= MAX_VALUE_LENGTH and _VALUE_FORM.fullmatch(value) is not None


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second on ``clock`` (monotonic seconds)."""

    __slots__ = ("_burst", "_clock", "_rate", "_tokens", "_updated")

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def take(self) -> bool:
        """Spend one token if there is one."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class CallGuard:
    """Single flight per ``(kind, key)`` and one shared token bucket for every input-triggered call.

    ``kind`` names the call for the ``limited`` counts (``handshake``, ``refresh``, ``api_key``, ...); ``key``
    is the value that triggered it (the nonce, the token's digest). ``close()`` cancels calls still in flight.
    """

    def __init__(self, rate: float = 5.0, burst: int = 20, clock: Callable[[], float] = time.monotonic) -> None:
        self._bucket = TokenBucket(rate, burst, clock)
        self._inflight: dict[tuple[str, Hashable], asyncio.Task[Any]] = {}
        #: calls refused by the limit, by kind
        self.limited: dict[str, int] = {}

    async def call(self, kind: str, key: Hashable, make_call: Callable[[], Awaitable[T]]) -> T:
        """``make_call()``'s result, shared with concurrent callers of the same key; ``BackendAPIError``
        (status ``None``) without calling when the bucket is empty."""
        flight = (kind, key)
        task = self._inflight.get(flight)
        if task is None:
            if not self._bucket.take():
                self.limited[kind] = self.limited.get(kind, 0) + 1
                raise BackendAPIError(MSG_LIMITED)
            task = asyncio.create_task(_awaited(make_call), name=FLIGHT_TASK_NAME)
            self._inflight[flight] = task
            task.add_done_callback(lambda done: self._landed(flight, done))
        # shielded: one caller giving up (its client went away) does not cancel the call the others await
        return cast(T, await asyncio.shield(task))

    def _landed(self, flight: tuple[str, Hashable], task: asyncio.Task[Any]) -> None:
        if self._inflight.get(flight) is task:
            del self._inflight[flight]
        if not task.cancelled():
            task.exception()  # retrieved here, so a call whose callers all left logs no "never retrieved"

    async def close(self, deadline_s: float = 5.0) -> None:
        """Cancel the calls in flight and wait at most ``deadline_s`` for them to end."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=deadline_s)


async def _awaited(make_call: Callable[[], Awaitable[T]]) -> T:
    return await make_call()
