"""Prometheus metrics of one service: decisions, latency, the token cache and the key set.

With ``--workers N`` every worker is its own process, so each would count only its share and a scrape
would see whichever worker answered. ``clerk-authd serve`` therefore points ``PROMETHEUS_MULTIPROC_DIR``
at a private directory before it starts more than one worker; prometheus-client then keeps every
worker's values in that directory and ``render()`` adds them up. One process needs none of that.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Mapping
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from clerk_authd.rules.cached_verdict import RECENT_CLAIMS_SIZE

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
#: decisions answer in well under a millisecond on a cache hit and up to the BAPI timeout on a key fetch
_LATENCY_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def multiprocess_dir() -> str | None:
    """The shared directory of a multi-worker service, or ``None`` in a single process."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The metric families of one worker, in a registry of their own (tests run several services at once)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "clerk_authd_decisions",
            "Decisions answered, by endpoint, HTTP status and Clerk reason (empty when allowed).",
            ["endpoint", "status", "reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "clerk_authd_request_duration_seconds",
            "Time from receiving a decision request to its answer.",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.token_cache = Counter(
            "clerk_authd_token_cache",
            "Verified-token cache lookups, by result (hit, miss).",
            ["result"],
            registry=self.registry,
        )
        self.jwks_fetches = Counter(
            "clerk_authd_jwks_fetches",
            "JWKS fetches from the Backend API, by outcome (ok, unreachable, error).",
            ["outcome"],
            registry=self.registry,
        )
        self.jwks_age = Gauge(
            "clerk_authd_jwks_age_seconds",
            "Age of the key set in use (the oldest among live workers); absent before the first load.",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.reparsed_claims = Counter(
            "clerk_authd_reparsed_claims",
            "Cached verdicts whose claims were parsed again from their JSON: sessions read less recently than the "
            f"{RECENT_CLAIMS_SIZE} a worker keeps parsed.",
            registry=self.registry,
        )
        self.bapi_limited = Counter(
            "clerk_authd_bapi_limited",
            "Requests answered without the Backend API call they asked for (CLERK_AUTHD_BAPI_RATE), by call.",
            ["call"],
            registry=self.registry,
        )
        #: the last value ``sync`` carried of each count kept outside Prometheus, by the child it went to
        self._seen: dict[Counter, int] = {}
        #: decisions counted since the last ``flush``, by label set
        self._tallies: dict[tuple[str, int, str], _Tally] = {}
        #: with several workers a scrape reads every worker's values from the shared directory and can flush only
        #: its own worker's tallies, so there each decision is flushed at once
        self._flush_each = multiprocess_dir() is not None

    def decision(self, endpoint: str, status: int, reason: str, seconds: float) -> None:
        """Count one answered decision and its latency, in plain numbers that ``flush`` hands to Prometheus.

        A Prometheus counter and histogram take a lock and walk the buckets on every request; a tally per label
        set is three additions and a bisection, and ``flush`` (every scrape and every few seconds) adds it up.
        """
        tally = self._tallies.get((endpoint, status, reason))
        if tally is None:
            tally = self._tallies[(endpoint, status, reason)] = _Tally(
                self.decisions.labels(endpoint, str(status), reason), self.latency.labels(endpoint)
            )
        tally.count += 1
        tally.seconds += seconds
        tally.buckets[bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        if self._flush_each:
            tally.flush()

    def flush(self) -> None:
        """Add every tally to its Prometheus counter and histogram, and start the tallies again from zero."""
        for tally in self._tallies.values():
            tally.flush()

    def jwks_fetch(self, outcome: str) -> None:
        """Count one JWKS fetch (``ok``, ``unreachable`` or ``error``)."""
        self.jwks_fetches.labels(outcome).inc()

    def sync(
        self,
        *,
        cache_counts: tuple[int, int] | None,
        key_age_s: float | None,
        limited: Mapping[str, int] | None = None,
        reparsed_claims: int = 0,
    ) -> None:
        """Flush the decision tallies; carry the cache's own hit/miss counters, the claims it parsed again, the
        rate limit's refusals and the key-set age into the metric families.

        Those count on their hot paths without knowing about Prometheus; we add what changed since the last
        call, so this may run at any rate (every scrape and a slow background tick).
        """
        self.flush()
        if cache_counts is not None:
            hits, misses = cache_counts
            self._carry(self.token_cache.labels("hit"), hits)
            self._carry(self.token_cache.labels("miss"), misses)
        self._carry(self.reparsed_claims, reparsed_claims)
        for call, count in (limited or {}).items():
            self._carry(self.bapi_limited.labels(call), count)
        if key_age_s is not None:
            self.jwks_age.set(key_age_s)

    def _carry(self, counter: Counter, count: int) -> None:
        """Add to ``counter`` what ``count`` (a total kept elsewhere) gained since it was last carried."""
        seen = self._seen.get(counter, 0)
        if count > seen:
            counter.inc(count - seen)
            self._seen[counter] = count

    def render(self) -> bytes:
        """The Prometheus text exposition: this process's registry, or every worker's in multi-worker mode."""
        directory = multiprocess_dir()
        if directory is None:
            return bytes(generate_latest(self.registry))
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]  # untyped upstream
        return bytes(generate_latest(merged))


class _Tally:
    """One label set's decisions since the last flush: how many, their total seconds, how many per bucket."""

    __slots__ = ("buckets", "count", "counter", "histogram", "seconds")

    def __init__(self, counter: Counter, histogram: Histogram) -> None:
        self.counter = counter
        self.histogram = histogram
        self.count = 0
        self.seconds = 0.0
        #: one slot per bucket bound, and one past the last for +Inf
        self.buckets = [0] * (len(_LATENCY_BUCKETS) + 1)

    def flush(self) -> None:
        """Add the tally to the counter and the histogram child.

        prometheus-client has no way to observe many values at once, so this adds to the child's own sum and
        bucket values (``_sum``, ``_buckets``: what ``observe`` adds to, one by one, in both single- and
        multi-process mode); ``tests/service/test_metrics.py`` checks the result against ``observe``'s.
        """
        if not self.count:
            return
        self.counter.inc(self.count)
        self.histogram._sum.inc(self.seconds)
        for bucket, count in zip(self.histogram._buckets, self.buckets, strict=True):
            if count:
                bucket.inc(count)
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * len(self.buckets)


def forget_process(pid: int) -> None:
    """Drop a stopped worker's live gauges, so the key-set age reflects only running workers."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]  # untyped upstream
