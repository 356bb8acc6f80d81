"""The decision endpoints of api.md §3 on a real server against FakeClerk: allow, deny, handshake, 400, 503."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import pytest

from clerk_authd.errors import KEYS_UNAVAILABLE_REASONS
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import SIGN_IN_URL, Answer, Running, assert_identity_headers, bearer

StartService = Callable[..., Awaitable[Running]]
ORIGINAL = "https://app.example.com/dash?tab=1"
PAGE_LOAD = {"Sec-Fetch-Dest": "document", "Accept": "text/html"}
#: what nginx sends to /verify about a page load of ORIGINAL by a browser with a Clerk client but no session
HANDSHAKE_PAGE_LOAD = {"X-Original-URL": ORIGINAL, "Cookie": "__client_uat=1700000000", **PAGE_LOAD}
#: what Traefik and Caddy send to /forward-auth about ORIGINAL
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": "/dash?tab=1"}


def member_token(fake: FakeClerk, **claims: object) -> str:
    """A session of user_1, admin of org_1 (acme) with org:invoices:read, valid for 10 minutes."""
    defaults: dict[str, object] = {
        "user_id": "user_1",
        "session_id": "sess_1",
        "org_id": "org_1",
        "org_slug": "acme",
        "org_role": "admin",
        "org_permissions": ["org:invoices:read"],
        "ttl_s": 600,
    }
    return fake.session_token(**{**defaults, **claims})


def assert_signed_in_identity(answer: Answer) -> None:
    assert_identity_headers(answer)
    headers = answer.headers
    assert headers["X-Clerk-Auth-Status"] == "signed-in"
    assert headers["X-Clerk-User-Id"] == "user_1"
    assert headers["X-Clerk-Session-Id"] == "sess_1"
    assert headers["X-Clerk-Org-Id"] == "org_1"
    assert headers["X-Clerk-Org-Slug"] == "acme"
    assert headers["X-Clerk-Org-Role"] == "org:admin"
    assert headers["X-Clerk-Org-Permissions"] == "org:invoices:read"
    assert headers["X-Clerk-Token-Type"] == "session_token"
    assert headers["X-Clerk-Machine-Id"] == headers["X-Clerk-Scopes"] == ""


@pytest.fixture
async def down_service(start_service: StartService, live_clerk: FakeClerk) -> Running:
    """A service whose Backend API was down from the start: it never had keys."""
    live_clerk.go_down()
    return await start_service(live_clerk, CLERK_SIGN_IN_URL=SIGN_IN_URL)


# --- /verify ------------------------------------------------------------------------------------------------


async def test_verify_allows_a_valid_token_with_every_identity_header(service: Running, live_clerk: FakeClerk) -> None:
    """A valid bearer token is 200 with an empty body and the identity of its session."""
    answer = await service.call("/verify", headers=bearer(member_token(live_clerk)))
    assert answer.status == 200
    assert answer.body == b""
    assert_signed_in_identity(answer)
    assert answer.headers["X-Clerk-Auth-Reason"] == answer.headers["X-Clerk-Auth-Message"] == ""


async def test_an_allowed_answer_may_be_cached_until_exp_less_the_skew(service: Running, live_clerk: FakeClerk) -> None:
    """Cache-Control is private, with max-age = exp - now - 5 s of skew; X-Accel-Expires says the same to nginx's
    cache (which refuses private); a denial says neither."""
    now = time.time()
    answer = await service.call("/verify", headers=bearer(member_token(live_clerk, ttl_s=600, now=now)))
    max_age = int(answer.headers["Cache-Control"].removeprefix("private, max-age="))
    assert 600 - 5 - 2 <= max_age <= 600 - 5
    assert answer.headers.getall("X-Accel-Expires") == [str(max_age)]
    denied = await service.call("/verify")
    assert (denied.headers["Cache-Control"], "X-Accel-Expires" in denied.headers) == ("no-store", False)


async def test_a_failed_requirement_is_403_naming_it(service: Running, live_clerk: FakeClerk) -> None:
    """Signed in but without the permission: 403, reason requirement-not-met, not cacheable."""
    answer = await service.call("/verify?permission=org:invoices:write", headers=bearer(member_token(live_clerk)))
    assert answer.status == 403
    assert_signed_in_identity(answer)
    assert answer.headers["X-Clerk-Auth-Reason"] == "requirement-not-met"
    assert answer.headers["X-Clerk-Auth-Message"] == "Requirement not met: permission=org:invoices:write"
    assert answer.headers["Cache-Control"] == "no-store"


async def test_the_auth_message_goes_out_as_latin1_bytes(service: Running, live_clerk: FakeClerk) -> None:
    """X-Clerk-Auth-Message is written one byte per character, as Node writes Clerk's headers: ``é`` is ``0xE9``."""
    answer = await service.call("/verify?role=caf%C3%A9", headers=bearer(member_token(live_clerk)))
    assert answer.status == 403
    wire = answer.headers["X-Clerk-Auth-Message"].encode("utf-8", "surrogateescape")
    assert wire == b"Requirement not met: role=caf\xe9"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("permission=org:invoices:read&role=admin", 200),
        ("permission=org:invoices:read&role=org:admin&feature=invoices", 200),
        ("permission=org:invoices:read&role=member", 403),
        ("role=admin&plan=pro", 403),
        ("reverification=strict", 200),
        ("reverification=first_factor:3", 403),
        ("reverification=first_factor:4", 200),
        ("reverification=strict_mfa", 200),
    ],
)
async def test_every_requirement_must_hold_with_has_semantics(
    service: Running, live_clerk: FakeClerk, query: str, status: int
) -> None:
    """Requirements are has() calls (org: prefix optional, reverification presets, level:minutes); all must hold."""
    token = member_token(live_clerk, extra={"fva": [3, -1]})
    answer = await service.call(f"/verify?{query}", headers=bearer(token))
    assert answer.status == status
    assert_identity_headers(answer)


async def test_a_signed_out_api_call_is_401_with_nowhere_to_go(service: Running) -> None:
    """No token and no navigation: 401 without a redirect; with Accept JSON the body is /auth's."""
    answer = await service.call("/verify", headers={"Accept": "application/json", "X-Original-URL": ORIGINAL})
    assert answer.status == 401
    assert_identity_headers(answer)
    assert answer.headers["X-Clerk-Auth-Status"] == "signed-out"
    assert answer.headers["X-Clerk-Auth-Reason"] == "session-token-and-uat-missing"
    assert answer.headers["X-Clerk-User-Id"] == ""
    assert "X-Clerk-Redirect-To" not in answer.headers
    assert "WWW-Authenticate" not in answer.headers
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.json()["status"] == "signed-out"
    assert answer.json()["auth"]["isAuthenticated"] is False


async def test_a_signed_out_page_load_is_told_to_go_to_sign_in_with_the_original_url(service: Running) -> None:
    """401 with X-Clerk-Redirect-To (and Location): the sign-in URL carrying the original URL in redirect_url."""
    answer = await service.call("/verify", headers={"X-Original-URL": ORIGINAL, **PAGE_LOAD})
    assert answer.status == 401
    assert_identity_headers(answer)
    expected = f"{SIGN_IN_URL}?redirect_url={quote(ORIGINAL, safe='')}"
    assert answer.headers["X-Clerk-Redirect-To"] == expected
    assert answer.headers["Location"] == expected


async def test_a_handshake_is_401_pointing_at_the_frontend_api(service: Running) -> None:
    """A page load Clerk would hand-shake is 401 (never 3xx) to the handshake URL, with the loop-guard cookie."""
    answer = await service.call("/verify", headers=HANDSHAKE_PAGE_LOAD)
    assert answer.status == 401
    assert_identity_headers(answer)
    assert answer.headers["X-Clerk-Auth-Status"] == "handshake"
    assert answer.headers["X-Clerk-Auth-Reason"] == "client-uat-but-no-session-token"
    target = answer.headers["X-Clerk-Redirect-To"]
    assert target.startswith("https://clerk.authd.localhost/v1/client/handshake?redirect_url=")
    assert quote(ORIGINAL, safe="") in target
    assert answer.headers["Location"] == target
    assert answer.headers.getall("Set-Cookie") == ["__clerk_redirect_count=1; SameSite=Lax; HttpOnly; Max-Age=2"]


@pytest.mark.parametrize(
    "make_token",
    [
        lambda fake: "not-a-jwt",
        lambda fake: member_token(fake, now=time.time() - 3600, ttl_s=60),
        lambda fake: FakeClerk().session_token(user_id="user_1"),
    ],
    ids=["garbage", "expired", "foreign-key"],
)
async def test_a_presented_but_invalid_bearer_token_gets_an_invalid_token_challenge(
    service: Running, live_clerk: FakeClerk, make_token: Callable[[FakeClerk], str]
) -> None:
    """401 with WWW-Authenticate: Bearer error="invalid_token" and Clerk's reason."""
    answer = await service.call("/verify", headers=bearer(make_token(live_clerk)))
    assert answer.status == 401
    assert_identity_headers(answer)
    assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert answer.headers["X-Clerk-Auth-Reason"] != ""


async def test_accepts_overrides_the_configured_token_types(service: Running, live_clerk: FakeClerk) -> None:
    """?accepts=api_key refuses a session token (token-type-mismatch); accepts=any takes it."""
    token = member_token(live_clerk)
    refused = await service.call("/verify?accepts=api_key", headers=bearer(token))
    assert refused.status == 401
    assert refused.headers["X-Clerk-Auth-Reason"] == "token-type-mismatch"
    assert refused.headers["X-Clerk-Token-Type"] == "api_key"
    assert (await service.call("/verify?accepts=any", headers=bearer(token))).status == 200


@pytest.mark.parametrize("endpoint", ["/verify", "/forward-auth", "/has", "/auth"])
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("colour=blue", "colour"),
        ("permission=", "permission"),
        ("reverification=forever", "reverification"),
        ("reverification=second_factor:0", "reverification"),
        ("reverification=third_factor:10", "reverification"),
        ("feature=lol:dashboard", "feature"),
        ("accepts=cookies", "accepts"),
    ],
)
async def test_an_unknown_parameter_or_malformed_requirement_is_400_naming_it(
    service: Running, endpoint: str, query: str, parameter: str
) -> None:
    """An operator's mistake: 400 JSON naming the parameter (checked before any decision)."""
    answer = await service.call(f"{endpoint}?{query}")
    assert answer.status == 400
    body = answer.json()
    assert body["parameter"] == parameter
    assert body["message"].startswith(f"{parameter}: ")


async def test_keys_unavailable_is_503_failing_closed(down_service: Running, live_clerk: FakeClerk) -> None:
    """Without keys nothing can be verified: 503 with Clerk's reason, every identity header, nothing allowed."""
    answer = await down_service.call("/verify", headers=bearer(member_token(live_clerk)))
    assert answer.status == 503
    assert_identity_headers(answer)
    assert answer.headers["X-Clerk-Auth-Reason"] in KEYS_UNAVAILABLE_REASONS
    assert answer.headers["X-Clerk-User-Id"] == ""
    assert answer.headers["Cache-Control"] == "no-store"


# --- /forward-auth ------------------------------------------------------------------------------------------


async def test_forward_auth_allows_with_identity_headers(service: Running, live_clerk: FakeClerk) -> None:
    """200 with the identity headers for the upstream."""
    answer = await service.call("/forward-auth", headers=bearer(member_token(live_clerk)))
    assert answer.status == 200
    assert_signed_in_identity(answer)


async def test_forward_auth_redirects_a_handshake_for_real(service: Running) -> None:
    """307 to the handshake URL with its Set-Cookie (Traefik's X-Forwarded-* give the original URL)."""
    traefik = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "app.example.com",
        "X-Forwarded-Uri": "/dash?tab=1",
        "X-Forwarded-Method": "GET",
        "Cookie": "__client_uat=1700000000",
        **PAGE_LOAD,
    }
    answer = await service.call("/forward-auth", headers=traefik)
    assert answer.status == 307
    assert_identity_headers(answer)
    assert answer.headers["Location"].startswith("https://clerk.authd.localhost/v1/client/handshake?")
    assert quote(ORIGINAL, safe="") in answer.headers["Location"]
    assert answer.headers.getall("Set-Cookie") == ["__clerk_redirect_count=1; SameSite=Lax; HttpOnly; Max-Age=2"]


async def test_forward_auth_sends_a_signed_out_page_load_to_sign_in(service: Running) -> None:
    """302 to the sign-in URL with the original URL as redirect_url."""
    answer = await service.call("/forward-auth", headers={**FORWARDED, **PAGE_LOAD})
    assert answer.status == 302
    assert_identity_headers(answer)
    assert answer.headers["Location"] == f"{SIGN_IN_URL}?redirect_url={quote(ORIGINAL, safe='')}"


async def test_forward_auth_answers_api_calls_with_json(service: Running, live_clerk: FakeClerk) -> None:
    """401 JSON when signed out, 403 JSON when a requirement fails."""
    signed_out = await service.call("/forward-auth", headers={"Accept": "application/json"})
    assert signed_out.status == 401
    assert_identity_headers(signed_out)
    assert signed_out.json() == {"status": "signed-out", "reason": "session-token-and-uat-missing", "message": None}
    denied = await service.call("/forward-auth?role=owner", headers=bearer(member_token(live_clerk)))
    assert denied.status == 403
    assert_identity_headers(denied)
    assert denied.json() == {
        "status": "signed-in",
        "reason": "requirement-not-met",
        "message": "Requirement not met: role=owner",
    }


async def test_forward_auth_fails_closed(down_service: Running, live_clerk: FakeClerk) -> None:
    """503 JSON when keys are unavailable."""
    answer = await down_service.call("/forward-auth", headers=bearer(member_token(live_clerk)))
    assert answer.status == 503
    assert_identity_headers(answer)
    assert answer.json()["reason"] in KEYS_UNAVAILABLE_REASONS


# --- /ext-authz ---------------------------------------------------------------------------------------------


async def test_ext_authz_decides_about_the_original_path_and_query(service: Running, live_clerk: FakeClerk) -> None:
    """The path after /ext-authz and the query are the original request's: the query is not a requirement."""
    answer = await service.call("/ext-authz/api/orders?page=2", headers=bearer(member_token(live_clerk)))
    assert answer.status == 200
    assert_signed_in_identity(answer)


async def test_ext_authz_hand_shakes_to_the_original_url(service: Running) -> None:
    """307 to the handshake with redirect_url built from Envoy's Host and the original path."""
    headers = {"Host": "app.example.com", "X-Forwarded-Proto": "https", "Cookie": "__client_uat=1700000000"}
    answer = await service.call("/ext-authz/dash?tab=1", headers={**headers, **PAGE_LOAD})
    assert answer.status == 307
    assert_identity_headers(answer)
    assert quote(ORIGINAL, safe="") in answer.headers["Location"]


async def test_ext_authz_denies_and_fails_closed(
    service: Running, down_service: Running, live_clerk: FakeClerk
) -> None:
    """401 JSON signed out; 503 without keys."""
    signed_out = await service.call("/ext-authz/api/orders", method="POST")
    assert signed_out.status == 401
    assert_identity_headers(signed_out)
    down = await down_service.call("/ext-authz/api/orders", headers=bearer(member_token(live_clerk)))
    assert down.status == 503
    assert_identity_headers(down)


# --- /handshake ---------------------------------------------------------------------------------------------


async def test_handshake_sets_the_cookies_and_returns_to_the_clean_url(service: Running, live_clerk: FakeClerk) -> None:
    """The nonce's directives become Set-Cookie headers; 307 back to the URL without handshake parameters."""
    directives = [f"__session={member_token(live_clerk)}; Path=/; Secure", "__client_uat=1700000000; Path=/"]
    live_clerk.register_handshake_nonce("nonce-1", directives)
    original = "https://app.example.com/dash?tab=1&__clerk_handshake_nonce=nonce-1"
    answer = await service.call("/handshake", headers={"X-Original-URL": original, **PAGE_LOAD})
    assert answer.status == 307
    assert answer.headers["Location"] == ORIGINAL
    assert answer.headers.getall("Set-Cookie") == directives
    assert_signed_in_identity(answer)


async def test_handshake_answers_carry_clerks_cors_pair_and_are_never_cached(
    start_service: StartService, live_clerk: FakeClerk
) -> None:
    """Clerk's resolution sets ``Access-Control-Allow-Origin: null`` and ``-Allow-Credentials: true``; the 307 (it
    carries the session's cookies) is ``no-store``, on production as after a development resolution, where
    Clerk's own Location (the URL without the handshake, help, dev-browser and nonce parameters) is followed."""
    async with FakeClerk() as dev_clerk:  # pk_test_: a development instance
        for fake, nonce, extra in (
            (live_clerk, "n-prod", ""),
            (dev_clerk, "n-dev", "&__clerk_help=1&__clerk_db_jwt=d"),
        ):
            fake.register_handshake_nonce(nonce, [f"__session={member_token(fake)}; Path=/"])
            running = await start_service(fake)
            original = f"{ORIGINAL}{extra}&__clerk_handshake_nonce={nonce}"
            answer = await running.call("/handshake", headers={"X-Original-URL": original, **PAGE_LOAD})
            assert answer.status == 307
            assert answer.headers["Location"] == ORIGINAL
            assert answer.headers["Access-Control-Allow-Origin"] == "null"
            assert answer.headers["Access-Control-Allow-Credentials"] == "true"
            assert answer.headers.getall("Cache-Control") == ["no-store"]
            assert answer.headers["X-Clerk-User-Id"] == "user_1"


async def test_a_handshake_without_a_session_signs_out(service: Running, live_clerk: FakeClerk) -> None:
    """An empty session directive is Clerk's session-token-missing; the cookies are still set."""
    live_clerk.register_handshake_nonce("nonce-2", ["__session=; Path=/", "__client_uat=0; Path=/"])
    original = "https://app.example.com/dash?__clerk_handshake_nonce=nonce-2"
    answer = await service.call("/handshake", headers={"X-Original-URL": original, **PAGE_LOAD})
    assert answer.status == 307
    assert answer.headers["Location"] == "https://app.example.com/dash"
    assert answer.headers["X-Clerk-Auth-Reason"] == "session-token-missing"
    assert len(answer.headers.getall("Set-Cookie")) == 2
    assert_identity_headers(answer)


async def test_handshake_without_handshake_parameters_is_400(service: Running) -> None:
    """Routing a request without __clerk_handshake(_nonce) here is a proxy misconfiguration."""
    answer = await service.call("/handshake", headers={"X-Original-URL": ORIGINAL})
    assert answer.status == 400
    assert answer.json()["parameter"] == "__clerk_handshake"


async def test_handshake_fails_closed(start_service: StartService, live_clerk: FakeClerk) -> None:
    """With no usable keys, neither the handshake's session nor the request's cookie can be verified: 503."""
    live_clerk.serve_empty_keys()
    running = await start_service(live_clerk)
    token = member_token(live_clerk)
    live_clerk.register_handshake_nonce("nonce-3", [f"__session={token}; Path=/"])
    original = "https://app.example.com/dash?__clerk_handshake_nonce=nonce-3"
    cookies = f"__session={token}; __client_uat=1700000000"
    answer = await running.call("/handshake", headers={"X-Original-URL": original, "Cookie": cookies})
    assert answer.status == 503
    assert_identity_headers(answer)
    assert answer.headers["X-Clerk-Auth-Reason"] in KEYS_UNAVAILABLE_REASONS


# --- /has ---------------------------------------------------------------------------------------------------


async def test_auth_and_has_decide_about_the_request_x_original_names(service: Running, live_clerk: FakeClerk) -> None:
    """api.md §2: ``/auth`` and ``GET /has`` decide about their own request unless the caller names another with
    ``X-Original-URL`` / ``X-Original-Method``; a proxy family's ``X-Forwarded-Method`` / ``-Uri`` move nothing."""
    expired = bearer(member_token(live_clerk, now=time.time() - 3600))
    own = await service.call("/auth", headers={**expired, "X-Forwarded-Method": "POST", "X-Forwarded-Uri": "/x"})
    posted = await service.call("/auth", headers={**expired, "X-Original-Method": "POST"})
    assert own.json()["reason"] == "session-token-expired-refresh-non-eligible-no-refresh-cookie"
    assert posted.json()["reason"] == "session-token-expired-refresh-non-eligible-non-get"
    live_clerk.register_handshake_nonce("n-auth", [f"__session={member_token(live_clerk)}; Path=/"])
    original = {"X-Original-URL": "https://app.example.com/dash?__clerk_handshake_nonce=n-auth"}
    resolved = await service.call("/auth", headers=original)
    assert (resolved.json()["status"], resolved.json()["auth"]["userId"]) == ("signed-in", "user_1")
    allowed = await service.call("/has?permission=org:invoices:read", headers=original)
    assert (allowed.status, allowed.json()) == (200, {"allowed": True})


async def test_has_get_answers_allowed_or_the_reason(service: Running, live_clerk: FakeClerk) -> None:
    """200 {"allowed": true}; 403 {"allowed": false, "reason": ...}; 401 signed out."""
    token = bearer(member_token(live_clerk))
    allowed = await service.call("/has?permission=org:invoices:read", headers=token)
    assert (allowed.status, allowed.json()) == (200, {"allowed": True})
    assert_signed_in_identity(allowed)
    denied = await service.call("/has?plan=pro", headers=token)
    assert denied.status == 403
    assert denied.json()["reason"] == "requirement-not-met"
    assert_identity_headers(denied)
    signed_out = await service.call("/has?plan=pro")
    assert signed_out.status == 401
    assert signed_out.json()["allowed"] is False
    assert_identity_headers(signed_out)


async def test_has_get_needs_a_requirement(service: Running, live_clerk: FakeClerk) -> None:
    """has() with nothing asked is always false in Clerk: asking nothing is a 400."""
    answer = await service.call("/has?accepts=session_token", headers=bearer(member_token(live_clerk)))
    assert answer.status == 400


async def test_has_post_answers_one_boolean_per_check(service: Running, live_clerk: FakeClerk) -> None:
    """Each check is a full has() call; the token may come in the body instead of a header."""
    body = {
        "token": member_token(live_clerk),
        "checks": [
            {"permission": "org:invoices:read"},
            {"role": "owner"},
            {"role": "admin", "permission": "org:invoices:read"},
            {"role": "admin", "plan": "pro"},
        ],
    }
    answer = await service.call("/has", method="POST", body=body)
    assert answer.status == 200
    assert answer.json() == {"signed_in": True, "user_id": "user_1", "results": [True, False, True, False]}
    assert_signed_in_identity(answer)


async def test_has_post_signed_out_is_401(service: Running) -> None:
    """Without a valid token, no check is run."""
    answer = await service.call("/has", method="POST", body={"token": "nope", "checks": [{"role": "admin"}]})
    assert answer.status == 401
    assert answer.json()["signed_in"] is False
    assert_identity_headers(answer)


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/verify?permission=%ff", "permission"),
        ("/forward-auth?role=a%0Ab", "role"),
        ("/has?feature=%E2%80%8F", "feature"),
    ],
)
async def test_a_requirement_a_header_cannot_name_is_400(
    service: Running, live_clerk: FakeClerk, path: str, parameter: str
) -> None:
    """A value that decodes beyond Latin-1 (%ff is U+FFFD) or to a control could not be named in the message
    of a 403: 400 naming the parameter instead."""
    answer = await service.call(path, headers=bearer(member_token(live_clerk)))
    assert answer.status == 400
    body = answer.json()
    assert (body["error"], body["parameter"]) == ("bad-request", parameter)
    assert body["message"].startswith(f"{parameter}: cannot be written in a header")


@pytest.mark.parametrize("spacing", [" junk", " ", "\tjunk", "\njunk", "\u00a0junk"])
async def test_has_post_takes_the_body_token_literally(service: Running, live_clerk: FakeClerk, spacing: str) -> None:
    """A valid token followed by whitespace and more is not that token (no header split): 400 naming token."""
    body = {"token": member_token(live_clerk) + spacing, "checks": [{"role": "admin"}]}
    answer = await service.call("/has", method="POST", body=body)
    assert answer.status == 400
    assert answer.json()["parameter"] == "token"


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        (b"{not json", "body"),
        ([], "body"),
        ({"checks": []}, "checks"),
        ({"checks": [{"role": "admin"}, {"colour": "blue"}]}, "checks[1].colour"),
        ({"checks": [{"role": 1}]}, "checks[0].role"),
        ({"checks": [{"reverification": "forever"}]}, "checks[0].reverification"),
        ({"checks": [{"role": "admin"}], "tokne": "x"}, "tokne"),
        ({"checks": [{"role": "admin"}], "token": 1}, "token"),
        ({"checks": [{"role": "admin"}], "token": "a b"}, "token"),
    ],
)
async def test_has_post_with_a_malformed_body_is_400(service: Running, body: object, parameter: str) -> None:
    """The 400 names what is wrong in the body."""
    answer = await service.call("/has", method="POST", body=body)
    assert answer.status == 400
    assert answer.json()["parameter"] == parameter


async def test_has_fails_closed(down_service: Running, live_clerk: FakeClerk) -> None:
    """503 for GET and POST when keys are unavailable."""
    token = member_token(live_clerk)
    get = await down_service.call("/has?role=admin", headers=bearer(token))
    post = await down_service.call("/has", method="POST", body={"token": token, "checks": [{"role": "admin"}]})
    assert (get.status, post.status) == (503, 503)
    assert_identity_headers(get)
    assert_identity_headers(post)


# --- /auth --------------------------------------------------------------------------------------------------


async def test_auth_is_clerks_auth_object(service: Running, live_clerk: FakeClerk) -> None:
    """200 with status, reason, message and Clerk's camelCase auth object."""
    answer = await service.call("/auth", headers=bearer(member_token(live_clerk)))
    assert answer.status == 200
    assert_signed_in_identity(answer)
    body = answer.json()
    assert (body["status"], body["reason"], body["message"]) == ("signed-in", None, None)
    auth = body["auth"]
    assert auth["userId"] == "user_1"
    assert auth["orgPermissions"] == ["org:invoices:read"]
    assert auth["sessionClaims"]["sub"] == "user_1"
    assert auth["isAuthenticated"] is True


#: Clerk's own query parameters, as they appear on a URL Clerk reads
CLERK_QUERY = (
    "__clerk_handshake=abc&__clerk_handshake_nonce=n&__clerk_db_jwt=dvb_1&__clerk_synced=true"
    "&__clerk_redirect_url=https%3A%2F%2Fapp.example.com%2F&__clerk_help=1&__dev_session=dvb_1"
)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/auth?{CLERK_QUERY}", None),
        ("GET", f"/auth?accepts=session_token&{CLERK_QUERY}", None),
        ("GET", f"/has?permission=org:invoices:read&{CLERK_QUERY}", None),
        ("POST", f"/has?{CLERK_QUERY}", {"checks": [{"role": "admin"}]}),
    ],
)
async def test_endpoints_on_their_own_url_leave_clerks_parameters_to_clerk(
    service: Running, live_clerk: FakeClerk, method: str, path: str, body: object
) -> None:
    """/auth and /has decide about their own URL, where Clerk's parameters (__clerk_*, __dev_session) appear: no 400."""
    answer = await service.call(path, method=method, headers=bearer(member_token(live_clerk)), body=body)
    assert answer.status == 200
    assert answer.headers["X-Clerk-Auth-Status"] == "signed-in"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/auth?__clerkhandshake=abc", "__clerkhandshake"),
        ("/auth?__dev_sessions=x", "__dev_sessions"),
        ("/verify?__clerk_handshake=abc", "__clerk_handshake"),
        ("/forward-auth?__dev_session=x", "__dev_session"),
    ],
)
async def test_other_parameters_stay_unknown(service: Running, path: str, parameter: str) -> None:
    """Only Clerk's names are left out, and only where the query is the decided request's own: /verify's and
    /forward-auth's query holds requirements alone."""
    answer = await service.call(path)
    assert answer.status == 400
    assert answer.json()["parameter"] == parameter


async def test_auth_is_200_when_signed_out(service: Running) -> None:
    """Signed out is an answer, not an error."""
    answer = await service.call("/auth")
    assert answer.status == 200
    assert_identity_headers(answer)
    assert answer.json()["auth"]["isAuthenticated"] is False
    assert answer.json()["reason"] == "session-token-and-uat-missing"


async def test_auth_fails_closed(down_service: Running, live_clerk: FakeClerk) -> None:
    """503 when keys are unavailable."""
    answer = await down_service.call("/auth", headers=bearer(member_token(live_clerk)))
    assert answer.status == 503
    assert_identity_headers(answer)


async def test_a_development_instance_hand_shakes_page_loads_without_a_dev_browser(
    start_service: StartService, fake_clerk: FakeClerk
) -> None:
    """On a pk_test instance every cookie-path page load needs the dev browser (dev-browser-missing)."""
    dev = await start_service(fake_clerk)
    answer = await dev.call("/forward-auth", headers={**FORWARDED, **PAGE_LOAD})
    assert answer.status == 307
    assert answer.headers["X-Clerk-Auth-Reason"] == "dev-browser-missing"


async def test_handshakes_can_be_turned_off(start_service: StartService, live_clerk: FakeClerk) -> None:
    """CLERK_AUTHD_ENABLE_HANDSHAKE=false: the same reason, signed out, and the sign-in page instead."""
    running = await start_service(live_clerk, CLERK_SIGN_IN_URL=SIGN_IN_URL, CLERK_AUTHD_ENABLE_HANDSHAKE="false")
    headers = {**FORWARDED, "Cookie": "__client_uat=1700000000", **PAGE_LOAD}
    answer = await running.call("/forward-auth", headers=headers)
    assert answer.status == 302
    assert answer.headers["X-Clerk-Auth-Status"] == "signed-out"
    assert answer.headers["X-Clerk-Auth-Reason"] == "client-uat-but-no-session-token"
    assert answer.headers["Location"].startswith(SIGN_IN_URL)
