"""Each proxy endpoint trusts only its family's headers, and only the operator's query (api.md §2, §3).

A proxy forwards the client's own headers to the service, so a client can send ``X-Original-*`` to an endpoint
behind Caddy or ``X-Forwarded-*`` to one behind nginx: those must change nothing. Caddy's ``forward_auth`` copies
the client's query onto the auth URL when its ``uri`` has none: ``?page=2`` must not be a 400 and ``?accepts=any``
must not widen the accepted token types, while a requirement the operator wrote still holds.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import pytest

from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import SIGN_IN_URL, Running, assert_identity_headers, bearer
from tests.service.test_endpoints import member_token

StartService = Callable[..., Awaitable[Running]]
PAGE_LOAD = {"Sec-Fetch-Dest": "document", "Accept": "text/html"}
ORIGINAL = "https://app.example.com/dash?tab=1"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": "/dash?tab=1"}
API_KEY = "ak_trust_test_key"


def sign_in_for(url: str) -> str:
    return f"{SIGN_IN_URL}?redirect_url={quote(url, safe='')}"


# --- whose headers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forged",
    [
        {"X-Forwarded-Method": "POST"},
        {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example", "X-Forwarded-Uri": "/evil"},
        {"X-Original-URI": "/evil"},
    ],
    ids=["method", "url", "original-uri"],
)
async def test_verify_ignores_the_forwarded_family(service: Running, forged: dict[str, str]) -> None:
    """/verify decides about X-Original-Method / X-Original-URL: a signed-out GET page load of ORIGINAL goes to
    sign-in with ORIGINAL, whatever X-Forwarded-* the client added (a POST would get no redirect)."""
    headers = {**forged, "X-Original-Method": "GET", "X-Original-URL": ORIGINAL, **PAGE_LOAD}
    answer = await service.call("/verify", headers=headers)
    assert answer.status == 401
    assert answer.headers["X-Clerk-Redirect-To"] == sign_in_for(ORIGINAL)


async def test_verify_takes_the_original_method(service: Running) -> None:
    """The method is X-Original-Method: a POST page load is no navigation, so no redirect."""
    answer = await service.call(
        "/verify", headers={"X-Original-Method": "POST", "X-Original-URL": ORIGINAL, **PAGE_LOAD}
    )
    assert answer.status == 401
    assert "X-Clerk-Redirect-To" not in answer.headers


@pytest.mark.parametrize(
    "forged",
    [{"X-Original-Method": "POST"}, {"X-Original-URL": "https://evil.example/evil"}, {"X-Original-URI": "/evil"}],
    ids=["method", "url", "original-uri"],
)
async def test_forward_auth_ignores_the_original_family(service: Running, forged: dict[str, str]) -> None:
    """/forward-auth decides about X-Forwarded-Method / -Proto / -Host / -Uri only."""
    headers = {**forged, "X-Forwarded-Method": "GET", **FORWARDED, **PAGE_LOAD}
    answer = await service.call("/forward-auth", headers=headers)
    assert answer.status == 302
    assert answer.headers["Location"] == sign_in_for(ORIGINAL)


@pytest.mark.parametrize(
    "forged",
    [
        {"X-Forwarded-Host": "evil.example"},
        {"X-Original-URL": "https://evil.example/evil"},
        {"X-Forwarded-Uri": "/evil", "X-Forwarded-Method": "POST"},
    ],
    ids=["forwarded-host", "original-url", "forwarded-uri"],
)
async def test_ext_authz_reads_only_its_own_request(service: Running, forged: dict[str, str]) -> None:
    """/ext-authz decides about its own method, path and Host (and Envoy's X-Forwarded-Proto): a forwarded
    host or another family's header cannot move the URL the sign-in redirect returns to."""
    headers = {**forged, "Host": "app.example.com", "X-Forwarded-Proto": "https", **PAGE_LOAD}
    answer = await service.call("/ext-authz/dash?tab=1", headers=headers)
    assert answer.status == 302
    assert answer.headers["Location"] == sign_in_for(ORIGINAL)


async def test_handshake_reads_only_the_original_url(service: Running, live_clerk: FakeClerk) -> None:
    """/handshake is reached through a recipe that sets X-Original-URL; a forwarded URI cannot move it."""
    live_clerk.register_handshake_nonce("nonce-t", ["__session=; Path=/"])
    headers = {"X-Original-URL": f"{ORIGINAL}&__clerk_handshake_nonce=nonce-t", **FORWARDED, **PAGE_LOAD}
    headers["X-Forwarded-Uri"] = "/evil?__clerk_handshake_nonce=nonce-t"
    answer = await service.call("/handshake", headers=headers)
    assert answer.status == 307
    assert answer.headers["Location"] == ORIGINAL


# --- whose query -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "original"),
    [
        ("/forward-auth", {**FORWARDED, "X-Forwarded-Uri": "/orders?page=2"}),
        ("/verify", {"X-Original-URL": "https://app.example.com/orders?page=2"}),
    ],
)
async def test_a_copied_client_query_is_not_an_operator_error(
    service: Running, live_clerk: FakeClerk, endpoint: str, original: dict[str, str]
) -> None:
    """The auth URL's query is exactly the client's (Caddy copied it): ``page`` is ignored, not 400."""
    answer = await service.call(f"{endpoint}?page=2", headers={**original, **bearer(member_token(live_clerk))})
    assert answer.status == 200
    assert_identity_headers(answer)


async def test_an_operators_unknown_parameter_is_still_400(service: Running, live_clerk: FakeClerk) -> None:
    """A query that is not the client's is the operator's and read strictly."""
    headers = {**FORWARDED, "X-Forwarded-Uri": "/orders", **bearer(member_token(live_clerk))}
    answer = await service.call("/forward-auth?page=2", headers=headers)
    assert answer.status == 400
    assert answer.json()["parameter"] == "page"


async def test_a_copied_client_query_cannot_widen_accepts(service: Running, live_clerk: FakeClerk) -> None:
    """``?accepts=any`` copied from the client is ignored: an API key stays unaccepted (session tokens only)."""
    live_clerk.register_machine_token(API_KEY, "api_key", subject="user_1")
    for accepts in ("any", "api_key"):
        headers = {**FORWARDED, "X-Forwarded-Uri": f"/orders?accepts={accepts}", **bearer(API_KEY)}
        answer = await service.call(f"/forward-auth?accepts={accepts}", headers=headers)
        assert answer.status == 401, accepts
        assert answer.headers["X-Clerk-Auth-Status"] == "signed-out"


async def test_the_operators_accepts_holds(service: Running, live_clerk: FakeClerk) -> None:
    """The recipe's own ``accepts`` (a query that is not the client's) is read as ever."""
    live_clerk.register_machine_token(API_KEY, "api_key", subject="user_1")
    headers = {**FORWARDED, "X-Forwarded-Uri": "/orders?page=2", **bearer(API_KEY)}
    answer = await service.call("/forward-auth?accepts=api_key", headers=headers)
    assert answer.status == 200
    assert answer.headers["X-Clerk-Token-Type"] == "api_key"


async def test_a_requirement_still_holds_when_the_client_repeats_it(service: Running, live_clerk: FakeClerk) -> None:
    """A client that makes its query equal to the operator's cannot drop the requirement: it still holds."""
    headers = {**FORWARDED, "X-Forwarded-Uri": "/orders?role=owner", **bearer(member_token(live_clerk))}
    answer = await service.call("/forward-auth?role=owner", headers=headers)
    assert answer.status == 403
    assert answer.headers["X-Clerk-Auth-Reason"] == "requirement-not-met"


# --- cookies reach the browser ----------------------------------------------------------------------------


async def test_verify_repeats_each_cookie_for_nginx(service: Running, live_clerk: FakeClerk) -> None:
    """A refresh on /verify: the new cookie is in Set-Cookie and in X-Clerk-Set-Cookie-1, which nginx can read
    (``$upstream_http_set_cookie`` holds only the first of several)."""
    issued = time.time() - 3600
    expired = live_clerk.session_token(user_id="user_1", session_id="sess_9", now=issued, ttl_s=60)
    live_clerk.register_refresh_token("sess_9", "refresh-9")
    cookie = f"__session={expired}; __client_uat={int(issued)}; __refresh_{live_clerk.cookie_suffix}=refresh-9"
    answer = await service.call("/verify", headers={"X-Original-URL": ORIGINAL, "Cookie": cookie})
    assert answer.status == 200
    (set_cookie,) = answer.headers.getall("Set-Cookie")
    assert set_cookie.startswith("__session=")
    assert answer.headers["X-Clerk-Set-Cookie-1"] == set_cookie
    assert "X-Clerk-Set-Cookie-2" not in answer.headers


async def test_forward_auth_completes_a_handshake_in_place(service: Running, live_clerk: FakeClerk) -> None:
    """Traefik, Caddy and HAProxy return a non-2xx answer to the browser as it is: a handshake URL on
    /forward-auth is answered as /handshake answers it, 307 to the clean URL with every cookie."""
    directives = [f"__session={member_token(live_clerk)}; Path=/; Secure", "__client_uat=1700000000; Path=/"]
    live_clerk.register_handshake_nonce("nonce-f", directives)
    headers = {**FORWARDED, "X-Forwarded-Uri": "/dash?tab=1&__clerk_handshake_nonce=nonce-f", **PAGE_LOAD}
    answer = await service.call("/forward-auth", headers=headers)
    assert answer.status == 307
    assert answer.headers["Location"] == ORIGINAL
    assert answer.headers.getall("Set-Cookie") == directives
