"""The Sanic SDK hands handlers the Backend API client on ``request.app.ctx``, the verifier's own, or the caller's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.config import load_settings
from clerk_authd.sanic import clerk_middleware
from clerk_authd.sanic.install import runtime_of
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import Running, unique_app_name

ServeApp = Callable[[Sanic[Any, Any]], Awaitable[Running]]


def users_app(fake: FakeClerk, variables: dict[str, str], **options: Any) -> Sanic[Any, Any]:
    """An app whose handler reads a user through ``request.app.ctx.clerk_client``, as Express handlers use
    ``clerkClient.users.getUser``."""
    app: Sanic[Any, Any] = Sanic(unique_app_name("client"), configure_logging=False)
    clerk_middleware(app, settings=load_settings(variables), **options)

    @app.get("/users/<user_id>")
    async def user(request: Request, user_id: str) -> HTTPResponse:
        client: ClerkClient = request.app.ctx.clerk_client
        found = await client.users.get_user(user_id)
        shared = client is runtime_of(request.app).client
        return json({"first_name": found.first_name, "shared_with_verifier": shared})

    return app


async def test_handlers_get_the_verifiers_client(
    serve_app: ServeApp, live_clerk: FakeClerk, fake_variables: Callable[[FakeClerk], dict[str, str]]
) -> None:
    """Without a clerk_client, the one the worker's runtime opened (and uses for JWKS) is on app.ctx."""
    user = live_clerk.store.add_user(first_name="Ada")
    running = await serve_app(users_app(live_clerk, fake_variables(live_clerk)))
    answer = await running.call(f"/users/{user['id']}")
    assert answer.json() == {"first_name": "Ada", "shared_with_verifier": True}
    assert ("GET", f"/v1/users/{user['id']}") in live_clerk.requests


async def test_a_custom_client_is_used_by_the_verifier_and_the_handlers(
    serve_app: ServeApp, live_clerk: FakeClerk, fake_variables: Callable[[FakeClerk], dict[str, str]]
) -> None:
    """clerk_middleware(app, clerk_client=...) as Express's clerkMiddleware({ clerkClient }): one client for both."""
    user = live_clerk.store.add_user(first_name="Grace")
    async with ClerkClient(secret_key=live_clerk.secret_key, api_url=live_clerk.url) as custom:
        app = users_app(live_clerk, fake_variables(live_clerk), clerk_client=custom)
        running = await serve_app(app)
        answer = await running.call(f"/users/{user['id']}")
        assert answer.json() == {"first_name": "Grace", "shared_with_verifier": True}
        assert app.ctx.clerk_client is custom
        assert runtime_of(app).client is custom
