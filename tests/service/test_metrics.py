"""The decision tallies add up, at each flush, to what counting every decision in Prometheus would have given."""

from __future__ import annotations

from prometheus_client import generate_latest

from clerk_authd.service.metrics import Metrics

#: latencies on both sides of bucket bounds, a bound itself, and past the last bound (+Inf)
SECONDS = [0.0001, 0.0005, 0.0007, 0.003, 0.01, 0.2, 7.5, 0.0005]


def test_a_flush_gives_what_observing_each_decision_gives() -> None:
    tallied, observed = Metrics(), Metrics()
    for seconds in SECONDS:
        tallied.decision("/verify", 200, "", seconds)
        observed.decisions.labels("/verify", "200", "").inc()
        observed.latency.labels("/verify").observe(seconds)
    tallied.decision("/has", 403, "requirement-not-met", 0.002)
    observed.decisions.labels("/has", "403", "requirement-not-met").inc()
    observed.latency.labels("/has").observe(0.002)
    tallied.flush()
    assert exposition(tallied) == exposition(observed)


def test_a_second_flush_adds_only_what_came_since() -> None:
    metrics = Metrics()
    metrics.decision("/verify", 200, "", 0.001)
    metrics.flush()
    metrics.flush()
    metrics.decision("/verify", 200, "", 0.001)
    metrics.flush()
    assert 'clerk_authd_decisions_total{endpoint="/verify",reason="",status="200"} 2.0' in exposition(metrics)
    assert 'clerk_authd_request_duration_seconds_count{endpoint="/verify"} 2.0' in exposition(metrics)


def exposition(metrics: Metrics) -> str:
    """The registry's text, without the creation timestamps that differ between two registries."""
    text = generate_latest(metrics.registry).decode()
    return "\n".join(line for line in text.splitlines() if "_created" not in line)
