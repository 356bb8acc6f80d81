"""Traefik ForwardAuth, Envoy ext_authz and ingress-nginx, replayed from their recipes against a real clerk-authd
(``replay.py`` says what each sends and does): the same contract as the real-proxy suites."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import pytest

from clerk_authd.config import load_settings
from clerk_authd.recipes import RecipeError, options_from_settings, render
from clerk_authd.rules.names import IDENTITY_HEADERS
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.proxies.replay import ORIGIN, Envoy, IngressNginx, Outcome, Traefik
from tests.proxies.test_real_proxies import MEMBER, PAGE_LOAD, forged_identity
from tests.servers import SIGN_IN_URL, Running
from tests.service.test_endpoints import member_token

Replayer = Traefik | Envoy | IngressNginx
FAMILIES = ("traefik", "envoy", "ingress-nginx")
API_KEY = "ak_replay_test_key"
FORGED_ORIGINAL = [
    ("X-Original-URL", "https://evil.example/elsewhere"),
    ("X-Original-Method", "POST"),
    ("X-Forwarded-Method", "POST"),
    ("X-Forwarded-Uri", "/elsewhere"),
    ("X-Forwarded-Host", "evil.example"),
    ("X-Forwarded-Proto", "https"),
    ("X-Original-URI", "/elsewhere"),
]


def replayer(family: str, live_clerk: FakeClerk, requirements: str = "") -> Replayer:
    """The family's replay, read from the recipe ``proxy-config`` builds for this instance."""
    settings = load_settings(
        {"CLERK_PUBLISHABLE_KEY": live_clerk.publishable_key, "CLERK_SIGN_IN_URL": SIGN_IN_URL}, require_keys=False
    )
    files = render(family, options_from_settings(settings, requirements=requirements))
    kind = {"traefik": Traefik, "envoy": Envoy, "ingress-nginx": IngressNginx}[family]
    return kind.from_recipe(files)


Serve = Callable[..., Awaitable[Outcome]]


@pytest.fixture(params=FAMILIES)
def family(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def serve(family: str, service: Running, live_clerk: FakeClerk) -> Serve:
    """Send one client request through the family's replayed proxy."""
    proxy = replayer(family, live_clerk)

    async def send(target: str, headers: list[tuple[str, str]] | None = None, method: str = "GET") -> Outcome:
        return await proxy.serve(service, method, target, [("Host", "app.example.com"), *(headers or [])])

    return send


def assert_member_upstream(outcome: Outcome) -> None:
    assert outcome.status == 200, (outcome.answer.status, outcome.answer.body)
    for name in IDENTITY_HEADERS:
        values = outcome.upstream_values(name)
        assert len(values) <= 1, (name, values)
        assert (values[0] if values else "") == MEMBER.get(name, ""), (name, values)
    assert not [h for h in outcome.upstream or [] if h[1] == "forged"]


async def test_a_signed_in_request_gets_its_identity_and_nothing_forged(serve: Serve, live_clerk: FakeClerk) -> None:
    """The identity reaches the upstream, ``?page=2`` is no requirement, and no forged spelling survives."""
    token = member_token(live_clerk)
    outcome = await serve("/orders?page=2", [("Authorization", f"Bearer {token}"), *forged_identity()])
    assert_member_upstream(outcome)


async def test_a_websocket_upgrade_is_decided_like_any_get(serve: Serve, live_clerk: FakeClerk) -> None:
    """The upgrade's hop-by-hop headers never reach the service; signed in it is allowed with its identity,
    signed out it is refused."""
    upgrade = [("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")]
    upgrade.append(("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="))
    token = member_token(live_clerk)
    assert_member_upstream(await serve("/ws", [*upgrade, ("Authorization", f"Bearer {token}")]))
    refused = await serve("/ws", upgrade)
    assert refused.answer.status == 401
    assert refused.upstream is None


async def test_forged_original_request_headers_change_nothing(serve: Serve) -> None:
    """A GET page load of /dash?tab=1 goes to sign-in with its own URL, whatever X-Original-*/X-Forwarded-*."""
    outcome = await serve("/dash?tab=1", [*FORGED_ORIGINAL, *PAGE_LOAD.items()])
    assert outcome.status == 302
    assert outcome.browser_values("Location") == [
        f"{SIGN_IN_URL}?redirect_url={quote(ORIGIN + '/dash?tab=1', safe='')}"
    ]


async def test_the_clients_query_cannot_widen_accepts(serve: Serve, live_clerk: FakeClerk) -> None:
    """``?accepts=any`` from the client: an API key is still refused."""
    live_clerk.register_machine_token(API_KEY, "api_key", subject="user_1")
    for accepts in ("any", "api_key"):
        outcome = await serve(f"/orders?accepts={accepts}", [("Authorization", f"Bearer {API_KEY}")])
        assert outcome.answer.status == 401, accepts
        assert outcome.upstream is None


async def test_a_signed_out_api_call_is_refused(serve: Serve) -> None:
    """401, no redirect: a fetch is no page load."""
    outcome = await serve("/api/orders", [("Accept", "application/json")])
    assert outcome.status == 401
    assert outcome.browser_values("Location") == []
    assert outcome.upstream is None


async def test_a_handshake_ends_with_its_cookies_and_the_clean_url(serve: Serve, live_clerk: FakeClerk) -> None:
    """The nonce's cookies and a 307 to the URL without it reach the browser (in place, or via /handshake)."""
    directives = [f"__session={member_token(live_clerk)}; Path=/", "__client_uat=1700000000; Path=/"]
    live_clerk.register_handshake_nonce("nonce-r", directives)
    outcome = await serve("/dash?tab=1&__clerk_handshake_nonce=nonce-r", list(PAGE_LOAD.items()))
    assert outcome.status == 307
    assert outcome.browser_values("Location") == [ORIGIN + "/dash?tab=1"]
    assert outcome.browser_values("Set-Cookie") == directives


async def test_a_refresh_delivers_its_cookie(serve: Serve, live_clerk: FakeClerk) -> None:
    """A server-side refresh on an allowed request: the new __session reaches the browser."""
    issued = time.time() - 3600
    expired = member_token(live_clerk, now=issued, ttl_s=60)
    live_clerk.register_refresh_token("sess_1", "refresh-1")
    jar = f"__session={expired}; __client_uat={int(issued)}; __refresh_{live_clerk.cookie_suffix}=refresh-1"
    outcome = await serve("/dash", [("Cookie", jar), *PAGE_LOAD.items()])
    assert_member_upstream(outcome)
    (fresh,) = outcome.browser_values("Set-Cookie")
    assert fresh.startswith("__session=")


@pytest.mark.parametrize("family_name", ["traefik", "ingress-nginx"])
async def test_a_permission_recipe_gives_403_without_it(
    family_name: str, service: Running, live_clerk: FakeClerk
) -> None:
    """``--requirements permission=org:reports:read``: 403 for a member without it, whatever the client's query."""
    proxy = replayer(family_name, live_clerk, requirements="permission=org:reports:read")
    without = [("Host", "app.example.com"), ("Authorization", f"Bearer {member_token(live_clerk)}")]
    for target in ("/reports", "/reports?permission=org:invoices:read"):
        outcome = await proxy.serve(service, "GET", target, without)
        assert outcome.status == 403, target
    token = member_token(live_clerk, org_permissions=["org:reports:read"])
    allowed = await proxy.serve(service, "GET", "/reports", [("Authorization", f"Bearer {token}")])
    assert allowed.status == 200


def test_envoy_refuses_requirements_it_cannot_carry(live_clerk: FakeClerk) -> None:
    """Envoy's check request carries the client's own query: a recipe with requirements is refused."""
    with pytest.raises(RecipeError, match="requirements"):
        replayer("envoy", live_clerk, requirements="role=admin")
