"""The Sanic SDK (clerk_middleware, get_auth, require_auth) in a user's app on a real server, against FakeClerk."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json, text

from clerk_authd.config import load_settings
from clerk_authd.sanic import clerk_middleware, get_auth, require_auth
from clerk_authd.sanic.express_options import settings_from_options
from clerk_authd.sanic.install import MiddlewareRequiredError
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import SIGN_IN_URL, Running, bearer, unique_app_name

ServeApp = Callable[[Sanic[Any, Any]], Awaitable[Running]]
PAGE_LOAD = {"Sec-Fetch-Dest": "document", "Accept": "text/html"}


def user_app(**middleware_options: Any) -> Sanic[Any, Any]:
    """An app as a user writes it: the middleware, then routes that read auth or require it."""
    app: Sanic[Any, Any] = Sanic(unique_app_name("sdk"), configure_logging=False)
    clerk_middleware(app, **middleware_options)

    @app.get("/api/me")
    async def me(request: Request) -> HTTPResponse:
        return json(get_auth(request).to_json(include_claims=False))

    @app.get("/api/any")
    async def any_token(request: Request) -> HTTPResponse:
        return json(get_auth(request, accepts_token="api_key").to_json())

    @app.get("/api/raw")
    async def raw(request: Request) -> HTTPResponse:
        return json(get_auth(request, treat_pending_as_signed_out=False).to_json(include_claims=False))

    @app.get("/dashboard")
    @require_auth
    async def dashboard(request: Request) -> HTTPResponse:
        return text(f"welcome {get_auth(request).user_id}")

    @app.get("/invoices")
    @require_auth(permission="org:invoices:read", role="admin")
    async def invoices(request: Request) -> HTTPResponse:
        return text("invoices")

    @app.get("/elsewhere")
    @require_auth(sign_in_url="/custom-sign-in")
    async def elsewhere(request: Request) -> HTTPResponse:
        return text("elsewhere")

    return app


@pytest.fixture
def settings_for(fake_variables: Callable[[FakeClerk], dict[str, str]]) -> Callable[..., Any]:
    def settings(fake: FakeClerk, **variables: str) -> Any:
        return load_settings({**fake_variables(fake), "CLERK_SIGN_IN_URL": SIGN_IN_URL, **variables})

    return settings


@pytest.fixture
async def app_server(serve_app: ServeApp, live_clerk: FakeClerk, settings_for: Callable[..., Any]) -> Running:
    """The user app on a production instance with a sign-in URL."""
    return await serve_app(user_app(settings=settings_for(live_clerk)))


def member_token(fake: FakeClerk, **claims: Any) -> str:
    defaults = {"user_id": "user_1", "org_id": "org_1", "org_role": "admin", "org_permissions": ["org:invoices:read"]}
    return fake.session_token(**{**defaults, **claims})


async def test_get_auth_gives_the_signed_in_auth_object(app_server: Running, live_clerk: FakeClerk) -> None:
    """A valid token reaches the handler as Clerk's auth object; a signed-in answer has no x-clerk-auth headers."""
    answer = await app_server.call("/api/me", headers=bearer(member_token(live_clerk)))
    assert answer.status == 200
    assert answer.json()["userId"] == "user_1"
    assert answer.json()["orgPermissions"] == ["org:invoices:read"]
    assert "x-clerk-auth-status" not in answer.headers


async def test_a_signed_out_answer_carries_clerks_debug_headers(app_server: Running) -> None:
    """As in Express: the handler runs signed out, and the answer says why in x-clerk-auth-*."""
    answer = await app_server.call("/api/me", headers={"Cookie": "__client_uat=1700000000"})
    assert answer.status == 200
    assert answer.json()["userId"] is None
    assert answer.headers["x-clerk-auth-status"] == "signed-out"
    assert answer.headers["x-clerk-auth-reason"] == "client-uat-but-no-session-token"


async def test_a_handshake_is_answered_307_before_the_handler(app_server: Running) -> None:
    """A page load Clerk would hand-shake gets 307 to FAPI with the loop-guard cookie (§12's Express mapping)."""
    answer = await app_server.call("/api/me", headers={"Cookie": "__client_uat=1700000000", **PAGE_LOAD})
    assert answer.status == 307
    assert answer.body == b""
    assert answer.headers["location"].startswith("https://clerk.authd.localhost/v1/client/handshake?redirect_url=")
    assert answer.headers["x-clerk-auth-status"] == "handshake"
    assert answer.headers.getall("set-cookie") == ["__clerk_redirect_count=1; SameSite=Lax; HttpOnly; Max-Age=2"]


async def test_a_refreshed_session_sets_its_cookie_on_the_answer(app_server: Running, live_clerk: FakeClerk) -> None:
    """An expired cookie with a refresh cookie is refreshed through the Backend API; the new cookie is set."""
    issued = time.time() - 3600
    expired = live_clerk.session_token(user_id="user_1", session_id="sess_9", now=issued, ttl_s=60)
    live_clerk.register_refresh_token("sess_9", "refresh-9")
    cookie = f"__session={expired}; __client_uat={int(issued)}; __refresh_{live_clerk.cookie_suffix}=refresh-9"
    answer = await app_server.call("/api/me", headers={"Cookie": cookie})
    assert answer.status == 200
    assert answer.json()["userId"] == "user_1"
    (set_cookie,) = answer.headers.getall("set-cookie")
    assert set_cookie.startswith("__session=")


async def test_get_auth_filters_by_the_accepted_token_type(app_server: Running, live_clerk: FakeClerk) -> None:
    """Asking for API keys when a session token came gives Clerk's unauthenticated api_key object."""
    answer = await app_server.call("/api/any", headers=bearer(member_token(live_clerk)))
    assert answer.json()["tokenType"] == "api_key"
    assert answer.json()["isAuthenticated"] is False


async def test_a_pending_session_is_signed_out_unless_asked(app_server: Running, live_clerk: FakeClerk) -> None:
    """treatPendingAsSignedOut is the default; turning it off shows the pending session."""
    token = member_token(live_clerk, extra={"sts": "pending"})
    signed_out = await app_server.call("/api/me", headers=bearer(token))
    assert (signed_out.json()["userId"], signed_out.json()["sessionStatus"]) == (None, "pending")
    raw = await app_server.call("/api/raw", headers=bearer(token))
    assert raw.json()["userId"] == "user_1"


async def test_require_auth_lets_a_signed_in_user_through(app_server: Running, live_clerk: FakeClerk) -> None:
    """The handler runs when the request is signed in and every requirement holds."""
    token = bearer(member_token(live_clerk))
    assert (await app_server.call("/dashboard", headers=token)).body == b"welcome user_1"
    assert (await app_server.call("/invoices", headers=token)).body == b"invoices"


async def test_require_auth_sends_a_page_load_to_sign_in_with_the_return_url(app_server: Running) -> None:
    """302 to CLERK_SIGN_IN_URL carrying the original URL in redirect_url."""
    answer = await app_server.call("/dashboard?x=1", headers=PAGE_LOAD)
    assert answer.status == 302
    original = f"{app_server.url}/dashboard?x=1"
    assert answer.headers["location"] == f"{SIGN_IN_URL}?redirect_url={quote(original, safe='')}"
    custom = await app_server.call("/elsewhere", headers=PAGE_LOAD)
    assert custom.headers["location"].startswith("/custom-sign-in?redirect_url=")


async def test_require_auth_answers_an_api_call_with_401_json(app_server: Running, live_clerk: FakeClerk) -> None:
    """Not a page load: 401 with Clerk's reason, an invalid-token challenge for a bad bearer token."""
    answer = await app_server.call("/dashboard", headers={"Accept": "application/json"})
    assert answer.status == 401
    assert answer.json() == {"status": "signed-out", "reason": "session-token-and-uat-missing", "message": None}
    bad = await app_server.call("/dashboard", headers=bearer("nonsense"))
    assert bad.status == 401
    assert bad.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert bad.headers.getall("x-clerk-auth-reason") == ["token-invalid"]


async def test_require_auth_requirements_give_403(app_server: Running, live_clerk: FakeClerk) -> None:
    """Signed in but lacking a requirement: 403 JSON naming it."""
    token = member_token(live_clerk, org_role="member")
    answer = await app_server.call("/invoices", headers=bearer(token))
    assert answer.status == 403
    assert answer.json()["message"] == "Requirement not met: role=admin"


async def test_the_sdk_without_the_middleware_says_so(serve_app: ServeApp) -> None:
    """get_auth on a request the middleware never saw raises Clerk's middleware-required error."""
    app: Sanic[Any, Any] = Sanic(unique_app_name("bare"), configure_logging=False)

    @app.get("/")
    async def index(request: Request) -> HTTPResponse:
        try:
            get_auth(request)
        except MiddlewareRequiredError as exc:
            return text(str(exc))
        return text("unreachable")

    answer = await serve_app(app)
    assert (
        await answer.call("/")
    ).body == b'Clerk: The "clerk_middleware" should be registered before using "get_auth".'


async def test_clerk_options_stand_for_their_variables(
    serve_app: ServeApp, live_clerk: FakeClerk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Express's option names (snake_case) configure the middleware over an empty environment."""
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("CLERK_")]:
        monkeypatch.delenv(name)
    app = user_app(
        publishable_key=live_clerk.publishable_key,
        secret_key=live_clerk.secret_key,
        api_url=live_clerk.url,
        authorized_parties=["https://other.example.com"],
        organization_sync_options={"organization_patterns": ["/orgs/:slug"]},
    )
    answer = await (await serve_app(app)).call("/api/me", headers=bearer(member_token(live_clerk)))
    assert answer.headers["x-clerk-auth-reason"] == "token-invalid-authorized-parties"


def test_options_are_validated_like_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists become comma lists, booleans true/false; an unknown option is a TypeError."""
    monkeypatch.chdir(tmp_path)
    settings = settings_from_options(
        {
            "publishable_key": "pk_test_Y2xlcmsuYXV0aGQubG9jYWxob3N0JA",
            "jwt_key": "",
            "secret_key": "sk_test_x",
            "audience": ["a", "b"],
            "enable_handshake": False,
            "organization_sync_options": {"personalAccountPatterns": ["/me"]},
        },
        environ={},
    )
    assert settings.audience == ("a", "b")
    assert settings.enable_handshake is False
    assert settings.personal_account_patterns == ("/me",)
    with pytest.raises(TypeError, match="unknown option 'signInUrl'"):
        settings_from_options({"signInUrl": "/x"}, environ={})
