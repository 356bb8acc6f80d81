"""Operations endpoints: ``/healthz`` (the process answers), ``/readyz`` (keys usable), ``/metrics``.

Readiness is about keys only: with usable keys every decision can be made (a Backend API outage only
delays refreshes, and keys keep serving until ``CLERK_AUTHD_JWKS_STALE_S``); without them every decision
would be a 503, so a load balancer should send traffic elsewhere.

They are served on the decision port, or, with ``CLERK_AUTHD_OPS_PORT``, only on a listener of their own
(``OpsListener``: each worker binds it with ``SO_REUSEPORT``), so metrics and health need not be reachable
wherever decisions are.
"""

from __future__ import annotations

import logging
import socket
from typing import Any, Final

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json, raw

from clerk_authd.clerk.runtime import ClerkRuntime
from clerk_authd.rules.cached_verdict import reparsed_claims
from clerk_authd.sanic.install import runtime_of
from clerk_authd.service.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

_NO_STORE = {"cache-control": "no-store"}
#: where an operations app finds the service app whose runtime and metrics it reports
_SERVED_ATTR: Final = "served_app"


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
        reparsed_claims=reparsed_claims(),
        key_age_s=runtime.key_status().age_s,
        limited=runtime.guard.limited,
    )


def _served(request: Request) -> Sanic[Any, Any]:
    """The app whose runtime and metrics this request reports: the service app itself or the one an
    ``OpsListener`` serves."""
    served: Sanic[Any, Any] = getattr(request.app.ctx, _SERVED_ATTR, request.app)
    return served


class OpsListener:
    """The operations endpoints of one worker on ``host:port``, a Sanic app of their own beside the service's.

    Started after the service's runtime is open (``after_server_start``) and stopped before it closes.
    """

    def __init__(self, served: Sanic[Any, Any], host: str, port: int) -> None:
        self._app: Sanic[Any, Any] = Sanic(f"{served.name}_ops", configure_logging=False)
        self._app.config.TOUCHUP = False  # Sanic rewrites its HTTP code once per process; the service already did
        self._app.config.ACCESS_LOG = False
        self._app.config.MOTD = False
        setattr(self._app.ctx, _SERVED_ATTR, served)
        register_ops(self._app)
        self._host = host
        self._port = port
        self._server: Any = None
        self.url = ""

    async def start(self) -> None:
        """Bind (port shared by every worker) and serve."""
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self._host, self._port))
        sock.listen(100)
        sock.setblocking(False)
        host, port = sock.getsockname()[:2]
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self._server = await self._app.create_server(sock=sock, access_log=False, return_asyncio_server=True)
        await self._server.startup()
        await self._server.start_serving()
        log.info("operations endpoints listening on %s", self.url)

    async def stop(self) -> None:
        """Stop serving; connections still open are closed."""
        if self._server is not None:
            closing = self._server.close()
            if closing is not None:
                await closing
            self._server = None


async def healthz(request: Request) -> HTTPResponse:
    """200 whenever the process answers."""
    return json({"status": "ok"}, headers=_NO_STORE)


async def readyz(request: Request) -> HTTPResponse:
    """200 while keys are loaded and fresh enough; 503 with the reason otherwise."""
    status = runtime_of(_served(request)).key_status()
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
    served = _served(request)
    found = metrics_of(served)
    sync_metrics(found, runtime_of(served))
    return raw(found.render(), content_type=CONTENT_TYPE, headers=_NO_STORE)
