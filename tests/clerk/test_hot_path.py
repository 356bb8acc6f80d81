"""The hot path's properties (design.md): what a repeated request reuses, what a cache hit never does, what a
cached verdict keeps. Each test checks a property (calls made, objects shared, sizes bounded), never a time.
"""

from __future__ import annotations

import gc
import itertools
import json
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import orjson
import pytest

from clerk_authd.clerk.authenticate import Authenticator
from clerk_authd.clerk.cache import VerifiedTokenCache
from clerk_authd.clerk.keystore import KeyStore
from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.clerk.session_verifier import SessionVerifier
from clerk_authd.clerk.tokens import (
    VerifiedToken,
    VerifyOptions,
    rs256_signature_is_valid,
    verify_decoded_session_now,
    verify_session_token,
)
from clerk_authd.js.cookies import parse_cookies
from clerk_authd.rules import claims as claims_module
from clerk_authd.rules import request as request_module
from clerk_authd.rules.auth import SignedInAuth
from clerk_authd.rules.cached_verdict import RECENT_CLAIMS_SIZE, CachedVerdict
from clerk_authd.rules.carriers import Carriers, peek_payload, uses_suffixed_cookies
from clerk_authd.rules.claims import PERMISSION_MEMO_SIZE, parse_session_claims
from clerk_authd.rules.instance import Instance
from clerk_authd.rules.jwt import decode_jwt, decode_jwt_loosely
from clerk_authd.rules.request import URL_MEMO_MAX_INPUT, URL_MEMO_SIZE, RequestView, original_request
from clerk_authd.rules.state import RequestState
from clerk_authd.rules.verdict import render_identity
from clerk_authd.testing.mint import TokenMint, encode_v2_permissions
from tests.conftest import FROZEN_NOW
from tests.support import AZP, PK_LIVE, PK_TEST, JwksResolver, claims, mock_jwks

#: what nginx's ``auth_request`` sends along with the client's request (loadtests' gateway scenarios)
GATEWAY = {
    "host": "127.0.0.1:8787",
    "x-forwarded-method": "GET",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "app.example.test",
    "x-forwarded-uri": "/dashboard?tab=1",
}
OWN_URL = "http://127.0.0.1:8787/verify"


def gateway(**changes: str | None) -> RequestView:
    """``original_request`` for the gateway's ``/verify`` call, some headers changed (``_`` is ``-``) or, when
    ``None``, left out."""
    headers = {**GATEWAY, **{name.replace("_", "-"): value for name, value in changes.items()}}
    return original_request("GET", OWN_URL, [(name, value) for name, value in headers.items() if value is not None])


# --- the request view ------------------------------------------------------------------------------------


def test_a_repeated_request_reuses_the_resolved_url() -> None:
    """The same URL and forwarded headers resolve once: later requests share the parsed URL and its query."""
    first, second = gateway(), gateway()
    assert first.url == "https://app.example.test/dashboard?tab=1"
    assert second.parsed_url is first.parsed_url
    assert second.query is first.query


def test_the_shared_query_cannot_be_changed_by_one_request() -> None:
    """The query mapping a memoized URL shares is read-only."""
    view = gateway()
    with pytest.raises(TypeError):
        view.query["tab"] = "2"  # type: ignore[index]  # the point: the mapping refuses writes


@pytest.mark.parametrize(
    ("changes", "url"),
    [
        ({"host": "app.test", "x_forwarded_host": None, "x_forwarded_uri": None}, "https://app.test/verify"),
        ({"x_forwarded_host": "other.example.test"}, "https://other.example.test/dashboard?tab=1"),
        ({"x_forwarded_proto": "http"}, "http://app.example.test/dashboard?tab=1"),
        ({"x_forwarded_uri": "/settings"}, "https://app.example.test/settings"),
        ({"x_forwarded_uri": "", "x_original_uri": "/billing"}, "https://app.example.test/billing"),
        ({"x_original_url": "https://elsewhere.test/x"}, "https://elsewhere.test/x"),
    ],
)
def test_every_header_the_url_depends_on_tells_memoized_urls_apart(changes: dict[str, str | None], url: str) -> None:
    """A request that differs from a remembered one in any header the URL depends on gets its own URL."""
    gateway()
    assert gateway(**changes).url == url


def test_the_own_url_of_a_request_is_remembered_too() -> None:
    """``RequestView.build`` (``/auth``, ``/has``, the SDK) shares resolved URLs the same way."""
    headers = [("host", "api.example.test"), ("x-forwarded-proto", "https")]
    first = RequestView.build("GET", "http://127.0.0.1:8787/auth?accepts=any", headers)
    second = RequestView.build("GET", "http://127.0.0.1:8787/auth?accepts=any", headers)
    assert first.url == "https://api.example.test/auth?accepts=any"
    assert second.parsed_url is first.parsed_url


def test_the_url_memo_is_bounded() -> None:
    """However many distinct URLs clients send, the memo keeps at most ``URL_MEMO_SIZE`` of them."""
    for index in range(URL_MEMO_SIZE + 50):
        assert gateway(x_forwarded_uri=f"/page/{index}").url == f"https://app.example.test/page/{index}"
    assert request_module._original_memo.cache_info().currsize == URL_MEMO_SIZE


def test_a_long_url_is_resolved_without_the_memo() -> None:
    """Inputs longer than ``URL_MEMO_MAX_INPUT`` are resolved each time and never remembered."""
    long_path = "/" + "a" * URL_MEMO_MAX_INPUT
    before = request_module._original_memo.cache_info()
    first, second = gateway(x_forwarded_uri=long_path), gateway(x_forwarded_uri=long_path)
    assert first.url == second.url == "https://app.example.test" + long_path
    assert second.parsed_url is not first.parsed_url
    after = request_module._original_memo.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)


# --- a cache hit -----------------------------------------------------------------------------------------

#: what a cache hit must never run: JSON parsing, JWT decoding, key lookup, signature checks, the cookie choice
FORBIDDEN_ON_A_HIT: tuple[object, ...] = (
    orjson.loads,
    json.loads.__code__,
    decode_jwt.__code__,
    peek_payload.__code__,
    verify_session_token.__code__,
    verify_decoded_session_now.__code__,
    rs256_signature_is_valid.__code__,
    JwksResolver.get_key.__code__,
    JwksResolver.key_now.__code__,
    KeyStore.get_key.__code__,
    KeyStore.key_now.__code__,
    Carriers.read.__code__,
    parse_cookies.__code__,
)


def org_member(mint: TokenMint, session: str) -> str:
    """A v2 token of one member of ``org_1`` with one permission (the shape loadtests mint), own session."""
    fea, per, fpm = encode_v2_permissions(["org:invoices:read"])
    o = {"id": "org_1", "slg": "acme", "rol": "member", "per": per, "fpm": fpm}
    return mint.sign(claims(sub=f"user_{session}", sid=f"sess_{session}", v=2, o=o, fea=fea))


def cached_authenticator(keys: JwksResolver) -> tuple[Authenticator, VerifiedTokenCache[CachedVerdict]]:
    """The fixture instance, networkless with ``keys``, at Clerk's frozen clock, with a verified-token cache."""
    cache: VerifiedTokenCache[CachedVerdict] = VerifiedTokenCache(100)
    options = AuthenticateOptions(publishable_key=PK_LIVE, secret_key="sk_live_x", authorized_parties=(AZP,))
    return Authenticator(options, keys=keys, client=None, cache=cache, clock=lambda: FROZEN_NOW), cache


def run_without_awaiting(coroutine: Coroutine[Any, Any, RequestState]) -> RequestState:
    """Drive ``coroutine`` to its end in one step; fail if it had to wait for anything."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: RequestState = done.value
        return result
    coroutine.close()
    raise AssertionError("the coroutine awaited something")


def calls_during(action: Callable[[], RequestState]) -> tuple[RequestState, set[object]]:
    """``action``'s result and every function it called: code objects of Python ones, C functions themselves."""
    seen: set[object] = set()

    def record(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            seen.add(frame.f_code)
        elif event == "c_call":
            seen.add(arg)

    sys.setprofile(record)
    try:
        result = action()
    finally:
        sys.setprofile(None)
    return result, seen


def reachable(root: object) -> Iterator[object]:
    """Every object reachable from ``root`` (``root`` included), each once."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, type):
            continue
        seen.add(id(item))
        yield item
        stack.extend(gc.get_referents(item))


async def test_a_cache_hit_does_no_crypto_parses_no_json_and_reads_no_cookie(fixture_mint: TokenMint) -> None:
    """The second request with a token is answered from the cache without waiting for anything, without a
    key lookup, a signature check, JSON parsing or the cookie choice, even when the request carries cookies."""
    keys = mock_jwks()
    authenticator, cache = cached_authenticator(keys)
    token = org_member(fixture_mint, "a")
    headers = {**GATEWAY, "authorization": f"Bearer {token}", "cookie": f"__session={token}; __client_uat=1"}
    first = await authenticator.authenticate(original_request("GET", OWN_URL, headers.items()))
    assert first.status == "signed-in"
    assert (len(keys.requested), cache.hits) == (1, 0)

    view = original_request("GET", OWN_URL, headers.items())
    state, called = calls_during(lambda: run_without_awaiting(authenticator.authenticate(view)))
    assert state.status == "signed-in"
    assert state.to_auth() == first.to_auth()
    assert (len(keys.requested), cache.hits) == (1, 1)
    assert [forbidden for forbidden in FORBIDDEN_ON_A_HIT if forbidden in called] == []


#: what a cookie request whose session token is cached must not run: every decoding of the token, the lenient
#: one the cookie choice reads ``iss`` with included
FORBIDDEN_ON_A_COOKIE_HIT: tuple[object, ...] = (
    orjson.loads,
    json.loads.__code__,
    decode_jwt.__code__,
    decode_jwt_loosely.__code__,
    peek_payload.__code__,
    verify_session_token.__code__,
    rs256_signature_is_valid.__code__,
    KeyStore.get_key.__code__,
)


async def test_a_cookie_hit_chooses_its_cookies_without_decoding_the_session_token(fixture_mint: TokenMint) -> None:
    """Clerk's cookie choice reads the ``__session`` token's ``iss``; when that token is a session the cache
    verified, the choice reads the cached payload (the same one, as the token decoded strictly) instead of
    decoding the cookie again, and the request is decided as the first one was."""
    keys = mock_jwks()
    authenticator, cache = cached_authenticator(keys)
    token = org_member(fixture_mint, "a")
    headers = {**GATEWAY, "cookie": f"__session={token}; __client_uat=1", "sec-fetch-dest": "empty"}
    first = await authenticator.authenticate(original_request("GET", OWN_URL, headers.items()))
    assert first.status == "signed-in"

    view = original_request("GET", OWN_URL, headers.items())
    state, called = calls_during(lambda: run_without_awaiting(authenticator.authenticate(view)))
    assert state.status == "signed-in"
    assert state.to_auth() == first.to_auth()
    assert (len(keys.requested), cache.hits) == (1, 1)
    assert Carriers.read.__code__ in called
    assert [forbidden for forbidden in FORBIDDEN_ON_A_COOKIE_HIT if forbidden in called] == []


def cookie_jars(plain: str, suffixed: str, suffix: str) -> Iterator[dict[str, str]]:
    """Every jar of a plain and a suffixed session cookie, each there or not, beside every pair of ``client_uat``
    cookies (missing, signed out, signed in)."""
    for has_plain, has_suffixed in itertools.product((True, False), repeat=2):
        for uat, suffixed_uat in itertools.product((None, "0", "1"), repeat=2):
            jar = {"__session": plain} if has_plain else {}
            if has_suffixed:
                jar[f"__session_{suffix}"] = suffixed
            if uat is not None:
                jar["__client_uat"] = uat
            if suffixed_uat is not None:
                jar[f"__client_uat_{suffix}"] = suffixed_uat
            yield jar


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="the-instances-own"),
        pytest.param({"iss": "https://clerk.other-app.dev"}, id="another-instances"),
        pytest.param({"iss": ""}, id="no-issuer"),
        pytest.param({"iat": FROZEN_NOW + 600, "nbf": FROZEN_NOW + 600}, id="not-yet-valid"),
        pytest.param({"exp": FROZEN_NOW - 10}, id="expired"),
        pytest.param({"v": 2, "o": {"id": "org_1", "rol": "member", "per": "read", "fpm": "1"}}, id="compacted-org"),
    ],
)
def test_the_cookie_choice_from_cached_payloads_is_the_choice_from_decoding(
    fixture_mint: TokenMint, changes: dict[str, Any]
) -> None:
    """Both session cookies' payloads kept by a real cache (compacted, whatever their validity now) give the same
    suffixed-or-not choice as Clerk's lenient decoding of the cookies, for every jar of them."""
    cache: VerifiedTokenCache[CachedVerdict] = VerifiedTokenCache(10)
    verifier = SessionVerifier(VerifyOptions(), cache, lambda: FROZEN_NOW)
    plain = fixture_mint.sign(claims(**changes))
    suffixed = fixture_mint.sign(claims(sid="sess_suffixed", iat=FROZEN_NOW - 100))
    for token in (plain, suffixed):
        verifier.remember(token, VerifiedToken(payload=decode_jwt(token).payload, kid=fixture_mint.kid))
    instance = Instance.from_publishable_key(PK_TEST)
    kept = len(cache)  # an expired verdict may already be gone, dropped by the next put
    choices = set()
    for jar in cookie_jars(plain, suffixed, instance.cookie_suffix):
        decoded = uses_suffixed_cookies(jar, instance, FROZEN_NOW)
        assert uses_suffixed_cookies(jar, instance, FROZEN_NOW, verifier.verified_payload) is decoded, jar
        choices.add(decoded)
    assert choices == {True, False}
    assert (cache.hits, cache.misses, len(cache)) == (0, 0, kept)


async def test_every_hit_shares_the_cached_claims_and_identity(fixture_mint: TokenMint) -> None:
    """Hits rebuild only the signed-in object around the presented token; its claims are the cached ones, and
    the identity strings are computed once for all of them."""
    authenticator, cache = cached_authenticator(mock_jwks())
    token = org_member(fixture_mint, "a")
    request = RequestView.build("GET", "/", [("authorization", token)])
    states = [await authenticator.authenticate(request) for _ in range(3)]
    auths = [state.auth for state in states]
    assert all(isinstance(auth, SignedInAuth) for auth in auths)
    verdict = cache.get(token, FROZEN_NOW)
    assert verdict is not None
    signed_in = [auth for auth in auths if isinstance(auth, SignedInAuth)]
    assert all(auth.claims is verdict.claims for auth in signed_in)
    assert signed_in[1].identity is signed_in[2].identity
    assert signed_in[1].identity.org_permissions == "org:invoices:read"
    assert cache.hits == 3


async def test_a_cached_verdict_holds_no_token_and_its_payload_once_as_json(fixture_mint: TokenMint) -> None:
    """Nothing reachable from a cached verdict contains the token or any of its segments; the verified payload is
    there once, as its compact JSON text, and no parsed object of it is (those live with the recent claims)."""
    authenticator, cache = cached_authenticator(mock_jwks())
    token = org_member(fixture_mint, "a")
    await authenticator.authenticate(RequestView.build("GET", "/", [("authorization", token)]))
    verdict = cache.get(token, FROZEN_NOW)
    assert verdict is not None
    secrets = [token, *token.split(".")]
    kept = (verdict, verdict.claims, verdict.identity_block(render_identity))  # and what the recent claims keep
    texts = [item for root in kept for item in reachable(root) if isinstance(item, str | bytes)]
    assert [text for text in texts for secret in secrets if secret in str(text)] == []
    payload = decode_jwt(token).payload
    assert orjson.loads(verdict.payload_json) == verdict.payload == payload
    assert list(orjson.loads(verdict.payload_json)) == list(payload), "the claims keep their order"
    assert [item for item in reachable(verdict) if isinstance(item, dict)] == []


async def test_a_verdict_whose_claims_were_let_go_is_parsed_again_once_and_decides_alike(
    fixture_mint: TokenMint,
) -> None:
    """Once ``RECENT_CLAIMS_SIZE`` other payloads were read, a verdict's parsed claims are gone; its next hit
    parses them again from its JSON (equal claims, the same identity lines, the same decision), once: the hit
    after it parses nothing."""
    authenticator, cache = cached_authenticator(mock_jwks())
    token = org_member(fixture_mint, "a")
    request = RequestView.build("GET", "/", [("authorization", token)])
    first = await authenticator.authenticate(request)
    verdict = cache.get(token, FROZEN_NOW)
    assert verdict is not None
    assert isinstance(first.auth, SignedInAuth)
    lines = verdict.identity_block(render_identity)
    for index in range(RECENT_CLAIMS_SIZE):
        other = {"sub": f"user_{index}", "sid": f"sess_{index}", "exp": FROZEN_NOW + 60}
        CachedVerdict.of(parse_session_claims(other), valid_from=0, expires_at=FROZEN_NOW + 60, key_kid=None, kid=None)

    again, called = calls_during(lambda: run_without_awaiting(authenticator.authenticate(request)))
    assert again.cache_hit is True
    assert cache.hits == 2, "the look above and this request"
    assert verify_session_token.__code__ not in called
    assert orjson.loads in called
    assert isinstance(again.auth, SignedInAuth)
    assert again.auth.claims is not first.auth.claims
    assert again.auth.claims == first.auth.claims
    assert again.to_auth() == first.to_auth()
    assert verdict.identity_block(render_identity) == lines
    state, called = calls_during(lambda: run_without_awaiting(authenticator.authenticate(request)))
    assert orjson.loads not in called
    assert isinstance(state.auth, SignedInAuth)
    assert state.auth.claims is again.auth.claims


def test_the_permission_memo_is_bounded() -> None:
    """However many distinct permission sets tokens carry, at most ``PERMISSION_MEMO_SIZE`` are remembered, and
    each token still gets its own permissions."""
    for index in range(PERMISSION_MEMO_SIZE + 10):
        payload = {"sub": "user_1", "v": 2, "fea": f"o:f{index}", "o": {"id": "org_1", "per": "read", "fpm": "1"}}
        assert parse_session_claims(payload).org_permissions == (f"org:f{index}:read",)
    assert claims_module._shared_org_permissions.cache_info().currsize == PERMISSION_MEMO_SIZE


# --- what a decision reports, and what a cached verdict keeps for the service -------------------------------


async def test_the_state_says_whether_the_cache_answered_and_which_key_verified(fixture_mint: TokenMint) -> None:
    """A first request is a miss, a repeat a hit; both name the verifying key and carry the cached verdict."""
    authenticator, cache = cached_authenticator(mock_jwks())
    token = org_member(fixture_mint, "a")
    request = RequestView.build("GET", "/", [("authorization", token)])
    miss, hit = [await authenticator.authenticate(request) for _ in range(2)]
    verdict = cache.get(token, FROZEN_NOW)
    assert (miss.cache_hit, hit.cache_hit) == (False, True)
    assert miss.kid == hit.kid == fixture_mint.kid
    assert miss.verdict is hit.verdict is verdict


async def test_a_refused_token_is_a_miss_and_a_request_without_one_asks_no_cache(fixture_mint: TokenMint) -> None:
    """A token the cache did not know is a miss even when it is refused; no token, or no cache, asks nothing."""
    authenticator, _ = cached_authenticator(mock_jwks())
    forged = TokenMint.generate(kid=fixture_mint.kid).sign(claims())
    refused = await authenticator.authenticate(RequestView.build("GET", "/", [("authorization", forged)]))
    anonymous = await authenticator.authenticate(RequestView.build("GET", "/", []))
    assert (refused.status, refused.cache_hit, refused.verdict) == ("signed-out", False, None)
    assert (anonymous.cache_hit, anonymous.verdict) == (None, None)
    options = AuthenticateOptions(publishable_key=PK_LIVE, secret_key="sk_live_x", authorized_parties=(AZP,))
    uncached = Authenticator(options, keys=mock_jwks(), client=None, clock=lambda: FROZEN_NOW)
    request = RequestView.build("GET", "/", [("authorization", org_member(fixture_mint, "a"))])
    state = await uncached.authenticate(request)
    assert (state.status, state.cache_hit, state.kid) == ("signed-in", None, fixture_mint.kid)


async def test_the_identity_headers_are_rendered_once_per_cached_verdict(fixture_mint: TokenMint) -> None:
    """``identity_block`` renders on its first call and gives every later hit the same bytes without rendering
    again; the rendering holds no token."""
    authenticator, cache = cached_authenticator(mock_jwks())
    token = org_member(fixture_mint, "a")
    await authenticator.authenticate(RequestView.build("GET", "/", [("authorization", token)]))
    verdict = cache.get(token, FROZEN_NOW)
    assert verdict is not None
    rendered: list[object] = []

    def render(identity: object) -> bytes:
        rendered.append(identity)
        return b"x-clerk-user-id: user_a\r\nx-clerk-token-type: session_token\r\n"

    first = verdict.identity_block(render)
    assert first == b"x-clerk-user-id: user_a\r\nx-clerk-token-type: session_token\r\n"
    assert verdict.identity_block(render) is first
    assert rendered == [SignedInAuth(verdict.claims, token).identity]
    secrets = [token, *token.split(".")]
    texts = [item for item in reachable(verdict) if isinstance(item, str | bytes)]
    assert [text for text in texts for secret in secrets if secret in str(text)] == []
