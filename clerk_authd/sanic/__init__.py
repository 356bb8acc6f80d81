"""Clerk's Express SDK for Sanic apps: ``clerk_middleware``, ``get_auth``, ``require_auth`` (clerk-semantics §19).

::

    clerk_middleware(app, **options)    every request: authenticateRequest (acceptsToken 'any'); Clerk's
                                        headers on the answer; 307 when the state names a Location
    get_auth(request, accepts_token=)   Clerk's getAuth(): the auth object for the accepted token type(s)
    @require_auth(...)                  a signed-out browser navigation goes to the sign-in page, an API
                                        call gets 401 JSON; requirements (permission=, role=, ...) give 403

This module is the public surface only. Options are Clerk's Express option names in snake_case
(``express_options``); each worker decides with its own ``ClerkRuntime`` (``clerk.runtime``, installed by
``install``); a denial is answered as the service's ``/forward-auth`` answers it (``answers.AnswerPolicy``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import replace
from functools import wraps
from typing import Any, Final, TypeVar, cast

from sanic import Request
from sanic.exceptions import ServerError
from sanic.response import BaseHTTPResponse, HTTPResponse

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.config import Settings
from clerk_authd.js.headers import node_wire
from clerk_authd.rules.auth import Auth, auth_for_accepted_token, signed_out_auth
from clerk_authd.rules.requirements import Requirements, parse_requirement
from clerk_authd.rules.state import RequestState
from clerk_authd.sanic.answers import sets_header
from clerk_authd.sanic.express_options import settings_from_options
from clerk_authd.sanic.install import (
    MSG_MIDDLEWARE_REQUIRED,
    AnyApp,
    MiddlewareRequiredError,
    answers_of,
    install_runtime,
    request_view,
    runtime_of,
)

__all__ = ["clerk_middleware", "get_auth", "require_auth"]

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])
#: where the middleware leaves the request state and the request view on ``request.ctx``
_STATE_ATTR: Final = "clerk_state"
_VIEW_ATTR: Final = "clerk_view"


def clerk_middleware(
    app: AnyApp,
    *,
    settings: Settings | None = None,
    clerk_client: ClerkClient | None = None,
    **options: object,
) -> None:
    """Authenticate every request of ``app`` as Clerk's Express ``clerkMiddleware()`` does.

    Options are Clerk's (``publishable_key``, ``secret_key``, ``jwt_key``, ``authorized_parties``,
    ``audience``, ``sign_in_url``, ``domain``, ``proxy_url``, ``is_satellite``, ``organization_sync_options``,
    ``enable_handshake``, ``clock_skew_in_ms``, ``debug``, ...), over the ``CLERK_*`` environment; or pass
    ``settings`` whole. Like Clerk, every token type is accepted here (``acceptsToken: 'any'``); ``get_auth``
    filters. Signed-out answers carry Clerk's ``x-clerk-auth-*`` headers; a state with a ``Location`` (a
    handshake, or a development instance's clean URL) is answered 307 before the handler runs.

    Handlers reach the Backend API as ``request.app.ctx.clerk_client`` (Express's ``clerkClient``): the
    ``clerk_client`` passed here, which its owner opens and closes, or else one the middleware opens per worker.
    """
    if settings is not None and options:
        raise TypeError("pass either settings or Clerk options to clerk_middleware, not both")
    install_runtime(app, settings or settings_from_options(options), clerk_client=clerk_client)
    app.register_middleware(_authenticate, "request")
    app.register_middleware(_append_clerk_headers, "response")


async def _authenticate(request: Request) -> HTTPResponse | None:
    view = request_view(request)
    state = await runtime_of(request.app).authenticate(view, accepts_token="any")
    setattr(request.ctx, _VIEW_ATTR, view)
    setattr(request.ctx, _STATE_ATTR, state)
    if state.header("location") is not None:
        return HTTPResponse(status=307)
    if state.status == "handshake":
        raise ServerError("Clerk: unexpected handshake without redirect")
    return None


async def _append_clerk_headers(request: Request, response: BaseHTTPResponse) -> None:
    """Express appends the state's headers to the response: add those the response does not set itself."""
    state = getattr(request.ctx, _STATE_ATTR, None)
    if not isinstance(state, RequestState):
        return
    for name, value in state.headers:
        if not sets_header(response, name):
            response.headers.add(name, node_wire(value))
    for cookie in state.set_cookies:
        response.headers.add("set-cookie", node_wire(cookie))


def request_state(request: Request, *, caller: str = "get_auth") -> RequestState:
    """The state ``clerk_middleware`` computed for ``request``."""
    state = getattr(request.ctx, _STATE_ATTR, None)
    if not isinstance(state, RequestState):
        raise MiddlewareRequiredError(MSG_MIDDLEWARE_REQUIRED.format(name=caller))
    return state


def get_auth(
    request: Request,
    *,
    accepts_token: str | Collection[str] = "session_token",  # noqa: S107 - a token type, not a secret
    treat_pending_as_signed_out: bool = True,
) -> Auth:
    """Clerk's ``getAuth(req, {acceptsToken})``: the auth object, or the null object of the accepted type.

    The default accepts session tokens only, as Clerk's does: a request carrying an API key gets a
    signed-out session object unless ``accepts_token`` names ``'api_key'`` (or ``'any'``).
    """
    state = request_state(request)
    auth = state.to_auth(treat_pending_as_signed_out) or signed_out_auth()
    return auth_for_accepted_token(auth, accepts_token)


def require_auth(
    handler: Handler | None = None,
    *,
    sign_in_url: str | None = None,
    accepts_token: str | Collection[str] = "session_token",  # noqa: S107 - a token type, not a secret
    **requirements: str,
) -> Handler | Callable[[Handler], Handler]:
    """Only signed-in users reach the handler; ``requirements`` (``permission=``, ``role=``, ``feature=``,
    ``plan=``, ``reverification=``) must all hold, as ``has()`` decides.

    Otherwise the answer is ``/forward-auth``'s: a browser navigation goes (302) to ``sign_in_url`` (default
    ``CLERK_SIGN_IN_URL``) with the original URL in ``CLERK_AUTHD_SIGN_IN_RETURN_PARAM``; anything else gets
    401 JSON, or 403 JSON for a failed requirement. Handshakes were already answered (307) by the middleware.
    Usable bare (``@require_auth``) or called (``@require_auth(permission="org:invoices:read")``).
    """
    checks = Requirements(tuple(parse_requirement(name, value) for name, value in requirements.items()))

    def decorate(inner: Handler) -> Handler:
        @wraps(inner)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> Any:
            state = request_state(request, caller="require_auth")
            runtime = runtime_of(request.app)
            auth = get_auth(request, accepts_token=accepts_token)
            verdict = runtime.verdict(getattr(request.ctx, _VIEW_ATTR), state, auth, checks)
            if verdict.allowed:
                return await inner(request, *args, **kwargs)
            answers = answers_of(request.app)
            policy = answers if sign_in_url is None else replace(answers, sign_in_url=sign_in_url)
            return policy.forward_auth(verdict, with_cookies=False)

        return cast(Handler, guarded)

    return decorate(handler) if handler is not None else decorate
