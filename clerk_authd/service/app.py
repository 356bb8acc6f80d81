"""``create_app(settings)``: the service as a Sanic app, built the same way in every worker process.

Its limits (timeouts, sizes, connection cap) come from ``limits.apply_limits``; a server of it must run
``limits.protocol_of(app)``. With ``CLERK_AUTHD_OPS_PORT`` the operations endpoints move to their own listener.

Each worker owns its runtime (Backend API client, keys, token cache), opened by a listener before it serves
and closed with a deadline after it stops, and a small named task that carries the token-cache counters
and the key-set age into the metrics every few seconds (so a multi-worker scrape sees every worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import Any, Final

from sanic import Sanic

from clerk_authd.config import Settings
from clerk_authd.sanic.install import install_runtime, runtime_of
from clerk_authd.service.limits import apply_limits
from clerk_authd.service.logging import configure_logging
from clerk_authd.service.metrics import Metrics, forget_process
from clerk_authd.service.ops import OpsListener, metrics_of, register_ops, sync_metrics
from clerk_authd.service.routes import register_routes

log = logging.getLogger(__name__)

METRICS_TASK_NAME: Final = "clerk_authd.metrics.sync"
_METRICS_SYNC_S: Final = 5.0
_STOP_DEADLINE_S: Final = 5.0


def create_app(
    settings: Settings,
    *,
    name: str = "clerk_authd",
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Sanic[Any, Any]:
    """The service: decision endpoints, operations endpoints, one runtime per worker, access log off.

    ``clock`` (epoch seconds) and ``monotonic`` are the runtime's clocks: the faults tests run hours of Clerk
    outage on them without waiting."""
    configure_logging(settings.log_format, settings.log_level)
    app: Sanic[Any, Any] = Sanic(name, configure_logging=False)
    app.config.ACCESS_LOG = False
    app.config.KEEP_ALIVE = True  # a proxy's auth subrequests reuse their connections (nginx upstream keepalive)
    app.config.USE_UVLOOP = True  # Sanic would pick it when installed; a dependency now, so say it
    app.config.MOTD = False
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = _STOP_DEADLINE_S
    app.ctx.metrics = Metrics()
    install_runtime(
        app,
        settings,
        on_jwks_fetch=app.ctx.metrics.jwks_fetch,
        close_deadline_s=_STOP_DEADLINE_S,
        clock=clock,
        monotonic=monotonic,
    )
    register_routes(app)
    apply_limits(app, settings)
    if settings.ops_port is None:
        register_ops(app)
    else:
        app.ctx.ops = OpsListener(app, settings.host, settings.ops_port)
        app.register_listener(_start_ops, "after_server_start")
        app.register_listener(_stop_ops, "before_server_stop")
    app.register_listener(_start_metrics_sync, "after_server_start")
    app.register_listener(_stop_metrics_sync, "before_server_stop")
    return app


async def _start_ops(app: Sanic[Any, Any]) -> None:
    listener: OpsListener = app.ctx.ops
    await listener.start()


async def _stop_ops(app: Sanic[Any, Any]) -> None:
    listener: OpsListener = app.ctx.ops
    await listener.stop()


async def _metrics_sync_loop(app: Sanic[Any, Any]) -> None:
    while True:
        try:
            sync_metrics(metrics_of(app), runtime_of(app))
        except Exception:
            log.exception("could not update the metrics")
        await asyncio.sleep(_METRICS_SYNC_S)


async def _start_metrics_sync(app: Sanic[Any, Any]) -> None:
    app.ctx.metrics_task = asyncio.create_task(_metrics_sync_loop(app), name=METRICS_TASK_NAME)


async def _stop_metrics_sync(app: Sanic[Any, Any]) -> None:
    task: asyncio.Task[None] | None = getattr(app.ctx, "metrics_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, _STOP_DEADLINE_S)
    sync_metrics(metrics_of(app), runtime_of(app))  # the decisions tallied since the last tick
    forget_process(os.getpid())
