"""``create_app(settings)``: the service as a Sanic app, built the same way in every worker process.

Each worker owns its runtime (Backend API client, keys, token cache), opened by a listener before it serves
and closed with a deadline after it stops, and a small named task that carries the token-cache counters
and the key-set age into the metrics every few seconds (so a multi-worker scrape sees every worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any, Final

from sanic import Sanic

from clerk_authd.config import Settings
from clerk_authd.sanic.install import install_runtime, runtime_of
from clerk_authd.service.logging import configure_logging
from clerk_authd.service.metrics import Metrics, forget_process
from clerk_authd.service.ops import metrics_of, register_ops, sync_metrics
from clerk_authd.service.routes import register_routes

log = logging.getLogger(__name__)

METRICS_TASK_NAME: Final = "clerk_authd.metrics.sync"
_METRICS_SYNC_S: Final = 5.0
_STOP_DEADLINE_S: Final = 5.0
#: no decision request needs a body beyond POST /has's checks
_REQUEST_MAX_SIZE: Final = 1_000_000


def create_app(settings: Settings, *, name: str = "clerk_authd") -> Sanic[Any, Any]:
    """The service: decision endpoints, operations endpoints, one runtime per worker, access log off."""
    configure_logging(settings.log_format, settings.log_level)
    app: Sanic[Any, Any] = Sanic(name, configure_logging=False)
    app.config.ACCESS_LOG = False
    app.config.MOTD = False
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.REQUEST_MAX_SIZE = _REQUEST_MAX_SIZE
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = _STOP_DEADLINE_S
    app.ctx.metrics = Metrics()
    install_runtime(app, settings, on_jwks_fetch=app.ctx.metrics.jwks_fetch, close_deadline_s=_STOP_DEADLINE_S)
    register_routes(app)
    register_ops(app)
    app.register_listener(_start_metrics_sync, "after_server_start")
    app.register_listener(_stop_metrics_sync, "before_server_stop")
    return app


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
    forget_process(os.getpid())
