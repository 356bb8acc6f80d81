"""What one client may cost a worker: time to send a request, idle time, header and body size, connections.

Sanic's defaults let a client hold a connection for ever by trickling header lines (every byte restarts its
request timer), keep 1 MB bodies, and open connections until the process runs out of file descriptors, at
which point real clients are reset. ``apply_limits`` sets, from the settings:

- ``CLERK_AUTHD_REQUEST_TIMEOUT_S``: the whole request, head and body, must arrive within it from its first
  byte (``GuardedHttpProtocol`` stops data from restarting the timer); the connection is closed after it;
- ``CLERK_AUTHD_KEEP_ALIVE_TIMEOUT_S``: an idle keep-alive connection is closed after it;
- ``CLERK_AUTHD_MAX_HEADER_BYTES``: a larger head is 431 naming the limit (Sanic says 413, the body status);
- ``CLERK_AUTHD_HAS_MAX_BODY``: no endpoint takes a body but ``POST /has``, so this is every request's body
  limit, and a larger body is 413 naming it;
- ``CLERK_AUTHD_MAX_CONNECTIONS``: a connection beyond this many open ones in the worker is answered 503 and
  closed at once, before anything is read, so the worker keeps descriptors for the connections it serves.

Once the server is stopping, every answer closes its connection, so a request in flight at ``SIGTERM`` is
answered and the worker exits right after it instead of at the end of the graceful timeout. The protocol also
hosts the wire lane (``GuardedHttpProtocol.data_received``), whose answers keep these limits: it reads only a
whole head under the size limit, on an idle connection, and sets the timers as Sanic's own answer does.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

import orjson
from sanic import Request, Sanic
from sanic.exceptions import PayloadTooLarge
from sanic.http import Http, Stage
from sanic.models.server_types import ConnInfo
from sanic.response import HTTPResponse
from sanic.server.protocols.http_protocol import HttpProtocol

from clerk_authd.config import Settings
from clerk_authd.sanic.answers import with_empty_identity
from clerk_authd.service.handover import forget_handed_over
from clerk_authd.service.routes import is_decision_path
from clerk_authd.service.wire_lane import answer_on_wire

log = logging.getLogger(__name__)

#: a decision waits for Clerk at most the Backend API client's timeout (5 s); this bounds everything else
RESPONSE_TIMEOUT_S: Final = 15.0
_BUSY_BODY: Final = b'{"error":"too-many-connections","limit":"CLERK_AUTHD_MAX_CONNECTIONS"}'
_BUSY: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nconnection: close\r\ncache-control: no-store\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)
_HEADER_TOO_LARGE: Final = "Request header exceeds the size limit"
_PROTOCOL_ATTR: Final = "clerk_protocol"
#: set on ``app.ctx`` once the wire lane has failed in this worker
_WIRE_LANE_FAILED: Final = "clerk_wire_lane_failed"


class GuardedHttpProtocol(HttpProtocol):
    """Sanic's HTTP/1.1 protocol with a request deadline that data cannot extend, a connection cap, and no
    keep-alive once the server is stopping; it is also where the wire lane (``wire_lane``) answers a chunk that
    is one auth subrequest it allows, before Sanic reads it, as every request arrives here first."""

    def connection_made(self, transport: Any) -> None:  # Sanic's own signature is untyped
        """Serve the connection, or answer 503 and close it when the worker already holds its cap."""
        if len(self.connections) >= self.app.config.CLERK_AUTHD_MAX_CONNECTIONS:
            self.transport = transport
            self.conn_info = ConnInfo(transport, unix=self._unix)
            transport.write(_BUSY)
            transport.close()
            return
        super().connection_made(transport)  # type: ignore[no-untyped-call]  # untyped upstream

    def connection_lost(self, exc: Exception | None) -> None:
        """A decision the wire lane handed over to a request Sanic will now never read is dropped with it."""
        if self.conn_info is not None:
            forget_handed_over(self.conn_info.ctx)
        super().connection_lost(exc)  # type: ignore[no-untyped-call]  # untyped upstream

    async def send(self, data: bytes) -> None:
        """Sanic closes idle connections once when it stops; one whose request was in flight then would stay
        open for the whole graceful timeout. While stopping, an answer is its connection's last."""
        if self.signal.stopped and self.http is not None:
            self.http.keep_alive = False
        await super().send(data)  # type: ignore[no-untyped-call]  # untyped upstream

    def data_received(self, data: bytes) -> None:
        """A chunk that is one cached session's auth subrequest on an idle connection is answered here, from its
        bytes (``wire_lane``); every other goes to Sanic. Sanic restarts the timeout clock on every chunk; while a
        request is arriving it keeps its start."""
        http, transport, conn_info = self.http, self.transport, self.conn_info
        if http is not None and transport is not None and conn_info is not None and self._idle(http, transport):
            try:
                answer = answer_on_wire(self.app, data, http.HEADER_MAX_SIZE, conn_info.ctx)
            except Exception:
                self._close_wire_lane()
                answer = None
            if answer is not None:
                self._time = time.monotonic()  # Sanic's clock, set as its data_received sets it
                self.state["requests_count"] += 1
                transport.write(answer)
                return
        receiving = http is not None and http.stage is Stage.REQUEST
        started = self._time
        super().data_received(data)
        if receiving:
            self._time = started

    def _close_wire_lane(self) -> None:
        """A failure in the wire lane is a bug that may repeat on every request, and the request it failed on may
        already be logged and counted: the worker closes the lane for good, says so once, and Sanic decides every
        request from then on (this one included)."""
        setattr(self.app.ctx, _WIRE_LANE_FAILED, True)
        log.exception("the wire lane failed on a request and is closed in this worker; Sanic decides every request")

    def _idle(self, http: Http, transport: Any) -> bool:
        """Whether Sanic waits for the next request on this connection with nothing read of it, so that an answer
        written now follows the last one on the wire, and the connection may take one (not stopping, not closing,
        the client reading what it is sent, keep-alive on). An app with request or response middleware has every
        request go through it: the wire lane, which runs none, stays closed there, as it does once it has failed."""
        app = self.app
        return (
            not getattr(app.ctx, _WIRE_LANE_FAILED, False)
            and not app.request_middleware
            and not app.response_middleware
            and app.config.KEEP_ALIVE
            and http.stage is Stage.IDLE
            and getattr(http, "request", None) is None
            and http.keep_alive
            and not self.recv_buffer
            and self._can_write.is_set()
            and not self.signal.stopped
            and not transport.is_closing()
        )


def apply_limits(app: Sanic[Any, Any], settings: Settings) -> None:
    """Set the timeouts, sizes and connection cap of ``settings`` on ``app`` and answer size errors."""
    app.config.REQUEST_TIMEOUT = settings.request_timeout_s
    app.config.KEEP_ALIVE_TIMEOUT = settings.keep_alive_timeout_s
    app.config.RESPONSE_TIMEOUT = RESPONSE_TIMEOUT_S
    app.config.REQUEST_MAX_HEADER_SIZE = settings.max_header_bytes
    app.config.REQUEST_MAX_SIZE = settings.has_max_body
    app.config.CLERK_AUTHD_MAX_CONNECTIONS = settings.max_connections
    setattr(app.ctx, _PROTOCOL_ATTR, GuardedHttpProtocol)
    app.exception(PayloadTooLarge)(_too_large)


def protocol_of(app: Sanic[Any, Any]) -> type[HttpProtocol]:
    """The protocol a server of ``app`` must run (``GuardedHttpProtocol`` for the service, else Sanic's)."""
    protocol: type[HttpProtocol] = getattr(app.ctx, _PROTOCOL_ATTR, HttpProtocol)
    return protocol


async def _too_large(request: Request, exception: PayloadTooLarge) -> HTTPResponse:
    """431 for a head over ``CLERK_AUTHD_MAX_HEADER_BYTES``, 413 for a body over ``CLERK_AUTHD_HAS_MAX_BODY``,
    each naming its limit; on a decision route with every identity header, empty."""
    config = request.app.config
    if str(exception) == _HEADER_TOO_LARGE:
        status, limit, size = 431, "CLERK_AUTHD_MAX_HEADER_BYTES", config.REQUEST_MAX_HEADER_SIZE
        what = "the request head"
    else:
        status, limit, size = 413, "CLERK_AUTHD_HAS_MAX_BODY", config.REQUEST_MAX_SIZE
        what = "the request body"
    body = {"error": "too-large", "limit": limit, "message": f"{what} exceeds {limit} ({size} bytes)"}
    response = HTTPResponse(
        orjson.dumps(body), status=status, headers={"cache-control": "no-store"}, content_type="application/json"
    )
    return with_empty_identity(response) if is_decision_path(request.path) else response
