"""Hostile requests: malformed cookies, headers and URLs end in a state with a reason, never an exception.

Clerk falls back where its parsers fail (the original URL for a bad forwarded host, the raw value for a bad
percent-escape, no token for a bad Authorization scheme); so do we. Whatever comes in, the answer is a
``RequestState`` whose headers and cookies are valid header values and carry no presented token except the
handshake URL's ``__session`` parameter, which Clerk sends to FAPI on purpose.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from clerk_authd.errors import AuthenticateRequestError
from clerk_authd.rules.request import RequestView, original_request
from clerk_authd.rules.state import RequestState, header_value
from clerk_authd.testing.mint import TokenMint
from tests.support import PK_LIVE, PK_TEST, pem_authenticator

MARKER = "hostileMARKERtoken"


def authenticate(request: RequestView, mint: TokenMint, publishable_key: str = PK_LIVE) -> RequestState:
    return asyncio.run(pem_authenticator(mint, publishable_key).authenticate(request))


def assert_well_formed(state: RequestState) -> None:
    """A state Clerk could have produced: a known status, a reason when not signed in, safe headers."""
    assert state.status in ("signed-in", "signed-out", "handshake")
    if state.status != "signed-in":
        assert state.reason
    for name, value in state.headers:
        assert header_value(value) == value, name
        if name != "location":
            assert MARKER not in value, name
    for directive in state.set_cookies:
        assert header_value(directive) == directive


HOSTILE = [
    (
        "GET",
        "http://example.com/%%%/%zz?__clerk_db_jwt=%E0%A4%A&x=%",
        [("cookie", "__session=%E0%A4%A; __client_uat=%zz")],
    ),
    ("GET", "http://example.com/", [("cookie", "__session=" + "a" * 1_000_000 + "; __client_uat=1")]),
    ("GET", "http://example.com/", [("authorization", "Bearer " + "a." * 100_000)]),
    ("GET", "http://example.com/?" + "q=" + "x" * 500_000, [("sec-fetch-dest", "document")]),
    ("GET", "http://exämple.com/ü", [("host", "exämple.com"), ("cookie", "__session=é; __client_uat=ü")]),
    ("GET", "http://example.com/", [("authorization", f"Bearer é.{MARKER}.é"), ("sec-fetch-dest", "document")]),
    ("GET", "http://example.com/", [("cookie", f"__session={MARKER}; __session=b; __client_uat=1; __client_uat=2")]),
    ("GET", "http://example.com/", [("authorization", f"Bearer {MARKER}"), ("authorization", "Bearer other")]),
    ("GET", "/dash", [("host", "exa<mple.com"), ("sec-fetch-dest", "document"), ("cookie", "__client_uat=1")]),
    ("GET", "/dash", [("host", "[::1"), ("x-forwarded-proto", "javascript"), ("sec-fetch-dest", "document")]),
    ("GET", "/dash", [("host", "a b\x00c"), ("x-forwarded-host", "@"), ("cookie", "__client_uat=1")]),
    ("GET", "/dash", [("host", "h:99999"), ("x-forwarded-proto", "ht tp"), ("referer", "::::")]),
    ("GET", "//evil.com/x", [("host", "example.com"), ("sec-fetch-dest", "document"), ("cookie", "__client_uat=1")]),
    ("GET", "/", [("cookie", "__client_uat=99999999999999999999999999999; __clerk_redirect_count=1e400")]),
    ("GET", "/", [("cookie", "__client_uat=-5; __session=a.b.c"), ("sec-fetch-dest", "document")]),
    ("GET", "/", [("cookie", "__clerk_redirect_count=NaN; __client_uat=1"), ("sec-fetch-dest", "document")]),
    ("GET", "/?__clerk_handshake=" + "x." * 50, [("sec-fetch-dest", "document")]),
    ("GET", "/?__clerk_handshake_nonce=%00%0d%0a", [("sec-fetch-dest", "document")]),
    ("GET", "/", [("cookie", f"__clerk_handshake={MARKER}; __session=\r\n; __client_uat=1")]),
    ("TRACE", "http://[", [("referer", "http://["), ("origin", "\x7f"), ("accept", "text/html\x00")]),
    ("get", "http://example.com/\t\n\r", [("sec-fetch-dest", "document"), ("cookie", "=;=;;;==;\t;  ")]),
    ("GET", "/", [("cookie", '__session="' + MARKER + '"; __client_uat="1"')]),
]


@pytest.mark.parametrize(("method", "url", "headers"), HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_hostile_requests_get_an_answer(
    fixture_mint: TokenMint, method: str, url: str, headers: list[tuple[str, str]]
) -> None:
    """Bad escapes, huge values, non-ASCII, repeated names, odd hosts: a well-formed state, never an exception."""
    assert_well_formed(authenticate(RequestView.build(method, url, headers), fixture_mint))


@pytest.mark.parametrize(("method", "url", "headers"), HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_hostile_requests_behind_a_proxy_get_an_answer(
    fixture_mint: TokenMint, method: str, url: str, headers: list[tuple[str, str]]
) -> None:
    """The proxy headers of api.md §2 can be just as hostile."""
    pairs = [*headers, ("x-original-url", url), ("x-forwarded-uri", url), ("x-forwarded-method", method)]
    assert_well_formed(authenticate(original_request(method, "http://127.0.0.1:8787/verify", pairs), fixture_mint))


def test_a_development_handshake_token_that_fails_throws_as_clerk_does(fixture_mint: TokenMint) -> None:
    """The one request-driven throw Clerk has: a bad handshake JWT on a development instance (§5 step 0)."""
    request = RequestView.build("GET", "/?__clerk_handshake=garbage", [("sec-fetch-dest", "document")])
    with pytest.raises(AuthenticateRequestError, match=r"^Clerk: Handshake token verification failed"):
        authenticate(request, fixture_mint, PK_TEST)


# --- generated requests ------------------------------------------------------------------------------------

_PIECES = [*"abcXYZ019.-_=;,:/?#@[]%\"' \t\\<>&+~", "é", "€", "\x00", "\x7f", "\u2028", "%zz", "%C3", "%41"]
_ODD = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)
_COOKIE_NAMES = st.sampled_from(
    ["__session", "__client_uat", "__clerk_db_jwt", "__clerk_handshake", "__clerk_redirect_count", "__refresh_MqCvchyS"]
)
_QUERY_NAMES = st.sampled_from(["__clerk_db_jwt", "__clerk_synced", "__clerk_redirect_url", "x"])
_HEADER_NAMES = st.sampled_from(
    ["host", "x-forwarded-host", "x-forwarded-proto", "authorization", "referer", "origin", "sec-fetch-dest", "accept"]
)


@st.composite
def hostile_requests(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, str]], str]:
    """A method, an origin-form URL, headers (a cookie header among them) and a publishable key."""
    query = draw(st.lists(st.tuples(_QUERY_NAMES | _ODD, _ODD), max_size=4))
    cookies = draw(st.lists(st.tuples(_COOKIE_NAMES | _ODD, _ODD), max_size=6))
    values = _ODD | st.just("document") | st.just(f"Bearer {MARKER}")
    headers = draw(st.lists(st.tuples(_HEADER_NAMES, values), max_size=6))
    return (
        draw(st.sampled_from(["GET", "POST", "get", "HEAD", "X"])),
        "/" + draw(_ODD) + "?" + "&".join(f"{name}={value}" for name, value in query),
        [*headers, ("cookie", "; ".join(f"{name}={value}" for name, value in cookies))],
        draw(st.sampled_from([PK_LIVE, PK_TEST])),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=hostile_requests())
def test_generated_requests_never_raise(
    fixture_mint: TokenMint, request: tuple[str, str, list[tuple[str, str]], str]
) -> None:
    """Any mix of odd paths, queries, cookies and headers yields a well-formed state (dev: no handshake JWT)."""
    method, url, headers, publishable_key = request
    # development throws on a bad handshake JWT, as Clerk does (tested above)
    assume(publishable_key == PK_LIVE or not any("__clerk_handshake" in text for text in (url, headers[-1][1])))
    assert_well_formed(authenticate(RequestView.build(method, url, headers), fixture_mint, publishable_key))
