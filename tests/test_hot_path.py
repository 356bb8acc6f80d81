"""The hot path's properties (design.md): what a repeated request reuses, what a cache hit never does, what a
cached verdict keeps. Each test checks a property (calls made, objects shared, sizes bounded), never a time.
"""

from __future__ import annotations

import pytest

from clerk_authd import request as request_module
from clerk_authd.request import URL_MEMO_MAX_INPUT, URL_MEMO_SIZE, RequestView, original_request

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
