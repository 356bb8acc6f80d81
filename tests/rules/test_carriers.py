"""Which cookies a request's session is read from, and the other carriers (clerk-semantics §1.5, §1.6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from clerk_authd.errors import TokenVerificationError
from clerk_authd.rules.carriers import Carriers, uses_suffixed_cookies
from clerk_authd.rules.instance import Instance
from clerk_authd.rules.jwt import decode_jwt
from clerk_authd.rules.request import RequestView
from clerk_authd.testing.mint import TokenMint
from tests.conftest import FIXTURES, FROZEN_NOW
from tests.support import ISSUER, PK_LIVE, PK_TEST, request_view

LIVE_SUFFIX = FIXTURES["publishable_keys"]["cookie_suffix"]["pk_live"]
TEST_SUFFIX = FIXTURES["publishable_keys"]["cookie_suffix"]["pk_test"]
NOW = FROZEN_NOW


def token(mint: TokenMint, *, iat: float = NOW, exp: float = NOW + 60, iss: Any = ISSUER) -> str:
    claims: dict[str, Any] = {"sub": "user_1", "sid": "sess_1", "iat": iat, "exp": exp}
    if iss is not None:
        claims["iss"] = iss
    return mint.sign(claims)


def request(cookies: dict[str, str], url: str = "http://example.com/", **headers: str) -> RequestView:
    return request_view(url, cookie="; ".join(f"{name}={value}" for name, value in cookies.items()), **headers)


def as_verified(token: str) -> Mapping[str, Any] | None:
    """What the verified-token cache can know of a token: the payload of one that decodes strictly."""
    try:
        return decode_jwt(token).payload
    except TokenVerificationError:
        return None


def choice(cookies: dict[str, str], publishable_key: str = PK_LIVE, now: float = NOW) -> bool:
    """The cookie choice, which is the same when the caller's verified-token cache knows every token there."""
    jar = request(cookies).cookies
    instance = Instance.from_publishable_key(publishable_key)
    decoded = uses_suffixed_cookies(jar, instance, now)
    assert uses_suffixed_cookies(jar, instance, now, as_verified) is decoded
    return decoded


def test_only_unsuffixed_cookies_are_read_unsuffixed(fixture_mint: TokenMint) -> None:
    """Without any suffixed cookie, the plain names are used (rule 3)."""
    assert choice({"__session": token(fixture_mint), "__client_uat": "1"}) is False


def test_a_newer_unsuffixed_session_wins_and_brings_the_dev_browser_along(fixture_mint: TokenMint) -> None:
    """Both signed in, un-suffixed newer: a clerk-js downgrade, so the plain cookies are trusted (rule 4)."""
    cookies = {
        "__session": token(fixture_mint, iat=NOW),
        f"__session_{TEST_SUFFIX}": token(fixture_mint, iat=NOW - 100),
        "__client_uat": "1",
        f"__client_uat_{TEST_SUFFIX}": "1",
        "__clerk_db_jwt": "plain",
        f"__clerk_db_jwt_{TEST_SUFFIX}": "suffixed",
    }
    carriers = Carriers.read(request(cookies), Instance.from_publishable_key(PK_TEST), NOW)
    assert carriers.suffixed is False
    assert carriers.dev_browser_token == "plain"
    assert carriers.session_token_in_cookie == cookies["__session"]


def test_a_signed_out_suffixed_uat_yields_to_a_signed_in_plain_one(fixture_mint: TokenMint) -> None:
    """``Us='0'`` and ``U!='0'``: un-suffixed (rule 5)."""
    assert choice({f"__client_uat_{LIVE_SUFFIX}": "0", "__client_uat": "5", "__session": token(fixture_mint)}) is False


@pytest.mark.parametrize("with_suffixed_session", [True, False])
def test_production_with_both_uats_zero_reads_suffixed(fixture_mint: TokenMint, with_suffixed_session: bool) -> None:
    """Prod, ``U='0'`` and ``Us='0'``: suffixed, even when the suffixed session is missing."""
    cookies = {"__client_uat": "0", f"__client_uat_{LIVE_SUFFIX}": "0", "__session": token(fixture_mint)}
    if with_suffixed_session:
        cookies[f"__session_{LIVE_SUFFIX}"] = token(fixture_mint)
    carriers = Carriers.read(request(cookies), Instance.from_publishable_key(PK_LIVE), NOW)
    assert carriers.suffixed is True
    assert carriers.session_token_in_cookie == (cookies.get(f"__session_{LIVE_SUFFIX}"))


def test_production_with_everything_present_reads_suffixed(fixture_mint: TokenMint) -> None:
    """All four cookies present and valid: suffixed (rule 8)."""
    cookies = {
        "__session": token(fixture_mint),
        f"__session_{LIVE_SUFFIX}": token(fixture_mint),
        "__client_uat": "1",
        f"__client_uat_{LIVE_SUFFIX}": "1",
    }
    assert choice(cookies) is True


@pytest.mark.parametrize("iss", ["https://clerk.other-app.dev", "http://localhost:3001", 42, ["x"]])
def test_an_unsuffixed_session_of_another_instance_means_suffixed(fixture_mint: TokenMint, iss: Any) -> None:
    """A foreign (or non-string but truthy) ``iss`` in ``__session``: another app on the same site (rule 2)."""
    assert choice({"__session": token(fixture_mint, iss=iss), "__client_uat": "1"}, PK_TEST) is True


@pytest.mark.parametrize("session", ["not-a-jwt", "a.b.c"])
def test_an_undecodable_unsuffixed_session_means_unsuffixed(session: str) -> None:
    """A malformed ``__session`` is read (and then refused) rather than skipped (rule 1)."""
    assert choice({"__session": session, f"__client_uat_{LIVE_SUFFIX}": "1"}) is False


@pytest.mark.parametrize("iss", [None, "", 0])
def test_an_unsuffixed_session_without_an_issuer_means_unsuffixed(fixture_mint: TokenMint, iss: Any) -> None:
    """A falsy ``iss`` also sends rule 1's way."""
    assert choice({"__session": token(fixture_mint, iss=iss), f"__session_{LIVE_SUFFIX}": token(fixture_mint)}) is False


def test_the_issuer_is_compared_without_any_scheme_or_proxy(fixture_mint: TokenMint) -> None:
    """``http(s)://`` is removed in any case, and the key's host is compared, not a proxy URL."""
    instance = Instance.from_publishable_key(PK_LIVE, proxy_url="https://app.com/__clerk")
    cookies = request(
        {"__session": token(fixture_mint, iss="HTTPS://clerk.inspired.puma-74.lcl.dev"), "__client_uat": "1"}
    )
    assert uses_suffixed_cookies(cookies.cookies, instance, NOW) is False


def test_a_production_satellite_owns_the_cookies_clerk_dot_its_domain_issued(fixture_mint: TokenMint) -> None:
    """Rule 2 compares ``iss`` with the satellite's own ``clerk.<domain>``: its own ``__session`` is read, the
    primary's is another instance's (so the suffixed cookies are)."""
    satellite = Instance.from_publishable_key(PK_LIVE, domain="sat.example", is_satellite=True)
    own = request({"__session": token(fixture_mint, iss="https://clerk.sat.example"), "__client_uat": "1"})
    primary = request({"__session": token(fixture_mint), "__client_uat": "1"})
    assert uses_suffixed_cookies(own.cookies, satellite, NOW) is False
    assert uses_suffixed_cookies(primary.cookies, satellite, NOW) is True


def _reshaped(mint: TokenMint, change: str) -> str:
    header, payload, signature = token(mint, iss="https://clerk.elsewhere.example").split(".")
    if change == "padded":
        return ".".join(part + "=" * (-len(part) % 4) for part in (header, payload, signature))
    if change == "empty signature":
        return f"{header}.{payload}."
    if change == "header not JSON":
        return f"bm90IGpzb24.{payload}.{signature}"
    return f"{header}.{payload}.!!!"  # a signature that is not base64url


@pytest.mark.parametrize(
    ("change", "suffixed"),
    [("padded", True), ("empty signature", True), ("header not JSON", False), ("signature not base64url", False)],
)
def test_the_session_cookie_is_peeked_at_with_clerks_lenient_decoding(
    fixture_mint: TokenMint, change: str, suffixed: bool
) -> None:
    """Clerk's ``decodeJwt`` reads padded base64url and an empty signature (so the foreign ``iss`` decides, rule
    2), but not a header that is not JSON or a signature that is not base64url (rule 1: un-suffixed)."""
    cookies = {"__session": _reshaped(fixture_mint, change), f"__client_uat_{LIVE_SUFFIX}": "1"}
    assert choice(cookies) is suffixed


def test_a_suffixed_session_without_exp_is_not_expired(fixture_mint: TokenMint) -> None:
    """Rule 6 asks ``exp <= now`` in JavaScript: a missing ``exp`` is ``undefined``, never expired, so a development
    instance keeps the suffixed cookies."""
    cookies = {
        f"__client_uat_{TEST_SUFFIX}": "1",
        "__client_uat": "0",
        f"__session_{TEST_SUFFIX}": fixture_mint.sign({"sub": "user_1", "iss": ISSUER, "iat": NOW - 120}),
    }
    assert choice(cookies, PK_TEST) is True


@pytest.mark.parametrize(("publishable_key", "expected"), [(PK_TEST, False), (PK_LIVE, True)])
def test_an_expired_suffixed_session_with_a_signed_out_plain_uat(
    fixture_mint: TokenMint, publishable_key: str, expected: bool
) -> None:
    """Dev only: ``Us!='0'``, ``U='0'`` and the suffixed session expired → un-suffixed (rule 6)."""
    suffix = TEST_SUFFIX if publishable_key == PK_TEST else LIVE_SUFFIX
    cookies = {
        f"__client_uat_{suffix}": "1",
        "__client_uat": "0",
        f"__session_{suffix}": token(fixture_mint, iat=NOW - 120, exp=NOW - 60),
    }
    assert choice(cookies, publishable_key) is expected


def test_a_suffixed_session_without_its_uat_means_unsuffixed(fixture_mint: TokenMint) -> None:
    """A suffixed session but no suffixed ``client_uat``: FAPI has the feature off (rule 7)."""
    assert choice({f"__session_{LIVE_SUFFIX}": token(fixture_mint), "__client_uat": "1"}) is False


def test_several_apps_on_localhost_read_their_own_suffixed_cookies(fixture_mint: TokenMint) -> None:
    """Dev: another app's plain session, this app's suffixed ones: suffixed."""
    cookies = {
        "__session": token(fixture_mint, iss="https://clerk.another.lcl.dev"),
        "__client_uat": "1",
        f"__session_{TEST_SUFFIX}": token(fixture_mint),
        f"__client_uat_{TEST_SUFFIX}": "1",
    }
    carriers = Carriers.read(request(cookies), Instance.from_publishable_key(PK_TEST), NOW)
    assert carriers.suffixed is True
    assert carriers.session_token_in_cookie == cookies[f"__session_{TEST_SUFFIX}"]


# --- the other carriers --------------------------------------------------------------------------------------


def test_carriers_are_read_from_query_and_cookies() -> None:
    """Query wins over cookie for the dev browser, handshake token and nonce; numbers parse like JS."""
    view = request(
        {
            "__clerk_db_jwt": "cookie-db",
            "__clerk_handshake": "cookie-hs",
            "__clerk_handshake_nonce": "cookie-nonce",
            "__client_uat": "12abc",
            "__clerk_redirect_count": "2",
            "__refresh": "plain-refresh",
            f"__refresh_{LIVE_SUFFIX}": "suffixed-refresh",
        },
        url="http://example.com/?__clerk_db_jwt=query-db&__clerk_handshake=query-hs&__clerk_handshake_nonce=",
        authorization="Bearer header-token",
    )
    carriers = Carriers.read(view, Instance.from_publishable_key(PK_LIVE), NOW)
    assert carriers.dev_browser_token == "query-db"
    assert carriers.handshake_token == "query-hs"
    assert carriers.handshake_nonce == "cookie-nonce"
    assert carriers.client_uat == 12
    assert carriers.redirect_count == 2
    assert carriers.refresh_token_in_cookie == "suffixed-refresh"
    assert carriers.token_in_header == "header-token"
    assert carriers.session_token == "header-token"


@pytest.mark.parametrize(
    ("uat", "client_uat", "count", "redirect_count"),
    [("", 0, "", 0), ("abc", 0, "x", 0), ("-5", -5, "3.0", 3), ("0x10", 16, "1e0", 1), ("0", 0, "4", 4)],
)
def test_client_uat_and_redirect_count_coerce_like_js(
    uat: str, client_uat: float, count: str, redirect_count: float
) -> None:
    """``parseInt(uat) || 0`` and ``Number(count) || 0``."""
    view = request({"__client_uat": uat, "__clerk_redirect_count": count})
    carriers = Carriers.read(view, Instance.from_publishable_key(PK_LIVE), NOW)
    assert (carriers.client_uat, carriers.redirect_count) == (client_uat, redirect_count)


def test_header_only_carriers_ignore_cookies() -> None:
    """For ``m2m_token``/``api_key`` only the Authorization header is read."""
    carriers = Carriers.header_only(request({"__session": "x", "__client_uat": "1"}, authorization="ak_1"))
    assert carriers == Carriers(token_in_header="ak_1")
