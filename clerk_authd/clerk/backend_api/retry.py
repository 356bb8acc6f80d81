"""When a failed Backend API call is tried again: ``RetryPolicy``, and Clerk's ``Retry-After`` read as seconds.

Clerk rate-limits with 429 and ``Retry-After``, and a 5xx or a dropped connection is usually over a moment later.
Retrying blindly would turn a rate limit into a storm, so waits grow exponentially with full jitter (clients that
failed together do not retry together), a server's ``Retry-After`` is obeyed, and nothing waits past the total
deadline: a call that cannot succeed in time fails now rather than after a sleep that is bound to be wasted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

#: methods a retry cannot apply twice (RFC 9110 §9.2.2); POST and PATCH are retried only when asked
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def is_retryable_status(status: int) -> bool:
    """429 (rate limited) and every 5xx: answers that say "later", not "never"."""
    return status == 429 or status >= 500


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times, how long between, and the total time a call may take with its retries.

    ``deadline_s`` bounds the whole call, first attempt included; ``max_retries=0`` turns retries off.
    """

    max_retries: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    deadline_s: float = 30.0

    def delay_s(self, retry: int, retry_after_s: float | None, rng: random.Random) -> float:
        """The wait before retry number ``retry`` (0 for the first): the server's ``Retry-After`` when it
        sent one, else full jitter over ``base_delay_s * 2**retry`` capped at ``max_delay_s``."""
        if retry_after_s is not None:
            return retry_after_s
        return rng.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2**retry))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); ``None`` when unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
