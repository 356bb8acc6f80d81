"""The proxy contract (design.md) end to end: nginx, Caddy and HAProxy, each from ``proxy-config``'s own output.

Every test runs once per proxy (the ``front`` fixture) against a real clerk-authd on FakeClerk's production
instance and an upstream that records what reached it.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import aiohttp
import pytest

from clerk_authd.config import Settings
from clerk_authd.rules.names import IDENTITY_HEADERS
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.proxies.conftest import Proxy, StartProxy, Upstream, free_port
from tests.servers import SIGN_IN_URL, Running
from tests.service.test_endpoints import member_token

PAGE_LOAD = {"Sec-Fetch-Dest": "document", "Accept": "text/html"}
API_KEY = "ak_proxy_test_key"
#: a session token's identity, as the upstream must see it
MEMBER = {
    "x-clerk-auth-status": "signed-in",
    "x-clerk-user-id": "user_1",
    "x-clerk-session-id": "sess_1",
    "x-clerk-org-id": "org_1",
    "x-clerk-org-slug": "acme",
    "x-clerk-org-role": "org:admin",
    "x-clerk-org-permissions": "org:invoices:read",
    "x-clerk-token-type": "session_token",
}


def spellings(name: str) -> list[str]:
    """Ways a client may spell ``name`` that some upstream framework reads as the same header."""
    canonical = "-".join(part.capitalize() for part in name.split("-"))
    return [canonical, name.upper(), name.replace("-", "_"), canonical.replace("-", "_"), name.replace("-", "_", 1)]


def forged_identity() -> list[tuple[str, str]]:
    """Every identity header in every spelling, each with a value no answer ever has."""
    return [(spelling, "forged") for name in IDENTITY_HEADERS for spelling in spellings(name)]


def assert_upstream_identity(upstream: Upstream, expected: dict[str, str]) -> None:
    """The last request the upstream got carries each identity header at most once, with the service's value
    (empty or absent where it has none), and nothing forged under any spelling."""
    got = upstream.received[-1]
    for name in IDENTITY_HEADERS:
        values = got.values(name)
        assert len(values) <= 1, (name, values)
        assert (values[0] if values else "") == expected.get(name, ""), (name, values)
    assert not [h for h in got.headers if h[1] == "forged"]


def cookie_pairs(set_cookies: list[str]) -> str:
    """What a browser sends back after these Set-Cookie directives."""
    return "; ".join(directive.split(";", 1)[0] for directive in set_cookies)


# --- signed in ------------------------------------------------------------------------------------------------


async def test_a_signed_in_request_reaches_the_upstream_with_its_identity(
    front: Proxy, upstream: Upstream, live_clerk: FakeClerk
) -> None:
    """The path and query reach the upstream as sent (``?page=2`` is not a requirement), with every identity
    header the service answered."""
    answer = await front.call("/orders?page=2", headers={"Authorization": f"Bearer {member_token(live_clerk)}"})
    assert answer.status == 200, front.log()
    assert upstream.received[-1].path_qs == "/orders?page=2"
    assert_upstream_identity(upstream, MEMBER)


async def test_no_forged_identity_header_reaches_the_upstream(
    front: Proxy, upstream: Upstream, live_clerk: FakeClerk
) -> None:
    """Each of the 15 identity headers, forged in five spellings, is replaced or removed when signed in, and a
    signed-out request with them never reaches the upstream at all."""
    token = member_token(live_clerk)
    answer = await front.call("/", headers=[("Authorization", f"Bearer {token}"), *forged_identity()])
    assert answer.status == 200, front.log()
    assert_upstream_identity(upstream, MEMBER)
    before = len(upstream.received)
    signed_out = await front.call("/", headers=forged_identity())
    assert signed_out.status == 401
    assert len(upstream.received) == before


async def test_the_client_cannot_choose_the_decided_method_or_url(front: Proxy, upstream: Upstream) -> None:
    """Forged X-Original-* and X-Forwarded-* change nothing: a GET page load of /dash?tab=1 goes to sign-in
    with the proxy's own URL (a POST, or another URL, would not)."""
    forged = {
        "X-Original-URL": "https://evil.example/elsewhere",
        "X-Original-Method": "POST",
        "X-Forwarded-Method": "POST",
        "X-Forwarded-Uri": "/elsewhere",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "X-Original-URI": "/elsewhere",
    }
    answer = await front.call("/dash?tab=1", headers={**forged, **PAGE_LOAD})
    assert answer.status == 302, front.log()
    assert answer.headers["Location"] == f"{SIGN_IN_URL}?redirect_url={quote(front.url + '/dash?tab=1', safe='')}"
    assert upstream.received == []


async def test_the_clients_query_cannot_widen_accepts(front: Proxy, upstream: Upstream, live_clerk: FakeClerk) -> None:
    """``?accepts=any`` or ``?accepts=api_key`` from the client: an API key is still not accepted."""
    live_clerk.register_machine_token(API_KEY, "api_key", subject="user_1")
    for accepts in ("any", "api_key"):
        answer = await front.call(f"/orders?accepts={accepts}", headers={"Authorization": f"Bearer {API_KEY}"})
        assert answer.status == 401, (accepts, front.log())
    assert upstream.received == []


async def test_a_permission_protected_recipe_gives_403_without_it(
    start_proxy: StartProxy, service: Running, upstream: Upstream, live_clerk: FakeClerk, front: Proxy
) -> None:
    """``--requirements permission=org:reports:read``: a member without it gets 403, whatever the client's query
    says; with it, the request goes through."""
    guarded = await start_proxy(front.name, service.url, upstream, requirements="permission=org:reports:read")
    without = {"Authorization": f"Bearer {member_token(live_clerk)}"}
    assert (await guarded.call("/reports", headers=without)).status == 403
    assert (await guarded.call("/reports?permission=org:invoices:read", headers=without)).status == 403
    assert upstream.received == []
    with_it = {"Authorization": f"Bearer {member_token(live_clerk, org_permissions=['org:reports:read'])}"}
    assert (await guarded.call("/reports", headers=with_it)).status == 200
    assert len(upstream.received) == 1


# --- signed out -----------------------------------------------------------------------------------------------


async def test_a_signed_out_page_load_goes_to_sign_in_with_its_url(front: Proxy, upstream: Upstream) -> None:
    """302 to the sign-in URL, the original URL in redirect_url."""
    answer = await front.call("/dash?tab=1", headers=PAGE_LOAD)
    assert answer.status == 302, front.log()
    assert answer.headers["Location"] == f"{SIGN_IN_URL}?redirect_url={quote(front.url + '/dash?tab=1', safe='')}"
    assert upstream.received == []


async def test_a_signed_out_api_call_is_401(front: Proxy, upstream: Upstream) -> None:
    """No redirect for a fetch: 401."""
    answer = await front.call("/api/orders", headers={"Accept": "application/json"})
    assert answer.status == 401, front.log()
    assert "Location" not in answer.headers
    assert upstream.received == []


# --- cookies reach the browser ------------------------------------------------------------------------------


async def test_a_handshake_nonce_ends_with_its_cookies_and_the_clean_url(
    front: Proxy, upstream: Upstream, live_clerk: FakeClerk
) -> None:
    """The handshake answer reaches the browser: 307 to the URL without the nonce, every cookie; with them the
    next request is signed in."""
    directives = [f"__session={member_token(live_clerk)}; Path=/", "__client_uat=1700000000; Path=/"]
    live_clerk.register_handshake_nonce("nonce-p", directives)
    answer = await front.call("/dash?tab=1&__clerk_handshake_nonce=nonce-p", headers=PAGE_LOAD)
    assert answer.status == 307, front.log()
    assert answer.headers["Location"] == front.url + "/dash?tab=1"
    assert answer.headers.getall("Set-Cookie") == directives
    assert upstream.received == []
    follow = await front.call("/dash?tab=1", headers={"Cookie": cookie_pairs(directives), **PAGE_LOAD})
    assert follow.status == 200
    assert_upstream_identity(upstream, MEMBER)


async def test_a_handshake_token_in_a_cookie_ends_the_same_way(
    front: Proxy, upstream: Upstream, live_clerk: FakeClerk
) -> None:
    """The signed handshake JWT (here in its cookie, as Clerk may send it) is resolved without the Backend API."""
    directives = [f"__session={member_token(live_clerk)}; Path=/", "__client_uat=1700000000; Path=/"]
    now = int(time.time())
    token = live_clerk.mint.sign({"handshake": directives, "iat": now})
    answer = await front.call("/dash", headers={"Cookie": f"__clerk_handshake={token}", **PAGE_LOAD})
    assert answer.status == 307, front.log()
    assert answer.headers["Location"] == front.url + "/dash"
    assert answer.headers.getall("Set-Cookie")[-2:] == directives
    assert upstream.received == []


async def test_a_post_carrying_a_handshake_still_gets_its_cookies(
    front: Proxy, upstream: Upstream, live_clerk: FakeClerk
) -> None:
    """A POST is never sent to /handshake (a GET-only endpoint): behind nginx it is decided by /verify, which
    resolves the handshake, and it reaches the app with the cookies on the app's answer; behind the forward-auth
    proxies it is completed in place (307, which the browser repeats with its body)."""
    directives = [f"__session={member_token(live_clerk)}; Path=/", "__client_uat=1700000000; Path=/"]
    token = live_clerk.mint.sign({"handshake": directives, "iat": int(time.time())})
    answer = await front.call("/upload", method="POST", headers={"Cookie": f"__clerk_handshake={token}"}, body=b"{}")
    assert [c for c in answer.headers.getall("Set-Cookie") if c in directives] == directives, front.log()
    if front.name == "nginx":
        assert answer.status == 200
        assert upstream.received[-1].method == "POST"
        assert_upstream_identity(upstream, MEMBER)
    else:
        assert answer.status == 307
        assert answer.headers["Location"] == front.url + "/upload"
        assert upstream.received == []


async def test_a_refresh_delivers_its_cookie_and_is_not_repeated(
    front: Proxy, upstream: Upstream, live_clerk: FakeClerk
) -> None:
    """An expired session with a refresh cookie is refreshed once: the new __session reaches the browser with the
    upstream's answer, and the next request, carrying it, makes no refresh call."""
    issued = time.time() - 3600
    expired = member_token(live_clerk, now=issued, ttl_s=60)
    live_clerk.register_refresh_token("sess_1", "refresh-1")
    jar = f"__session={expired}; __client_uat={int(issued)}; __refresh_{live_clerk.cookie_suffix}=refresh-1"
    answer = await front.call("/dash", headers={"Cookie": jar, **PAGE_LOAD})
    assert answer.status == 200, front.log()
    cookies = answer.headers.getall("Set-Cookie")
    fresh = [c for c in cookies if c.startswith("__session=")]
    assert len(fresh) == 1, cookies
    assert "app=1; Path=/" in cookies
    refreshes = [r for r in live_clerk.received if r.path.endswith("/refresh")]
    assert len(refreshes) == 1
    jar = f"{fresh[0].split(';', 1)[0]}; __client_uat={int(issued)}; __refresh_{live_clerk.cookie_suffix}=refresh-1"
    again = await front.call("/dash", headers={"Cookie": jar, **PAGE_LOAD})
    assert again.status == 200
    assert [r for r in live_clerk.received if r.path.endswith("/refresh")] == refreshes
    assert_upstream_identity(upstream, MEMBER)


async def test_an_unreachable_service_fails_closed(
    start_proxy: StartProxy, front: Proxy, upstream: Upstream, live_clerk: FakeClerk
) -> None:
    """With nothing listening where the recipe asks, even a signed-in request gets a 5xx, never the upstream."""
    dead = await start_proxy(front.name, f"http://127.0.0.1:{free_port()}", upstream)
    answer = await dead.call("/orders", headers={"Authorization": f"Bearer {member_token(live_clerk)}"})
    assert 500 <= answer.status < 600, (answer.status, dead.log())
    assert upstream.received == []


def sockets_to(port: int) -> set[str]:
    """The local addresses of the kernel's IPv4 TCP sockets whose peer is ``port`` (any state), from
    /proc/net/tcp: the clients' side."""
    rows = [row.split() for row in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return {row[1] for row in rows if int(row[2].rsplit(":", 1)[1], 16) == port}


async def test_connections_to_the_service_are_kept_alive(front: Proxy, service: Running, live_clerk: FakeClerk) -> None:
    """Ten requests through the proxy reuse its connections to the service: the kernel's socket table holds the
    proxy's side of at most two new ones (one per request would leave ten, most in TIME_WAIT). Sockets to the
    port from before the requests (TIME_WAIT of an earlier test's server that had the same port) are not its."""
    port = urlsplit(service.url).port
    assert port is not None
    earlier = sockets_to(port)
    token = member_token(live_clerk)
    for _ in range(10):
        assert (await front.call("/orders", headers={"Authorization": f"Bearer {token}"})).status == 200
    to_service = sockets_to(port) - earlier
    assert 1 <= len(to_service) <= 2, to_service


# --- body, upgrades -----------------------------------------------------------------------------------------


async def test_a_post_body_never_reaches_the_service(front: Proxy, upstream: Upstream, live_clerk: FakeClerk) -> None:
    """A body over the service's limit (``CLERK_AUTHD_HAS_MAX_BODY``) would make it answer 413: the POST goes
    through, so the body went only to the upstream (four times the limit, under nginx's own 1 MiB default)."""
    body = b"x" * (4 * Settings().has_max_body)
    assert len(body) < 1024 * 1024
    token = member_token(live_clerk)
    answer = await front.call("/upload", method="POST", headers={"Authorization": f"Bearer {token}"}, body=body)
    assert answer.status == 200, front.log()
    assert upstream.received[-1].body_length == len(body)


async def test_a_websocket_upgrade_is_authorized(front: Proxy, upstream: Upstream, live_clerk: FakeClerk) -> None:
    """A signed-in upgrade reaches the upstream with its identity; a signed-out one is refused."""
    token = member_token(live_clerk)
    async with front.http.ws_connect(front.url + "/ws", headers={"Authorization": f"Bearer {token}"}) as ws:
        message = await ws.receive_json()
    assert message == {"user": ["user_1"]}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await front.http.ws_connect(front.url + "/ws")
    assert refused.value.status == 401
