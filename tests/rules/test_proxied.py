"""``rules.proxied``: which original-request headers each family keeps, and how an auth URL's query is read."""

from __future__ import annotations

import pytest

from clerk_authd.rules.proxied import (
    ORIGINAL_REQUEST_HEADERS,
    Family,
    carries_handshake,
    decided_request,
    operator_requirements,
    original_query,
    trusted_headers,
)
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.requirements import RequirementError

EVERY = [(name.upper(), "x") for name in sorted(ORIGINAL_REQUEST_HEADERS)] + [("Cookie", "a=1"), ("Host", "h")]


@pytest.mark.parametrize(
    ("family", "kept"),
    [
        (Family.ORIGINAL, {"x-original-method", "x-original-url"}),
        (Family.FORWARDED, {"x-forwarded-method", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-uri"}),
        (Family.ENVOY, {"x-forwarded-proto"}),
    ],
)
def test_each_family_keeps_only_its_own_original_request_headers(family: Family, kept: set[str]) -> None:
    """Whatever the case; every other header (cookies, Host) is kept."""
    names = {name.lower() for name, _ in trusted_headers(family, EVERY)}
    assert names == kept | {"cookie", "host"}


def test_the_original_family_ignores_a_forwarded_method_and_uri() -> None:
    """A client's X-Forwarded-Method / -Uri can neither beat X-Original-* nor stand in for them."""
    headers = [
        ("X-Forwarded-Method", "POST"),
        ("X-Forwarded-Uri", "/evil"),
        ("X-Forwarded-Host", "evil.example"),
        ("X-Original-Method", "GET"),
        ("X-Original-URL", "https://app.example/dash"),
    ]
    view = decided_request(Family.ORIGINAL, "GET", "/verify", headers)
    assert (view.method, view.url) == ("GET", "https://app.example/dash")
    alone = decided_request(Family.ORIGINAL, "GET", "/verify", [*headers[:3], ("Host", "authd:8787")])
    assert (alone.method, alone.url) == ("GET", "http://authd:8787/verify")


def test_the_forwarded_family_ignores_the_original_url() -> None:
    headers = [
        ("X-Original-URL", "https://evil.example/x"),
        ("X-Original-Method", "POST"),
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "app.example"),
        ("X-Forwarded-Uri", "/dash?tab=1"),
    ]
    view = decided_request(Family.FORWARDED, "GET", "/forward-auth", headers)
    assert (view.method, view.url) == ("GET", "https://app.example/dash?tab=1")


@pytest.mark.parametrize(
    ("family", "headers", "query"),
    [
        (Family.ORIGINAL, [("X-Original-URL", "https://a.example/o?page=2#frag")], "page=2"),
        (Family.ORIGINAL, [("x-original-url", "/o")], ""),
        (Family.ORIGINAL, [("X-Forwarded-Uri", "/o?page=2")], ""),
        (Family.FORWARDED, [("X-Forwarded-Uri", "/o?a=1&b=2")], "a=1&b=2"),
        (Family.FORWARDED, [("X-Original-URL", "https://a.example/o?page=2")], ""),
        (Family.FORWARDED, [], ""),
    ],
)
def test_the_original_query_is_the_familys_header(family: Family, headers: list[tuple[str, str]], query: str) -> None:
    assert original_query(family, headers) == query


def test_a_query_that_is_not_the_clients_is_read_strictly() -> None:
    """The operator's: every parameter must be known, and accepts holds."""
    with pytest.raises(RequirementError) as bad:
        operator_requirements("page=2", [("page", "2")], "page=3")
    assert bad.value.parameter == "page"
    kept = operator_requirements("accepts=api_key", [("accepts", "api_key")], "")
    assert kept.accepts_token == ("api_key",)


def test_a_query_equal_to_the_clients_keeps_only_its_requirements() -> None:
    """It may be a copy of the client's: requirements narrow, so they hold; accepts and the rest are dropped."""
    pairs = [("page", "2"), ("accepts", "any"), ("role", "admin")]
    read = operator_requirements("page=2&accepts=any&role=admin", pairs, "page=2&accepts=any&role=admin")
    assert read.accepts_token is None
    assert [check.describe() for check in read.checks] == ["role=admin"]
    with pytest.raises(RequirementError):
        operator_requirements("role=", [("role", "")], "role=")


@pytest.mark.parametrize(
    ("url", "cookie", "carried"),
    [
        ("https://a.example/?__clerk_handshake=t", "", True),
        ("https://a.example/?__clerk_handshake_nonce=n", "", True),
        ("https://a.example/", "__clerk_handshake=t", True),
        ("https://a.example/", "__clerk_handshake_nonce=n", True),
        ("https://a.example/?__clerk_handshake=", "", False),
        ("https://a.example/?__clerk_help=1", "__session=s", False),
    ],
)
def test_a_handshake_is_carried_in_the_query_or_a_cookie(url: str, cookie: str, carried: bool) -> None:
    view = RequestView.build("GET", url, [("cookie", cookie)] if cookie else [])
    assert carries_handshake(view) is carried
