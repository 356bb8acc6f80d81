"""The request view: effective URL, headers, cookies and query read as Clerk reads them (clerk-semantics §1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clerk_authd.js.cookies import parse_cookies
from clerk_authd.js.headers import combine_headers
from clerk_authd.js.url import parse_url
from clerk_authd.rules.carriers import parse_authorization
from clerk_authd.rules.request import OwnUrl, RequestView, original_request
from tests.support import request_view

# --- §1.1 the effective URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "headers", "expected"),
    [
        ("http://localhost:3000/path?a=1", {"host": "example.com"}, "http://example.com/path?a=1"),
        ("/path", {"host": "example.com:8443"}, "http://example.com:8443/path"),
        (
            "http://localhost/path",
            {"host": "internal", "x-forwarded-host": "app.com", "x-forwarded-proto": "https"},
            "https://app.com/path",
        ),
        (
            "http://localhost/path",
            {"x-forwarded-host": "a.com, b.com", "x-forwarded-proto": "https,http"},
            "https://a.com/path",
        ),
        ("http://localhost/p", {"host": "example.com", "x-forwarded-host": ""}, "http://localhost/p"),
        ("http://localhost/p", {"host": "exa<mple.com"}, "http://localhost/p"),
        ("http://localhost/p", {"host": "example.com", "cloudfront-forwarded-proto": "https"}, "http://example.com/p"),
        ("http://localhost/p", {"host": "EXAMPLE.com:80"}, "http://example.com/p"),
        ("http://localhost/a/../b/./c?x=%zz y", {"host": "h"}, "http://h/b/c?x=%zz%20y"),
        ("https://localhost/p", {}, "https://localhost/p"),
        ("/only/a/path", {}, "http://clerk-dummy/only/a/path"),
    ],
)
def test_the_url_is_rebuilt_from_forwarded_headers(url: str, headers: dict[str, str], expected: str) -> None:
    """``x-forwarded-host`` (first value, else ``host``) and ``x-forwarded-proto`` give the origin; the empty
    forwarded host and an unparsable host keep the original URL; cloudfront's proto header is not used."""
    assert RequestView.build("GET", url, headers.items()).url == expected


def test_a_path_that_looks_like_an_authority_moves_the_origin_as_in_clerk() -> None:
    """``new URL('//evil.com/x', origin)`` is scheme-relative in JS, and Clerk passes the pathname to it."""
    assert request_view("http://localhost//evil.com/x", host="example.com").url == "http://evil.com/x"


def test_origin_and_pathname_come_from_the_effective_url() -> None:
    """``origin`` and ``pathname`` are the WHATWG ones of ``clerkUrl``."""
    request = request_view("http://localhost/orgs/Acme%20Co?x=1", host="app.com:8080")
    assert (request.origin, request.pathname) == ("http://app.com:8080", "/orgs/Acme%20Co")


# --- §1.2 headers ----------------------------------------------------------------------------------------


def test_headers_are_case_insensitive_and_an_empty_value_is_absent() -> None:
    """``getHeader`` returns ``|| undefined``: an empty header reads as missing."""
    request = request_view(**{"Sec-Fetch-Dest": "document", "accept": "", "X-Custom": "  v  "})
    assert request.header("sec-fetch-dest") == "document"
    assert request.header("SEC-FETCH-DEST") == "document"
    assert request.header("accept") is None
    assert request.header("x-custom") == "v"


def test_repeated_headers_combine_as_node_does() -> None:
    """Cookies join with ``; ``, most headers with ``, ``; ``authorization`` and ``referer`` keep the first."""
    combined = combine_headers(
        [
            ("cookie", "a=1"),
            ("Cookie", "b=2"),
            ("accept", "text/html"),
            ("accept", "*/*"),
            ("authorization", "Bearer one"),
            ("authorization", "Bearer two"),
            ("referer", "https://a/"),
            ("referer", "https://b/"),
        ]
    )
    assert combined == {
        "cookie": "a=1; b=2",
        "accept": "text/html, */*",
        "authorization": "Bearer one",
        "referer": "https://a/",
    }


def test_methods_fetch_knows_are_uppercased() -> None:
    """Fetch normalises ``get`` to ``GET``; unknown methods keep their case."""
    assert RequestView.build("get", "/", []).method == "GET"
    assert RequestView.build("Patch", "/", []).method == "Patch"


# --- §1.3 the Authorization header ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc", "abc"),
        ("abc", "abc"),
        ("Bearer", "Bearer"),
        ("Bearer a b", "a"),
        ("Bearer  abc", "Bearer"),
        ("bearer abc", None),
        ("Basic dXNlcjpwYXNz", None),
        ("", None),
        (None, None),
    ],
)
def test_the_authorization_header_is_split_like_js(value: str | None, token: str | None) -> None:
    """``split(' ', 2)``: a lone word is the token, the scheme is case-sensitive, others fall to cookies."""
    assert parse_authorization(value) == token


# --- §1.4 cookies -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("d = e ;", {"d": "e"}),
        ('a="b c"', {"a": '"b c"'}),
        ("a=%E2%82%AC", {"a": "€"}),
        ("a=%C0", {"a": "%C0"}),
        ("a=%zz%41", {"a": "%zz%41"}),
        ("sid=x%3B__session%3Dforged", {"sid": "x;__session=forged"}),
        ("__session=first; __session=second", {"__session": "first"}),
        ("noequals; a=1", {"a": "1"}),
        ("a=1;;b=2", {"a": "1", "b": "2"}),
        ("a=b=c", {"a": "b=c"}),
        ("a", {}),
        ("=v", {"": "v"}),
        ("a=1+2", {"a": "1+2"}),
    ],
)
def test_cookies_parse_as_npm_cookie_does(header: str, expected: dict[str, str]) -> None:
    """First ``=`` splits, names and values trimmed, quotes kept, clean escapes decoded, first occurrence wins."""
    assert parse_cookies(header) == expected


def test_an_encoded_separator_never_makes_a_session_cookie() -> None:
    """A ``%3B`` inside a value is data, not a delimiter."""
    assert "__session" not in request_view(cookie="sid=x%3B__session%3Dforged").cookies


# --- §1.5 query --------------------------------------------------------------------------------------------


def test_the_query_maps_each_name_to_its_first_value() -> None:
    """``searchParams.get`` returns the first value, decoded."""
    request = request_view("http://h/?__clerk_db_jwt=a%20b&__clerk_db_jwt=second&flag")
    assert request.query == {"__clerk_db_jwt": "a b", "flag": ""}


# --- api.md §2: the original request behind a proxy ---------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "method", "url"),
    [
        (
            {"x-original-url": "https://app.com/dash?x=1", "x-original-method": "POST"},
            "POST",
            "https://app.com/dash?x=1",
        ),
        (
            {"x-forwarded-proto": "https", "x-forwarded-host": "app.com", "x-forwarded-uri": "/a?b=1"},
            "GET",
            "https://app.com/a?b=1",
        ),
        (
            {"host": "app.com", "x-original-uri": "/orgs/acme", "x-forwarded-method": "PUT"},
            "PUT",
            "http://app.com/orgs/acme",
        ),
        (
            {"host": "app.com", "x-forwarded-method": "DELETE", "x-original-method": "POST"},
            "DELETE",
            "http://app.com/verify",
        ),
        ({"host": "app.com", "x-original-url": "/relative?q"}, "GET", "http://app.com/relative?q"),
        ({"host": "app.com", "x-original-url": "http://["}, "GET", "http://app.com/verify"),
    ],
)
def test_the_original_request_comes_from_proxy_headers(headers: dict[str, str], method: str, url: str) -> None:
    """Method and URL of the request the proxy asks about, first found wins; else the request's own."""
    request = original_request("GET", "http://127.0.0.1:8787/verify", headers.items())
    assert (request.method, request.url) == (method, url)


@pytest.mark.parametrize("build", [RequestView.build, original_request])
def test_a_url_given_as_a_function_is_read_once_and_only_when_needed(
    build: Callable[[str, OwnUrl, list[tuple[str, str]]], RequestView],
) -> None:
    """Headers, method and cookies never read the URL; the first URL read calls the function, later reads
    reuse its answer, which is what the same URL given as a string gives."""
    calls: list[str] = []

    def own_url() -> str:
        calls.append("read")
        return "http://internal:8787/verify?x=1"

    headers = [("host", "app.example"), ("authorization", "Bearer t"), ("cookie", "a=1")]
    view = build("GET", own_url, headers)
    assert (view.method, view.header("authorization"), view.cookies["a"]) == ("GET", "Bearer t", "1")
    assert calls == []
    assert view.url == build("GET", "http://internal:8787/verify?x=1", headers).url
    assert (view.origin, view.query["x"], view.pathname) == ("http://app.example", "1", "/verify")
    assert calls == ["read"]


def _never_read() -> str:
    raise AssertionError("the request's own URL was read")


@given(st.sampled_from(["http://", "https://"]), st.text(alphabet="ab.:/\\?#@%[]:1 \t\n%2f", max_size=30))
def test_an_absolute_original_url_is_resolved_without_the_requests_own(prefix: str, rest: str) -> None:
    """An ``X-Original-URL`` starting ``http://`` or ``https://`` (what every recipe sends) parses alike with any
    base, so the request's own URL is never built for it; what it resolves to is what it resolves to against
    another base, or the request's own URL where it does not parse."""
    original = prefix + rest
    view = original_request("GET", _never_read, [("host", "h"), ("x-original-url", original)])
    other_base = parse_url("https://elsewhere.example/a/b?c")
    expected = parse_url(original, other_base)
    if expected is None:
        fallback = original_request("GET", "http://own.example/x", [("host", "h"), ("x-original-url", original)])
        assert fallback.url == "http://h/x"
        return
    assert view.url == replace(expected, fragment=None).href
