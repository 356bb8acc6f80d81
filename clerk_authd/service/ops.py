"""Operations endpoints: ``/healthz`` (the process answers), ``/readyz`` (keys usable), ``/metrics``.

Readiness is about keys only: with usable keys every decision can be made (a Backend API outage only
delays refreshes, and keys keep serving until ``CLERK_AUTHD_JWKS_STALE_S``); without them every decision
would be a 503, so a load balancer should send traffic elsewhere.
"""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json, raw

from clerk_authd.clerk.runtime import ClerkRuntime
from clerk_authd.sanic.install import runtime_of
from clerk_authd.service.metrics import CONTENT_TYPE, Metrics

_NO_STORE = {"cache-control": "no-store"}


def register_ops(app: Sanic[Any, Any]) -> None:
    """Add the three operations endpoints to ``app``."""
    app.add_route(healthz, "/healthz", methods=["GET", "HEAD"])
    app.add_route(readyz, "/readyz", methods=["GET", "HEAD"])
    app.add_route(metrics, "/metrics", methods=["GET"])


def metrics_of(app: Sanic[Any, Any]) -> Metrics:
    """The app's metric families (set by ``create_app``)."""
    found: Metrics = app.ctx.metrics
    return found


def sync_metrics(metrics: Metrics, runtime: ClerkRuntime) -> None:
    """Carry the worker's cache counters and key-set age into its metrics."""
    cache = runtime.cache
    metrics.sync(
        cache_counts=(cache.hits, cache.misses) if cache is not None else None,
        key_age_s=runtime.key_status().age_s,
        limited=runtime.guard.limited,
    )


async def healthz(request: Request) -> HTTPResponse:
    """200 whenever the process answers."""
    return json({"status": "ok"}, headers=_NO_STORE)


async def readyz(request: Request) -> HTTPResponse:
    """200 while keys are loaded and fresh enough; 503 with the reason otherwise."""
    status = runtime_of(request.app).key_status()
    if status.ready:
        return json({"ready": True, "key_age_s": status.age_s, "kids": list(status.kids)}, headers=_NO_STORE)
    if status.last_error:
        reason = status.last_error
    elif status.loaded:
        reason = "the key set is older than CLERK_AUTHD_JWKS_STALE_S"
    else:
        reason = "the key set is not loaded yet"
    return json({"ready": False, "reason": reason}, status=503, headers=_NO_STORE)


async def metrics(request: Request) -> HTTPResponse:
    """The Prometheus text exposition of every worker."""
    found = metrics_of(request.app)
    sync_metrics(found, runtime_of(request.app))
    return raw(found.render(), content_type=CONTENT_TYPE, headers=_NO_STORE)
