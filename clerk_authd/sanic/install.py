"""Where a Sanic app keeps its ``ClerkRuntime``: one per worker process, opened before it serves, closed after.

Both the Sanic SDK (``clerk_middleware``) and the service (``service.app.create_app``) install the runtime with
``install_runtime`` and find it with ``runtime_of``; ``request_view`` is how either sees a Sanic request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from sanic import Request, Sanic

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.runtime import ClerkRuntime
from clerk_authd.config import Settings
from clerk_authd.rules.request import RequestView
from clerk_authd.sanic.answers import AnswerPolicy

AnyApp = Sanic[Any, Any]
#: where the runtime and the answer policy live on ``app.ctx``
_RUNTIME_ATTR: Final = "clerk_runtime"
_ANSWERS_ATTR: Final = "clerk_answers"
#: where handlers find the Backend API client, as Express apps use ``clerkClient``
CLIENT_ATTR: Final = "clerk_client"
MSG_MIDDLEWARE_REQUIRED: Final = 'Clerk: The "clerk_middleware" should be registered before using "{name}".'


class MiddlewareRequiredError(RuntimeError):
    """``get_auth`` / ``require_auth`` ran on a request ``clerk_middleware`` did not see (Clerk throws too)."""


def install_runtime(
    app: AnyApp,
    settings: Settings,
    *,
    clerk_client: ClerkClient | None = None,
    on_jwks_fetch: Callable[[str], None] | None = None,
    close_deadline_s: float = 5.0,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Give every worker of ``app`` its own ``ClerkRuntime``, opened before serving and closed after, and the
    ``AnswerPolicy`` of ``settings``. The runtime's Backend API client (``clerk_client`` when given, else its
    own; ``None`` without a secret key) is ``app.ctx.clerk_client``, the one the verifier uses; ``clock`` and
    ``monotonic`` are the runtime's (tests move them)."""
    setattr(app.ctx, _ANSWERS_ATTR, AnswerPolicy.from_settings(settings))

    async def open_runtime(app: AnyApp) -> None:
        runtime = ClerkRuntime(
            settings, clerk_client=clerk_client, on_jwks_fetch=on_jwks_fetch, clock=clock, monotonic=monotonic
        )
        await runtime.open()
        setattr(app.ctx, _RUNTIME_ATTR, runtime)
        setattr(app.ctx, CLIENT_ATTR, runtime.client)

    async def close_runtime(app: AnyApp) -> None:
        runtime = getattr(app.ctx, _RUNTIME_ATTR, None)
        if runtime is not None:
            await runtime.close(close_deadline_s)

    app.register_listener(open_runtime, "before_server_start")
    app.register_listener(close_runtime, "after_server_stop")


def runtime_of(app: AnyApp) -> ClerkRuntime:
    """The worker's runtime; a clear error when the app was not set up with ``clerk_middleware``."""
    runtime = getattr(app.ctx, _RUNTIME_ATTR, None)
    if not isinstance(runtime, ClerkRuntime):
        raise MiddlewareRequiredError(MSG_MIDDLEWARE_REQUIRED.format(name="clerk_middleware"))
    return runtime


def answers_of(app: AnyApp) -> AnswerPolicy:
    """How the app answers a verdict; a clear error when the app was not set up with ``clerk_middleware``."""
    answers = getattr(app.ctx, _ANSWERS_ATTR, None)
    if not isinstance(answers, AnswerPolicy):
        raise MiddlewareRequiredError(MSG_MIDDLEWARE_REQUIRED.format(name="clerk_middleware"))
    return answers


def request_view(request: Request) -> RequestView:
    """The request as Clerk's Express SDK sees it: its URL re-based on the forwarded or ``Host`` headers."""
    return RequestView.build(request.method, deferred_url(request), node_headers(request))


def deferred_url(request: Request) -> Callable[[], str]:
    """``request.url``, read when the view first needs it: Sanic builds it anew on every read, and a request
    decided on its ``Authorization`` token never needs it (``rules.request.OwnUrl``)."""
    return lambda: request.url


def node_headers(request: Request) -> list[tuple[str, str]]:
    """The request's headers as Node reads them: one character per byte (Latin-1).

    Sanic decodes header bytes as UTF-8 with ``surrogateescape``; Node's ``IncomingMessage`` reads each byte as one
    character, so a cookie, a ``Referer`` or a forwarded header with a byte above 0x7F means to Clerk what it means
    here only once re-read that way (the bytes ``0xC3 0xA9`` are ``Ã©`` to Clerk, a lone ``0xE9`` is ``é``).
    ASCII values, nearly all of them, pass unchanged.
    """
    return [
        (name, value if value.isascii() else value.encode("utf-8", "surrogateescape").decode("latin-1"))
        for name, value in request.headers.items()
    ]
