"""What a publishable key tells us about an instance (clerk-semantics §1.4, §15)."""

from __future__ import annotations

import pytest

from clerk_authd.rules.instance import Instance, PublishableKeyError, cookie_suffix, parse_publishable_key, strip_scheme

PK_TEST = "pk_test_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA"
PK_LIVE = "pk_live_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA"


@pytest.mark.parametrize(
    ("publishable_key", "suffix"),
    [
        (PK_TEST, "vWCgMp3A"),
        (PK_LIVE, "MqCvchyS"),
        ("pk_live_Y2xlcmsuY2xlcmsuZGV2JA", "1Z8AzTQD"),
        ("pk_test_Y2xlcmsuY2xlcmsuZGV2JA", "QvfNY2dr"),
        ("pk_test_ZW5vdWdoLWFscGFjYS04Mi5jbGVyay5hY2NvdW50cy5sY2xjbGVyay5jb20k", "jtYvyt_H"),
    ],
)
def test_cookie_suffix_matches_clerks_pinned_values(publishable_key: str, suffix: str) -> None:
    """The cookie suffix is url-safe base64 of SHA-1(key), 8 characters, as Clerk pins it."""
    assert cookie_suffix(publishable_key) == suffix


def test_a_test_key_decodes_to_its_frontend_api_and_development() -> None:
    """``pk_test_`` keys are development instances; the body is the FAPI host followed by ``$``."""
    assert parse_publishable_key(PK_TEST) == ("clerk.inspired.puma-74.lcl.dev", "development")


def test_a_live_key_is_production() -> None:
    """``pk_live_`` keys are production instances."""
    assert parse_publishable_key(PK_LIVE) == ("clerk.inspired.puma-74.lcl.dev", "production")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Publishable key is missing."),
        ("sk_test_Y2xlcmsuY2xlcmsuZGV2JA", "expected format"),
        ("pk_test", "expected format"),
        ("pk_test_a_b", "expected format"),
        ("pk_test_!!!!", "Failed to decode key"),
        ("pk_test_Y2xlcmsuY2xlcmsuZGV2", "invalid format"),  # no trailing $
        ("pk_test_bm9kb3QkJA", "invalid format"),  # 'nodot$$'
    ],
)
def test_malformed_publishable_keys_are_refused_with_clerks_message(key: str, message: str) -> None:
    """A key that is not ``pk_(test|live)_<base64 of host$>`` is refused, saying why."""
    with pytest.raises(PublishableKeyError, match=message):
        parse_publishable_key(key)


def test_the_frontend_api_is_the_decoded_host_by_default() -> None:
    """Without a proxy or satellite domain the handshake talks to the decoded FAPI host."""
    instance = Instance.from_publishable_key(PK_LIVE)
    assert instance.frontend_api == "clerk.inspired.puma-74.lcl.dev"
    assert instance.cookie_suffix == "MqCvchyS"
    assert not instance.is_development


def test_a_proxy_url_replaces_the_frontend_api() -> None:
    """``proxyUrl`` wins over everything, for dev and prod alike."""
    instance = Instance.from_publishable_key(PK_TEST, proxy_url="https://app.example/__clerk")
    assert instance.frontend_api == "https://app.example/__clerk"
    assert instance.original_frontend_api == "clerk.inspired.puma-74.lcl.dev"


def test_a_production_satellite_talks_to_clerk_dot_its_domain() -> None:
    """A production satellite with a domain uses ``clerk.<domain>``; a dev satellite keeps the decoded host."""
    prod = Instance.from_publishable_key(PK_LIVE, domain="satellite.example", is_satellite=True)
    dev = Instance.from_publishable_key(PK_TEST, domain="satellite.example", is_satellite=True)
    assert prod.frontend_api == "clerk.satellite.example"
    assert dev.frontend_api == "clerk.inspired.puma-74.lcl.dev"


def test_derived_issuers_cover_the_fapi_the_proxy_and_the_satellite_domain() -> None:
    """The derived ``iss`` list names every URL this instance's tokens may be issued from."""
    instance = Instance.from_publishable_key(PK_LIVE)
    assert instance.derived_issuers() == ("https://clerk.inspired.puma-74.lcl.dev",)
    assert instance.derived_issuers(
        proxy_url="https://app.example/__clerk/", domain="sat.example", is_satellite=True
    ) == (
        "https://clerk.inspired.puma-74.lcl.dev",
        "https://app.example/__clerk",
        "https://clerk.sat.example",
    )


def test_strip_scheme_removes_every_http_prefix_in_any_case() -> None:
    """Clerk strips all ``http(s)://`` occurrences, case-insensitively, before comparing issuers."""
    assert strip_scheme("HTTPS://clerk.example.com") == "clerk.example.com"
    assert strip_scheme("https://http://x.dev") == "x.dev"
