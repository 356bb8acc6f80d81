"""The WHATWG URL parser and ``URLSearchParams``: what JS's ``new URL()`` makes of the URLs a request carries."""

from __future__ import annotations

import pytest

from clerk_authd.js.form import form_encode, parse_form
from clerk_authd.js.url import _parse_any, _parse_canonical, parse_url


@pytest.mark.parametrize(
    ("text", "base", "href"),
    [
        ("HTTPS://Example.COM:443/a b", None, "https://example.com/a%20b"),
        ("http://0x7f.1/", None, "http://127.0.0.1/"),
        ("http://[0:0:0:0:0:0:0:1]:8080/", None, "http://[::1]:8080/"),
        ("http://münchen.de/ü?q=ü#ü", None, "http://xn--mnchen-3ya.de/%C3%BC?q=%C3%BC#%C3%BC"),
        ("http://u:p@h/", None, "http://u:p@h/"),
        ("v1/client/handshake", "https://app.com/__clerk/", "https://app.com/__clerk/v1/client/handshake"),
        ("?x=1", "http://h/a/b", "http://h/a/b?x=1"),
        ("http:\\\\h\\a", None, "http://h/a"),
        ("foo://h/p q", None, "foo://h/p%20q"),
    ],
)
def test_urls_parse_and_serialize_as_whatwg_does(text: str, base: str | None, href: str) -> None:
    """Host canonicalisation, default ports, IPv4/IPv6 forms, percent-encoding and relative resolution."""
    parsed = parse_url(text, parse_url(base) if base else None)
    assert parsed is not None
    assert parsed.href == href


@pytest.mark.parametrize("text", ["", "/relative", "http://", "http://exa mple.com/", "http://h:99999/", "http://[::1"])
def test_urls_that_js_rejects_are_none(text: str) -> None:
    """Where ``new URL()`` throws, the parser answers ``None`` instead of raising."""
    assert parse_url(text) is None


def test_deleting_a_query_parameter_reserializes_the_query() -> None:
    """``searchParams.delete`` rewrites the whole query in form encoding and drops an empty ``?``."""
    url = parse_url("http://h/p?a=b c&__clerk_db_jwt=x&t=~*")
    assert url is not None
    assert url.without_params("__clerk_db_jwt").href == "http://h/p?a=b+c&t=%7E*"
    only = parse_url("http://h/p?__clerk_db_jwt=x")
    assert only is not None
    assert only.without_params("__clerk_db_jwt").href == "http://h/p"


def test_set_replaces_the_first_value_and_removes_the_others() -> None:
    """``searchParams.set`` keeps the first position of the name, appends when absent."""
    url = parse_url("http://h/?s=false&a=1&s=x")
    assert url is not None
    assert url.setting("s", "true").href == "http://h/?s=true&a=1"
    assert url.setting("n", "v").href == "http://h/?s=false&a=1&s=x&n=v"


def test_form_encoding_is_urlsearchparams_encoding() -> None:
    """Only alphanumerics and ``*-._`` stay; space is ``+``; ``~`` is escaped, unlike Python's quote."""
    assert form_encode("a b~*-._/é") == "a+b%7E*-._%2F%C3%A9"
    assert parse_form("a=1&&b&c=%zz+d&a=2") == [("a", "1"), ("b", ""), ("c", "%zz d"), ("a", "2")]


@pytest.mark.parametrize(
    "text",
    [
        "https://app.example.test/dashboard",
        "http://127.0.0.1:40123/verify",
        "http://0.0.0.0/a?b=1&c",
        "https://10.0.0.255:8443/x/y?z=%41",
        "http://192.168.1.1:65535/",
        "https://a-b.c0.example/p;q=1/@:!$&'()*+,=~?k=v/?",
    ],
)
def test_the_fast_path_parses_canonical_urls_as_the_state_machine_does(text: str) -> None:
    """A URL the fast path accepts (a lowercase domain or a dotted-decimal IPv4 host) parses to exactly what
    the full WHATWG parser makes of it, and serializes back to itself."""
    fast = _parse_canonical(text)
    assert fast is not None
    assert fast == _parse_any(text, None)
    assert fast.href == text


@pytest.mark.parametrize(
    ("text", "href"),
    [
        ("http://127.0.0.01/", "http://127.0.0.1/"),
        ("http://0x7f.0.0.1/", "http://127.0.0.1/"),
        ("http://1.2.3/", "http://1.2.0.3/"),
        ("http://4294967295/", "http://255.255.255.255/"),
        ("https://10.0.0.1:443/", "https://10.0.0.1/"),
        ("http://10.0.0.1/a/../b", "http://10.0.0.1/b"),
        ("http://Example.com/", "http://example.com/"),
        ("http://xn--mnchen-3ya.de/", "http://xn--mnchen-3ya.de/"),
    ],
)
def test_urls_the_parser_would_change_take_the_state_machine(text: str, href: str) -> None:
    """An IPv4 address in another form (leading zero, hex, fewer parts, one number), a default port, a dot
    segment, an uppercase host or an IDN label is left to the full parser, which canonicalises it."""
    assert _parse_canonical(text) is None
    parsed = parse_url(text)
    assert parsed is not None
    assert parsed.href == href
