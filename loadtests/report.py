"""What one benchmark run measured, its ratios and the issue's targets, printed, as JSON, Markdown and a chart.

Absolute numbers depend on the machine and on whatever else it is doing; ratios of scenarios measured seconds
apart in the same run mostly do not, so the targets are ratios (issue #9): each is a scenario over its
baseline on one figure (throughput, or p99 latency) with a bound.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

MIB: Final = 1024 * 1024
Metric = Literal["throughput", "p99"]


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """One scenario's wrk run, and the CPU its server used meanwhile."""

    name: str
    server: str
    connections: int
    requests: int
    wrong: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float

    @property
    def throughput_rps(self) -> float:
        """Requests answered per second."""
        return self.requests / self.duration_s

    @property
    def cpu_us_per_request(self) -> float:
        """The server's CPU time per request (all its processes), which does not depend on who was the limit."""
        return self.server_cpu_s / self.requests * 1e6 if self.requests else 0.0

    def figure(self, metric: Metric) -> float:
        """``throughput`` (req/s) or ``p99`` (ms)."""
        return self.throughput_rps if metric == "throughput" else self.p99_ms

    def to_json(self) -> dict[str, Any]:
        """The JSON form, derived figures included."""
        return {
            "server": self.server,
            "connections": self.connections,
            "requests": self.requests,
            "wrong_answers": self.wrong,
            "duration_s": self.duration_s,
            "throughput_rps": self.throughput_rps,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "server_cpu_s": self.server_cpu_s,
            "cpu_us_per_request": self.cpu_us_per_request,
        }


@dataclass(frozen=True, slots=True)
class Memory:
    """Resident memory figures: the cost of cached tokens, and a flood of distinct invalid ones."""

    cached_tokens: int
    cached_growth_bytes: int
    flood_tokens: int
    flood_rss_before_bytes: int
    flood_rss_after_bytes: int

    @property
    def per_cached_token_bytes(self) -> float:
        """RSS added per cached token."""
        return self.cached_growth_bytes / self.cached_tokens if self.cached_tokens else 0.0

    @property
    def per_100k_cached_mb(self) -> float:
        """RSS 100 000 cached tokens add, in MiB (the target's unit)."""
        return self.per_cached_token_bytes * 100_000 / MIB

    @property
    def flood_growth_mb(self) -> float:
        """RSS the flood added, in MiB."""
        return (self.flood_rss_after_bytes - self.flood_rss_before_bytes) / MIB

    def to_json(self) -> dict[str, Any]:
        """The JSON form, in bytes and MiB."""
        return {
            "cached_tokens": self.cached_tokens,
            "cached_growth_mb": self.cached_growth_bytes / MIB,
            "bytes_per_cached_token": self.per_cached_token_bytes,
            "mb_per_100k_cached_tokens": self.per_100k_cached_mb,
            "flood_tokens": self.flood_tokens,
            "flood_rss_before_mb": self.flood_rss_before_bytes / MIB,
            "flood_rss_after_mb": self.flood_rss_after_bytes / MIB,
            "flood_growth_mb": self.flood_growth_mb,
        }


@dataclass(frozen=True, slots=True)
class Ratio:
    """``scenario`` over ``baseline`` on ``metric``; a target when ``bound`` is set (``at_least`` or at most)."""

    scenario: str
    baseline: str
    metric: Metric
    meaning: str
    bound: float | None = None
    at_least: bool = True

    @property
    def name(self) -> str:
        """``scenario/baseline`` (``p99`` ratios say so)."""
        return f"{self.scenario}/{self.baseline}" + (" p99" if self.metric == "p99" else "")

    def value(self, results: Mapping[str, ScenarioResult]) -> float | None:
        """The ratio, ``None`` when either scenario did not run (``--no-peer``, ``--no-nginx``)."""
        if self.scenario not in results or self.baseline not in results:
            return None
        return results[self.scenario].figure(self.metric) / results[self.baseline].figure(self.metric)

    def met(self, value: float | None) -> bool | None:
        """Whether the target holds; ``None`` for a ratio that is no target or was not measured."""
        if self.bound is None or value is None:
            return None
        compare: Callable[[float, float], bool] = operator.ge if self.at_least else operator.le
        return compare(value, self.bound)

    def target_text(self) -> str:
        """``≥ 0.85x`` or ``≤ 1.3x``; empty for an informational ratio."""
        return "" if self.bound is None else f"{'≥' if self.at_least else '≤'} {self.bound:g}x"


#: the issue's targets first, then ratios that say where the rest of the time goes
RATIOS: Final = (
    Ratio("cached", "floor", "throughput", "cached bearer /verify over the Sanic floor", 0.85),
    Ratio("cached", "peer_cached", "throughput", "cached bearer over @clerk/express", 10),
    Ratio("uncached", "floor", "throughput", "every token verified (cache off) over the floor", 0.6),
    Ratio("uncached", "peer_uncached", "throughput", "every token verified over @clerk/express", 6),
    Ratio("cookie", "floor", "throughput", "browser XHR cookies over the floor", 0.7),
    Ratio("cookie", "peer_cookie", "throughput", "browser XHR cookies over @clerk/express", 8),
    Ratio("signed_out", "floor", "throughput", "no credentials over the floor", 0.85),
    Ratio("cached_c8", "floor_c8", "p99", "p99 at 8 connections, cached", 1.3, at_least=False),
    Ratio("uncached_c8", "floor_c8", "p99", "p99 at 8 connections, every token verified", 2, at_least=False),
    Ratio("nginx_cached", "nginx_plain", "throughput", "nginx + verdict cache over nginx with no auth", 0.7),
    Ratio("after_flood", "cached", "throughput", "cached bearer after the invalid-token flood", 0.8),
    Ratio("cached", "log_off", "throughput", "default decision log over the log off", 0.9),
    Ratio("nginx_auth", "nginx_plain", "throughput", "nginx auth_request on every request over no auth"),
    Ratio("forged", "uncached", "throughput", "a forged token over a genuine uncached one"),
    Ratio("has", "cached", "throughput", "/has?permission= over /verify"),
    Ratio("forward_auth", "cached", "throughput", "/forward-auth over /verify"),
    Ratio("workers2", "cached", "throughput", "--workers 2 over one worker (2 cores, wrk on one)"),
)
#: the memory targets: 100k cached tokens add at most this much RSS; the flood may add at most this much
CACHED_100K_MAX_MB: Final = 80.0
FLOOD_MAX_GROWTH_MB: Final = 32.0


def ratio_values(results: Mapping[str, ScenarioResult]) -> dict[str, float | None]:
    """Every ratio of ``RATIOS`` by name."""
    return {ratio.name: ratio.value(results) for ratio in RATIOS}


def memory_targets(memory: Memory | None) -> list[tuple[str, str, str, bool | None]]:
    """(what, measured, target, met) for the two memory targets."""
    if memory is None:
        return []
    return [
        (
            f"{memory.cached_tokens} distinct cached tokens",
            f"{memory.per_100k_cached_mb:.1f} MiB per 100k ({memory.per_cached_token_bytes:.0f} B each)",
            f"≤ {CACHED_100K_MAX_MB:g} MiB per 100k",
            memory.per_100k_cached_mb <= CACHED_100K_MAX_MB,
        ),
        (
            f"{memory.flood_tokens} distinct invalid tokens",
            f"RSS {memory.flood_growth_mb:+.1f} MiB",
            f"≤ {FLOOD_MAX_GROWTH_MB:g} MiB",
            memory.flood_growth_mb <= FLOOD_MAX_GROWTH_MB,
        ),
    ]


def _met_text(met: bool | None) -> str:
    return "" if met is None else "met" if met else "NOT met"


def render(results: Mapping[str, ScenarioResult], memory: Memory | None) -> str:
    """The table of absolute figures, then one ``ratio`` line per ratio, then the memory lines."""
    lines = [
        f"{'scenario':<16}{'server':<14}{'conns':>6}{'requests':>10}{'wrong':>7}{'req/s':>9}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'cpu us/req':>11}"
    ]
    lines += [
        f"{r.name:<16}{r.server:<14}{r.connections:>6}{r.requests:>10}{r.wrong:>7}{r.throughput_rps:>9.0f}"
        f"{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.cpu_us_per_request:>11.0f}"
        for r in results.values()
    ]
    lines.append("")
    for ratio in RATIOS:
        value = ratio.value(results)
        shown = "not run" if value is None else f"{value:6.2f}x"
        target = f"target {ratio.target_text()} {_met_text(ratio.met(value))}" if ratio.bound is not None else ""
        lines.append(f"ratio {ratio.name:<28} {shown:>8}  {target:<22} ({ratio.meaning})")
    lines += [
        f"memory {what}: {measured} (target {target} {_met_text(met)})"
        for what, measured, target, met in memory_targets(memory)
    ]
    return "\n".join(lines)


def markdown(results: Mapping[str, ScenarioResult], memory: Memory | None, config: Mapping[str, Any]) -> str:
    """The README's tables: absolute figures, then targets and ratios."""
    out = [
        f"Run {config['date']} on {config['machine']}; {config['duration_s']} s per scenario, "
        f"{config['connections']} connections (8 for the `_c8` rows), one wrk thread.",
        "",
        "| scenario | server | conns | req/s | p50 ms | p99 ms | server CPU µs/req |",
        "|---|---|---|---|---|---|---|",
    ]
    out += [
        f"| {r.name} | {r.server} | {r.connections} | {r.throughput_rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
        f"| {r.cpu_us_per_request:.0f} |"
        for r in results.values()
    ]
    out += ["", "| ratio | measured | target | |", "|---|---|---|---|"]
    for ratio in RATIOS:
        value = ratio.value(results)
        shown = "not run" if value is None else f"{value:.2f}x"
        out.append(
            f"| {ratio.meaning} (`{ratio.name}`) | {shown} | {ratio.target_text()} | {_met_text(ratio.met(value))} |"
        )
    out += [
        f"| {what} | {measured} | {target} | {_met_text(met)} |"
        for what, measured, target, met in memory_targets(memory)
    ]
    return "\n".join(out) + "\n"


def to_json(config: Mapping[str, Any], results: Mapping[str, ScenarioResult], memory: Memory | None) -> dict[str, Any]:
    """The whole run as one JSON document: configuration, absolute figures, ratios with their targets, memory."""
    ratios = {
        ratio.name: {"value": value, "target": ratio.target_text() or None, "met": ratio.met(value)}
        for ratio in RATIOS
        for value in [ratio.value(results)]
    }
    return {
        "config": dict(config),
        "scenarios": {name: result.to_json() for name, result in results.items()},
        "ratios": ratios,
        "memory": memory.to_json() if memory is not None else None,
        "memory_targets": [
            {"what": what, "measured": measured, "target": target, "met": met}
            for what, measured, target, met in memory_targets(memory)
        ],
    }


def chart(results: Mapping[str, ScenarioResult], path: Path, title: str) -> None:
    """A horizontal bar chart of throughput per scenario, coloured by server, for the README."""
    import matplotlib  # noqa: PLC0415 - only the chart needs it, and it is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - after choosing the backend
    from matplotlib.patches import Patch  # noqa: PLC0415 - same reason

    rows = [r for r in results.values() if r.name != "flood"]
    servers = list(dict.fromkeys(r.server for r in rows))
    palette = plt.get_cmap("tab10")
    colours = {server: palette(i % 10) for i, server in enumerate(servers)}
    figure, axes = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.2))
    labels = [f"{r.name} (c{r.connections})" for r in rows]
    bars = axes.barh(labels, [r.throughput_rps for r in rows], color=[colours[r.server] for r in rows])
    axes.bar_label(bars, labels=[f"{r.throughput_rps:,.0f}" for r in rows], padding=3, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("requests per second (higher is better)")
    axes.set_title(title, fontsize=10)
    handles = [Patch(color=colours[s]) for s in servers]
    axes.legend(handles, servers, fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
