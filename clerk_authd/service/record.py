"""One decision's log line and counts, the same for every lane that answers it.

A decision is answered by the full decision (``routes``), by the bearer lane inside a handler, or by the wire
lane before Sanic reads the request (``wire_lane``); an operator sees the same line and the same counts
whichever answered it, so the three share this.
"""

from __future__ import annotations

import time
from typing import Any

from sanic import Sanic

from clerk_authd.clerk.runtime import AllowedOnToken, CacheResult
from clerk_authd.rules.verdict import SIGNED_IN, Verdict
from clerk_authd.sanic.install import runtime_of
from clerk_authd.service.logging import DecisionLine, log_decision
from clerk_authd.service.ops import metrics_of


def record_decision(
    app: Sanic[Any, Any],
    endpoint: str,
    status: int,
    started: float,
    summary: tuple[str, str, str],
    *,
    user_id: str | None,
    kid: str | None,
    cache: CacheResult | None,
    requirement: str | None = None,
) -> None:
    """Count a decision answered with ``status`` and write its line; ``summary`` is its Clerk status, reason and
    message, ``started`` its ``time.perf_counter()`` when the request was read."""
    seconds = time.perf_counter() - started
    auth_status, reason, message = summary
    metrics_of(app).decision(endpoint, status, reason, seconds)
    log_decision(
        DecisionLine(
            endpoint=endpoint,
            status=status,
            auth_status=auth_status,
            reason=reason or None,
            user_id=user_id,
            kid=kid,
            cache=cache,
            duration_ms=seconds * 1000,
            message=message or None,
            requirement=requirement,
        ),
        debug=runtime_of(app).settings.debug,
    )


def record_lane_answer(app: Sanic[Any, Any], endpoint: str, started: float, allowed: AllowedOnToken) -> None:
    """Count and log a 200 a lane gave: the line the full decision writes for it."""
    verdict = allowed.verdict
    record_decision(
        app, endpoint, 200, started, SIGNED_IN, user_id=verdict.claims.user_id, kid=verdict.kid, cache=allowed.cache
    )


def record_verdict(app: Sanic[Any, Any], endpoint: str, verdict: Verdict, status: int, started: float) -> None:
    """Count and log a decision the full decision made and answered with ``status``."""
    record_decision(
        app,
        endpoint,
        status,
        started,
        verdict.summary(),
        user_id=verdict.auth.user_id if verdict.auth is not None else None,
        kid=verdict.kid,
        cache=verdict.cache,
        requirement=verdict.unmet.describe() if verdict.unmet is not None else None,
    )
