"""The handshake: eligibility, the redirect, the loop guard, and resolving the payload (clerk-semantics §7–§9)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.handshake import MSG_CLOCK_SKEW, resolve_handshake, verify_handshake_token
from clerk_authd.clerk.limiter import CallGuard
from clerk_authd.clerk.tokens import VerifyOptions
from clerk_authd.errors import AuthenticateRequestError, HandshakeError, TokenVerificationError
from clerk_authd.rules.carriers import Carriers
from clerk_authd.rules.handshake import (
    MSG_LOOP,
    MSG_SATELLITE_LOOP,
    Context,
    apply_directives,
    handshake_location,
    is_eligible,
    maybe_handshake,
)
from clerk_authd.rules.instance import Instance
from clerk_authd.rules.keys import PemKey
from clerk_authd.rules.orgsync import OrganizationMatcher
from clerk_authd.rules.referrer import is_known_clerk_referrer
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.state import RequestState
from clerk_authd.testing.fake_clerk import FakeClerk
from clerk_authd.testing.mint import TokenMint
from tests.conftest import FROZEN_NOW
from tests.support import FAPI, ISSUER, PK_LIVE, PK_TEST, pem_authenticator, request_view

NOW = FROZEN_NOW
HANDSHAKE_BASE = f"https://{FAPI}/v1/client/handshake?"
DOC = {"sec-fetch-dest": "document"}


def context(
    view: RequestView | None = None,
    *,
    publishable_key: str = PK_LIVE,
    proxy_url: str = "",
    domain: str = "",
    is_satellite: bool = False,
    org_patterns: tuple[str, ...] = (),
    personal_patterns: tuple[str, ...] = (),
) -> Context:
    view = view or request_view(**DOC)
    instance = Instance.from_publishable_key(
        publishable_key, proxy_url=proxy_url, domain=domain, is_satellite=is_satellite
    )
    matcher = OrganizationMatcher(org_patterns, personal_patterns)
    return Context(view, Carriers.read(view, instance, NOW), instance, matcher, is_satellite)


def session(mint: TokenMint, **claims: Any) -> str:
    base: dict[str, Any] = {
        "sub": "user_1",
        "sid": "sess_1",
        "iss": ISSUER,
        "iat": NOW,
        "nbf": NOW - 10,
        "exp": NOW + 60,
    }
    return mint.sign({**base, **claims})


def handshake_token(mint: TokenMint, directives: Any, header: dict[str, Any] | None = None) -> str:
    return mint.sign({"handshake": directives, "iat": NOW}, header=header)


def verify_options(mint: TokenMint) -> VerifyOptions:
    return VerifyOptions(keys=PemKey(mint.public_pem), clock=lambda: NOW)


# --- eligibility (§7) ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "headers", "eligible"),
    [
        ("GET", {"sec-fetch-dest": "document"}, True),
        ("GET", {"sec-fetch-dest": "iframe"}, True),
        ("GET", {"accept": "text/html,application/xhtml+xml"}, True),
        ("GET", {"sec-fetch-dest": "empty", "accept": "text/html"}, False),
        ("GET", {"accept": "application/json"}, False),
        ("GET", {"accept": "TEXT/HTML"}, False),
        ("GET", {}, False),
        ("POST", {"sec-fetch-dest": "document"}, False),
        ("HEAD", {"sec-fetch-dest": "document"}, False),
    ],
)
def test_only_get_navigations_are_eligible(method: str, headers: dict[str, str], eligible: bool) -> None:
    """GET with ``sec-fetch-dest`` document/iframe, or ``text/html`` without ``sec-fetch-dest``."""
    assert is_eligible(RequestView.build(method, "http://example.com/", headers.items())) is eligible


# --- the redirect URL (§8) ----------------------------------------------------------------------------------


def test_the_handshake_url_carries_every_parameter_in_clerks_order(fixture_mint: TokenMint) -> None:
    """redirect_url (dev-browser params removed, query re-serialized), API version, suffix flag, reason, format,
    the raw session, the dev browser (dev only) and the organization, URLSearchParams-encoded."""
    token = session(fixture_mint)
    view = request_view(
        "http://localhost:3000/orgs/acme?q=a b&__clerk_db_jwt=dvb_1&__dev_session=old",
        cookie=f"__session={token}; __client_uat=1",
        **DOC,
    )
    location = handshake_location(context(view, publishable_key=PK_TEST, org_patterns=("/orgs/:slug",)), "r-1")
    assert location == (
        HANDSHAKE_BASE + "redirect_url=http%3A%2F%2Flocalhost%3A3000%2Forgs%2Facme%3Fq%3Da%2Bb"
        "&__clerk_api_version=2026-05-12&suffixed_cookies=false&__clerk_hs_reason=r-1&format=nonce"
        f"&__session={token}&__clerk_db_jwt=dvb_1&organization_id=acme"
    )


def test_production_never_sends_the_dev_browser_token() -> None:
    """The dev-browser parameter is development-only."""
    view = request_view("http://example.com/?__clerk_db_jwt=dvb_1", **DOC)
    assert "__clerk_db_jwt" not in handshake_location(context(view), "r")


def test_a_personal_account_path_sends_an_empty_organization() -> None:
    """``organization_id=`` (empty) for personal-account patterns."""
    view = request_view("http://example.com/me", **DOC)
    assert handshake_location(context(view, personal_patterns=("/me",)), "r").endswith("&organization_id=")


@pytest.mark.parametrize(
    ("proxy_url", "domain", "satellite", "prefix"),
    [
        ("https://app.com/__clerk///", "", False, "https://app.com/__clerk/v1/client/handshake?"),
        ("https://proxy.app.com", "", False, "https://proxy.app.com/v1/client/handshake?"),
        ("", "satellite.com", True, "https://clerk.satellite.com/v1/client/handshake?"),
        ("", "satellite.com", False, HANDSHAKE_BASE),
    ],
)
def test_the_handshake_goes_to_the_proxy_or_satellite_frontend_api(
    proxy_url: str, domain: str, satellite: bool, prefix: str
) -> None:
    """A proxy URL (its path kept, trailing slashes folded) or a production satellite's ``clerk.<domain>``."""
    location = handshake_location(context(proxy_url=proxy_url, domain=domain, is_satellite=satellite), "r")
    assert location.startswith(prefix)


def test_a_frontend_api_that_is_no_url_throws() -> None:
    """A proxy URL no URL parser accepts makes Clerk throw ``Invalid URL`` when it builds the redirect."""
    with pytest.raises(AuthenticateRequestError, match=r"^Invalid URL"):
        handshake_location(context(proxy_url="https://a b"), "r")


# --- handleMaybeHandshakeStatus and the loop guard (§7) -----------------------------------------------------


@pytest.mark.parametrize(("count", "next_count"), [("", "1"), ("2", "3"), ("4", "5"), ("2.5", "3.5")])
def test_each_handshake_counts_the_redirect(count: str, next_count: str) -> None:
    """The counter cookie is the request's count plus one, for two seconds; only exactly 3 stops."""
    state = maybe_handshake(context(request_view(cookie=f"__clerk_redirect_count={count}", **DOC)), "r", "m")
    assert state.status == "handshake"
    assert state.set_cookies == (f"__clerk_redirect_count={next_count}; SameSite=Lax; HttpOnly; Max-Age=2",)
    assert state.header("cache-control") == "no-store"
    assert state.header(
        "location",
    ) == handshake_location(context(request_view(**DOC)), "r")
    assert state.to_auth() is None


@pytest.mark.parametrize(("reason", "logged"), [("r", MSG_LOOP), ("satellite-needs-syncing", MSG_SATELLITE_LOOP)])
def test_the_third_redirect_stops_the_loop(reason: str, logged: str, caplog: pytest.LogCaptureFixture) -> None:
    """At a count of exactly 3 the answer is signed-out with the same reason, and the loop is logged."""
    state = maybe_handshake(context(request_view(cookie="__clerk_redirect_count=3", **DOC)), reason, "m")
    assert (state.status, state.reason, state.message, state.set_cookies) == ("signed-out", reason, "m", ())
    assert state.header("location") is None
    assert [r.getMessage() for r in caplog.records] == [logged]


def test_an_ineligible_request_is_signed_out_with_the_same_reason() -> None:
    """No redirect headers, no counter, the debug headers of a signed-out state."""
    state = maybe_handshake(context(request_view(accept="application/json")), "r", "m")
    assert state == RequestState.signed_out("r", "m")


def test_an_explicit_location_replaces_the_frontend_api() -> None:
    """The multi-domain flows redirect elsewhere, with the same guard and headers."""
    state = maybe_handshake(context(), "r", "", location="https://primary.dev/sign-in")
    assert state.header("location") == "https://primary.dev/sign-in"


# --- resolving a handshake (§9) -----------------------------------------------------------------------------


@pytest.fixture
async def fake(fixture_mint: TokenMint) -> AsyncIterator[FakeClerk]:
    async with FakeClerk(mint=fixture_mint, publishable_key=PK_LIVE, clock=lambda: NOW) as server:
        yield server


@pytest.fixture
async def client(fake: FakeClerk) -> AsyncIterator[ClerkClient]:
    async with ClerkClient(secret_key=fake.secret_key, api_url=fake.url) as api:
        yield api


async def test_a_nonce_is_exchanged_for_cookies(fixture_mint: TokenMint, fake: FakeClerk, client: ClerkClient) -> None:
    """The nonce's directives become Set-Cookies, the ``__session`` one is verified; no redirect in production."""
    token = session(fixture_mint)
    directives = [f"__session={token}; Path=/; Secure", "__client_uat=1666648250; Path=/"]
    fake.register_handshake_nonce("nonce_1", directives)
    view = request_view("http://example.com/dash?__clerk_handshake_nonce=nonce_1&__clerk_handshake=garbage", **DOC)
    state = await resolve_handshake(
        context(view), verify_options(fixture_mint), client=client, keys=None, guard=CallGuard()
    )
    assert (state.status, state.token, state.set_cookies) == ("signed-in", token, tuple(directives))
    assert dict(state.headers) == {"access-control-allow-origin": "null", "access-control-allow-credentials": "true"}
    assert fake.received[-1].path == "/v1/clients/handshake_payload"
    assert fake.received[-1].query == {"nonce": "nonce_1"}


async def test_an_unknown_nonce_is_logged_and_gives_no_cookies(
    fixture_mint: TokenMint, client: ClerkClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A Backend API error is logged at info (anyone can send a bogus nonce: no error line per request); with no
    session directive the answer is ``session-token-missing``."""
    caplog.set_level(logging.INFO)
    view = request_view("http://example.com/?__clerk_handshake_nonce=unknown", **DOC)
    state = await resolve_handshake(
        context(view), verify_options(fixture_mint), client=client, keys=None, guard=CallGuard()
    )
    assert (state.status, state.reason, state.set_cookies) == ("signed-out", "session-token-missing", ())
    assert caplog.records[-1].getMessage().startswith("Clerk: HandshakeService: error getting handshake payload: ")
    assert caplog.records[-1].levelno == logging.INFO


async def test_without_a_client_a_nonce_gives_no_cookies(fixture_mint: TokenMint) -> None:
    """No Backend API client: no cookies, as Clerk without an ``apiClient``."""
    view = request_view("http://example.com/?__clerk_handshake_nonce=n", **DOC)
    state = await resolve_handshake(
        context(view), verify_options(fixture_mint), client=None, keys=None, guard=CallGuard()
    )
    assert state.reason == "session-token-missing"


@pytest.mark.parametrize("category", [None, "cl_B7d4PD111AAA", "cl_I7d4PD111III"])
async def test_session_and_ignore_categories_are_accepted(fixture_mint: TokenMint, category: str | None) -> None:
    """A handshake token without ``cat``, or with the session or ignore category, is accepted."""
    token = handshake_token(fixture_mint, ["__session=x"], {"cat": category})
    payload = await verify_handshake_token(token, PemKey(fixture_mint.public_pem))
    assert payload["handshake"] == ["__session=x"]


@pytest.mark.parametrize("category", ["cl_B7d4PD222AAA", "cl_B7d4PD333AAA", "cl_unknown", ""])
async def test_other_categories_are_refused(fixture_mint: TokenMint, category: str) -> None:
    """JWT templates, M2M tokens and unknown categories are not handshake tokens."""
    token = handshake_token(fixture_mint, [], {"cat": category})
    with pytest.raises(TokenVerificationError, match=r"^Invalid handshake token category\.$") as caught:
        await verify_handshake_token(token, PemKey(fixture_mint.public_pem))
    assert caught.value.reason == "token-invalid"


@pytest.mark.parametrize(
    ("header", "reason", "message"),
    [
        ({"typ": "JWS"}, "token-invalid", 'Invalid JWT type "JWS". Expected "JWT".'),
        ({"alg": "HS256"}, "token-invalid-algorithm", 'Invalid JWT algorithm "HS256". Supported: RS256,RS384,RS512.'),
        (
            {"alg": "RS384"},
            "token-verification-failed",
            'Error verifying handshake token. Error: JWK "alg" does not match the requested algorithm',
        ),
    ],
)
async def test_the_handshake_token_header_is_checked(
    fixture_mint: TokenMint, header: dict[str, str], reason: str, message: str
) -> None:
    """``typ`` absent or JWT; ``alg`` one of Clerk's, and only RS256 can verify."""
    signed = fixture_mint.sign(
        {"handshake": []}, header=header, alg="RS384" if header.get("alg") == "RS384" else "RS256"
    )
    with pytest.raises(TokenVerificationError) as caught:
        await verify_handshake_token(signed, PemKey(fixture_mint.public_pem))
    assert (caught.value.reason, caught.value.message) == (reason, message)


async def test_a_handshake_token_signed_by_another_key_is_refused(fixture_mint: TokenMint) -> None:
    """A foreign signature gives ``token-invalid-signature``; a missing key source ``jwk-failed-to-resolve``."""
    forged = handshake_token(TokenMint.generate(kid=fixture_mint.kid), [])
    with pytest.raises(TokenVerificationError, match=r"^Handshake signature is invalid\.$"):
        await verify_handshake_token(forged, PemKey(fixture_mint.public_pem))
    with pytest.raises(TokenVerificationError, match=r"^Failed to resolve JWK during handshake verification\.$"):
        await verify_handshake_token(forged, None)


async def test_handshake_tokens_have_no_claim_checks(fixture_mint: TokenMint) -> None:
    """An expired handshake token without ``sub`` still verifies: only the signature matters."""
    token = fixture_mint.sign({"handshake": ["a=b"], "exp": NOW - 3600})
    assert (await verify_handshake_token(token, PemKey(fixture_mint.public_pem)))["handshake"] == ["a=b"]


def test_the_last_session_directive_sets_the_token() -> None:
    """Names starting ``__session`` count; the value is cut at a second ``=`` as Clerk's split does."""
    cookies, token = apply_directives(["__session=a; Path=/", "__session_x=b=c; Path=/", "__client_uat=1"])
    assert (cookies, token) == (["__session=a; Path=/", "__session_x=b=c; Path=/", "__client_uat=1"], "b")
    assert apply_directives(["__session; Path=/"]) == (["__session; Path=/"], None)
    assert apply_directives([]) == ([], "")


@pytest.mark.parametrize("directive", ["__session=a\r\nSet-Cookie: evil=1", "a=\x00", "a=€", 42, None])
def test_a_directive_headers_refuse_is_a_handshake_failure(directive: object) -> None:
    """What a Fetch ``Headers`` refuses (CR, LF, NUL, non-Latin-1) or a non-string fails the handshake."""
    with pytest.raises(HandshakeError):
        apply_directives([directive])


async def test_development_redirects_to_the_url_without_handshake_parameters(fixture_mint: TokenMint) -> None:
    """Dev: ``location`` is the URL minus the handshake, help, dev-browser and nonce parameters; no-store."""
    token = handshake_token(fixture_mint, [f"__session={session(fixture_mint)}"])
    view = request_view(
        f"http://localhost:3000/dash?__clerk_handshake={token}&__clerk_help=1&__clerk_db_jwt=d"
        "&__clerk_handshake_nonce=&a=1",
        **DOC,
    )
    ctx = context(view, publishable_key=PK_TEST)
    state = await resolve_handshake(
        ctx, verify_options(fixture_mint), client=None, keys=PemKey(fixture_mint.public_pem), guard=CallGuard()
    )
    assert state.status == "signed-in"
    assert state.header("location") == "http://localhost:3000/dash?a=1"
    assert state.header("cache-control") == "no-store"


async def test_development_retries_a_clock_skewed_session_with_a_day_of_tolerance(
    fixture_mint: TokenMint, caplog: pytest.LogCaptureFixture
) -> None:
    """Dev: an expired (or future) session is logged as clock skew and verified again with 24 h of skew."""
    skewed = session(fixture_mint, iat=NOW - 7200, nbf=NOW - 7200, exp=NOW - 3600)
    token = handshake_token(fixture_mint, [f"__session={skewed}"])
    view = request_view(f"http://localhost:3000/?__clerk_handshake={token}", **DOC)
    keys = PemKey(fixture_mint.public_pem)
    state = await resolve_handshake(
        context(view, publishable_key=PK_TEST), verify_options(fixture_mint), client=None, keys=keys, guard=CallGuard()
    )
    assert state.status == "signed-in"
    (record,) = caplog.records
    assert record.getMessage().startswith(MSG_CLOCK_SKEW + "JWT is expired.")
    assert record.getMessage().endswith("(reason=token-expired, token-carrier=cookie)")


@pytest.mark.parametrize(
    ("publishable_key", "claims", "message"),
    [
        (PK_TEST, {"exp": NOW - 2 * 86400}, "JWT is expired. Expiry date: "),
        (PK_LIVE, {"exp": NOW - 60}, "JWT is expired. Expiry date: "),
        (PK_LIVE, {"sub": None}, "Subject claim (sub) is required"),
    ],
)
async def test_a_session_that_does_not_verify_fails_the_handshake(
    fixture_mint: TokenMint, publishable_key: str, claims: dict[str, Any], message: str
) -> None:
    """Beyond a day in dev, and any failure in production, is a ``HandshakeError`` with Clerk's message."""
    bad = fixture_mint.sign({k: v for k, v in {"sub": "user_1", "iat": NOW - 90000, **claims}.items() if v is not None})
    token = handshake_token(fixture_mint, [f"__session={bad}"])
    view = request_view(f"http://localhost:3000/?__clerk_handshake={token}", **DOC)
    keys = PemKey(fixture_mint.public_pem)
    with pytest.raises(HandshakeError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        await resolve_handshake(
            context(view, publishable_key=publishable_key),
            verify_options(fixture_mint),
            client=None,
            keys=keys,
            guard=CallGuard(),
        )


# --- the handshake inside authenticateRequest (§5 step 0) ----------------------------------------------------


async def test_production_logs_a_bad_handshake_and_goes_on_with_the_cookies(
    fixture_mint: TokenMint, caplog: pytest.LogCaptureFixture
) -> None:
    """Prod: the failure is logged (``Clerk: unable to resolve handshake:``, at info: the cookie is the client's)
    and the cookies decide."""
    caplog.set_level(logging.INFO)
    forged = handshake_token(TokenMint.generate(kid=fixture_mint.kid), [])
    cookie = f"__clerk_handshake={forged}; __session={session(fixture_mint, azp='x')}; __client_uat=1"
    state = await pem_authenticator(fixture_mint).authenticate(request_view(cookie=cookie, **DOC))
    assert state.status == "signed-in"
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.INFO, "Clerk: unable to resolve handshake: Handshake signature is invalid.")
    ]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            None,
            "Clerk: Handshake token verification failed due to an invalid signature. If you have switched Clerk "
            "keys locally, clear your cookies and try again.",
        ),
        (
            {"cat": "cl_B7d4PD222AAA"},
            "Clerk: Handshake token verification failed: Invalid handshake token category. "
            "(reason=token-invalid, token-carrier=undefined).",
        ),
    ],
)
async def test_development_throws_when_the_handshake_token_fails(
    fixture_mint: TokenMint, header: dict[str, str] | None, message: str
) -> None:
    """Dev: a handshake-token failure makes ``authenticateRequest`` throw (Express answers 500)."""
    signer = fixture_mint if header else TokenMint.generate(kid=fixture_mint.kid)
    token = handshake_token(signer, [], header)
    view = request_view(f"http://localhost:3000/?__clerk_handshake={token}", **DOC)
    with pytest.raises(AuthenticateRequestError) as caught:
        await pem_authenticator(fixture_mint, PK_TEST).authenticate(view)
    assert str(caught.value) == message


async def test_development_logs_a_session_failure_and_goes_on(
    fixture_mint: TokenMint, caplog: pytest.LogCaptureFixture
) -> None:
    """Dev: a session in the payload that does not verify is Clerk's plain ``Error``: logged (info), flow continues."""
    caplog.set_level(logging.INFO)
    token = handshake_token(fixture_mint, ["__session=not-a-jwt"])
    view = request_view(f"http://localhost:3000/?__clerk_handshake={token}", **DOC)
    state = await pem_authenticator(fixture_mint, PK_TEST).authenticate(view)
    assert (state.status, state.reason) == ("handshake", "dev-browser-missing")
    assert caplog.records[0].getMessage() == (
        "Clerk: unable to resolve handshake: Invalid JWT form. A JWT consists of three parts separated by dots."
    )


# --- known Clerk referrers (§5, cross-origin sync) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("referer", "publishable_key", "proxy_url", "known"),
    [
        (f"https://{FAPI}/v1/x", PK_LIVE, "", True),
        ("https://accounts.inspired.puma-74.lcl.dev/sign-in", PK_LIVE, "", True),
        ("http://accounts.inspired.puma-74.lcl.dev/sign-in", PK_LIVE, "", False),
        ("https://accounts.foo.lcl.dev/", PK_TEST, "", True),
        ("https://accounts.foo.lcl.dev/", PK_LIVE, "", False),
        ("https://foo-bar-13.accounts.dev/", PK_TEST, "", True),
        ("https://foo-bar-13.accounts.dev/", PK_LIVE, "", False),
        ("https://foo-bar-13.clerk.accounts.dev/", PK_TEST, "", False),
        ("https://app.com/__clerk/v1", PK_LIVE, "https://app.com/__clerk", True),
        ("https://satellite.com/x", PK_LIVE, "", False),
        ("not a url", PK_LIVE, "", False),
    ],
)
def test_known_clerk_referrers(referer: str, publishable_key: str, proxy_url: str, known: bool) -> None:
    """FAPI itself, this instance's account portal, and development portals on development instances."""
    view = request_view(referer=referer)
    instance = Instance.from_publishable_key(publishable_key, proxy_url=proxy_url)
    assert is_known_clerk_referrer(view, instance) is known
