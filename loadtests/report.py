"""What one benchmark run measured, the ratios between its scenarios, and how they are printed.

Absolute numbers depend on the machine and on whatever else it is doing; ratios between scenarios measured
minutes apart in the same run mostly do not, so the ratios are what a reader (and the README's targets)
compares. Each ratio is a scenario over its *baseline*, the cheapest scenario that does the same work minus
the one thing being measured (see ``RATIOS``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

MIB: Final = 1024 * 1024
TOKENS_PER_GROWTH_UNIT: Final = 10_000

#: (scenario, baseline, what the ratio isolates), in the order they print
RATIOS: Final = (
    ("verify_hit", "healthz", "a cached verdict over the framework floor"),
    ("verify_miss", "verify_hit", "full verification over a cached verdict"),
    ("bad_signature", "verify_miss", "a forged token over a genuine new one (must not cost more)"),
    ("no_credentials", "healthz", "an anonymous request over the framework floor"),
    ("forbidden", "verify_hit", "a failed permission check over a plain cached allow"),
    ("auth_json", "verify_hit", "the /auth JSON body over a bare /verify"),
)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (``fraction`` in (0, 1])."""
    if not sorted_values:
        raise ValueError("no values")
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """One scenario's run: the load generator's view (requests, latency) and the service's (CPU, cache)."""

    name: str
    requests: int
    failures: int
    window_s: float
    p50_ms: float
    p99_ms: float
    service_cpu_s: float
    cache_hits: int | None = None
    cache_misses: int | None = None
    failure_kinds: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_samples(
        cls,
        name: str,
        latencies_ms: Sequence[float],
        *,
        failures: int,
        window_s: float,
        service_cpu_s: float,
        cache: tuple[int, int] | None,
        failure_kinds: Mapping[str, int],
    ) -> ScenarioResult:
        """Summarize one run; ``cache`` is the service's (hits, misses) during it, when it reports them."""
        if not latencies_ms or window_s <= 0:
            raise RuntimeError(f"scenario {name} completed no request")
        ordered = sorted(latencies_ms)
        return cls(
            name=name,
            requests=len(ordered),
            failures=failures,
            window_s=window_s,
            p50_ms=percentile(ordered, 0.50),
            p99_ms=percentile(ordered, 0.99),
            service_cpu_s=service_cpu_s,
            cache_hits=None if cache is None else cache[0],
            cache_misses=None if cache is None else cache[1],
            failure_kinds=dict(failure_kinds),
        )

    @property
    def throughput_rps(self) -> float:
        """Requests answered per second of the run."""
        return self.requests / self.window_s

    @property
    def cpu_us_per_request(self) -> float:
        """Service CPU time (all its processes) per request, in microseconds: independent of the load generator."""
        return self.service_cpu_s / self.requests * 1e6

    @property
    def service_cpu_share(self) -> float:
        """Cores' worth of CPU the service used while loaded; near the worker count means the service was the limit."""
        return self.service_cpu_s / self.window_s

    @property
    def cache_hit_fraction(self) -> float | None:
        """Share of the service's token-cache lookups that hit, ``None`` when it made none (or reports none)."""
        if self.cache_hits is None or self.cache_misses is None or self.cache_hits + self.cache_misses == 0:
            return None
        return self.cache_hits / (self.cache_hits + self.cache_misses)

    def to_json(self) -> dict[str, Any]:
        """The JSON form, derived figures included."""
        return {
            "requests": self.requests,
            "failures": self.failures,
            "failure_kinds": dict(self.failure_kinds),
            "window_s": self.window_s,
            "throughput_rps": self.throughput_rps,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "service_cpu_s": self.service_cpu_s,
            "service_cpu_share": self.service_cpu_share,
            "cpu_us_per_request": self.cpu_us_per_request,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "cache_hit_fraction": self.cache_hit_fraction,
        }


@dataclass(frozen=True, slots=True)
class MemoryResult:
    """The service's resident memory at the points of the run that matter."""

    rss_idle_bytes: int
    rss_after_bytes: int
    rss_before_miss_bytes: int
    rss_after_miss_bytes: int
    distinct_tokens: int

    @property
    def growth_per_10k_tokens_bytes(self) -> float:
        """RSS added per 10k distinct tokens verified and cached (the cache-miss scenario's tokens)."""
        growth = self.rss_after_miss_bytes - self.rss_before_miss_bytes
        return growth / self.distinct_tokens * TOKENS_PER_GROWTH_UNIT

    def to_json(self) -> dict[str, Any]:
        """The JSON form, in MiB."""
        return {
            "rss_idle_mb": self.rss_idle_bytes / MIB,
            "rss_after_mb": self.rss_after_bytes / MIB,
            "rss_before_miss_mb": self.rss_before_miss_bytes / MIB,
            "rss_after_miss_mb": self.rss_after_miss_bytes / MIB,
            "distinct_tokens": self.distinct_tokens,
            "rss_growth_mb_per_10k_tokens": self.growth_per_10k_tokens_bytes / MIB,
        }


def scenario_ratios(results: Mapping[str, ScenarioResult]) -> dict[str, dict[str, float]]:
    """Every ratio of ``RATIOS``: throughput, p50, p99 and service CPU per request, scenario over baseline."""
    ratios: dict[str, dict[str, float]] = {}
    for name, baseline_name, _ in RATIOS:
        scenario, baseline = results[name], results[baseline_name]
        ratios[f"{name}/{baseline_name}"] = {
            "throughput": scenario.throughput_rps / baseline.throughput_rps,
            "p50": scenario.p50_ms / baseline.p50_ms,
            "p99": scenario.p99_ms / baseline.p99_ms,
            "cpu_per_request": scenario.cpu_us_per_request / baseline.cpu_us_per_request,
        }
    return ratios


def memory_ratios(memory: MemoryResult) -> dict[str, float]:
    """RSS after the run over RSS at idle, and the growth per 10k distinct tokens over RSS at idle."""
    return {
        "rss_after/rss_idle": memory.rss_after_bytes / memory.rss_idle_bytes,
        "rss_per_10k_tokens/rss_idle": memory.growth_per_10k_tokens_bytes / memory.rss_idle_bytes,
    }


def render(results: Mapping[str, ScenarioResult], memory: MemoryResult) -> str:
    """The compact table of absolute numbers, then one ``ratio`` line per ratio."""
    lines = [
        f"{'scenario':<16}{'requests':>9}{'fails':>7}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'svc cpu':>9}{'cpu us/req':>11}{'cache hit':>10}"
    ]
    for result in results.values():
        hit = result.cache_hit_fraction
        lines.append(
            f"{result.name:<16}{result.requests:>9}{result.failures:>7}{result.throughput_rps:>9.0f}"
            f"{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}{result.service_cpu_share:>8.0%} "
            f"{result.cpu_us_per_request:>10.0f}{'-' if hit is None else f'{hit:.0%}':>10}"
        )
    lines.append("")
    for (name, ratio), (_, _, meaning) in zip(scenario_ratios(results).items(), RATIOS, strict=True):
        lines.append(
            f"ratio {name:<27} throughput {ratio['throughput']:5.2f}x  p50 {ratio['p50']:5.2f}x  "
            f"p99 {ratio['p99']:5.2f}x  cpu/req {ratio['cpu_per_request']:5.2f}x  ({meaning})"
        )
    mem = memory_ratios(memory)
    lines.append(
        f"ratio {'rss_after/rss_idle':<27} {mem['rss_after/rss_idle']:.2f}x  "
        f"(idle {memory.rss_idle_bytes / MIB:.1f} MiB, after {memory.rss_after_bytes / MIB:.1f} MiB)"
    )
    lines.append(
        f"ratio {'rss_per_10k_tokens/rss_idle':<27} {mem['rss_per_10k_tokens/rss_idle']:.3f}x  "
        f"({memory.growth_per_10k_tokens_bytes / MIB:+.1f} MiB per 10k distinct tokens, "
        f"measured over {memory.distinct_tokens})"
    )
    return "\n".join(lines)


def to_json(config: Mapping[str, Any], results: Mapping[str, ScenarioResult], memory: MemoryResult) -> dict[str, Any]:
    """The whole run as one JSON document: configuration, absolute figures, ratios."""
    return {
        "config": dict(config),
        "scenarios": {name: result.to_json() for name, result in results.items()},
        "memory": memory.to_json(),
        "ratios": {**scenario_ratios(results), **memory_ratios(memory)},
    }
