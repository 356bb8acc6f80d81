"""Configuration: every variable of api.md §1, precedence, and one error listing every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from clerk_authd.config import load_settings, read_sources
from clerk_authd.errors import ConfigError
from tests.conftest import FIXTURES

PK_LIVE = FIXTURES["publishable_keys"]["pk_live"]
PK_TEST = FIXTURES["publishable_keys"]["pk_test"]
BASE = {"CLERK_PUBLISHABLE_KEY": PK_LIVE, "CLERK_SECRET_KEY": "sk_live_abc"}


def test_defaults_follow_the_contract() -> None:
    """With only the two keys set, every other setting takes api.md's default."""
    s = load_settings(BASE)
    assert (s.host, s.port, s.workers) == ("127.0.0.1", 8787, 1)
    assert s.api_url == "https://api.clerk.com"
    assert s.api_version == "v1"
    assert s.clock_skew_ms == 5000
    assert s.accepts_token == ("session_token",)
    assert (s.jwks_refresh_s, s.jwks_min_refetch_s, s.jwks_stale_s) == (300.0, 10.0, 86400.0)
    assert s.cache_size == 100_000
    assert s.enable_handshake is True
    assert s.sign_in_return_param == "redirect_url"
    assert (s.log_format, s.log_level, s.debug) == ("json", "INFO", False)
    assert s.authorized_parties == ()
    assert s.instance is not None
    assert s.instance.cookie_suffix == "MqCvchyS"


def test_the_issuer_is_derived_from_the_publishable_key_by_default() -> None:
    """``CLERK_AUTHD_ISSUER`` defaults to ``derive``: the FAPI URL of the publishable key."""
    assert load_settings(BASE).issuers == ("https://clerk.inspired.puma-74.lcl.dev",)


def test_the_issuer_check_can_be_turned_off_or_listed() -> None:
    """``off`` disables the check; a comma list names the accepted issuers exactly."""
    assert load_settings({**BASE, "CLERK_AUTHD_ISSUER": "off"}).issuers is None
    listed = load_settings({**BASE, "CLERK_AUTHD_ISSUER": "https://a.example, https://b.example"})
    assert listed.issuers == ("https://a.example", "https://b.example")


def test_every_variable_is_read() -> None:
    """Each variable of api.md §1 lands in its setting, lists split on commas."""
    s = load_settings(
        {
            **BASE,
            "CLERK_JWT_KEY": FIXTURES["signing_public_key_spki_pem"],
            "CLERK_MACHINE_SECRET_KEY": "ak_machine",
            "CLERK_API_URL": "http://127.0.0.1:9999/",
            "CLERK_API_VERSION": "v2",
            "CLERK_AUTHORIZED_PARTIES": "https://a.example, https://b.example",
            "CLERK_AUDIENCE": "x,y",
            "CLERK_SIGN_IN_URL": "/sign-in",
            "CLERK_AUTHD_HOST": "0.0.0.0",  # noqa: S104 - a value under test, nothing binds
            "CLERK_AUTHD_PORT": "9000",
            "CLERK_AUTHD_WORKERS": "4",
            "CLERK_AUTHD_CLOCK_SKEW_MS": "0",
            "CLERK_AUTHD_ACCEPTS_TOKEN": "session_token,api_key",
            "CLERK_AUTHD_JWKS_REFRESH_S": "60",
            "CLERK_AUTHD_JWKS_MIN_REFETCH_S": "0.001",
            "CLERK_AUTHD_JWKS_STALE_S": "3600",
            "CLERK_AUTHD_CACHE_SIZE": "0",
            "CLERK_AUTHD_ORG_PATTERNS": "/orgs/:slug,/orgs/:slug/(.*)",
            "CLERK_AUTHD_PERSONAL_ACCOUNT_PATTERNS": "/me",
            "CLERK_AUTHD_ENABLE_HANDSHAKE": "false",
            "CLERK_AUTHD_SIGN_IN_RETURN_PARAM": "",
            "CLERK_AUTHD_LOG_FORMAT": "text",
            "CLERK_AUTHD_LOG_LEVEL": "debug",
            "CLERK_AUTHD_DEBUG": "true",
        }
    )
    assert s.jwt_key.startswith("-----BEGIN PUBLIC KEY-----")
    assert s.machine_secret_key == "ak_machine"
    assert s.api_url == "http://127.0.0.1:9999"
    assert s.api_version == "v2"
    assert s.authorized_parties == ("https://a.example", "https://b.example")
    assert s.audience == ("x", "y")
    assert s.sign_in_url == "/sign-in"
    assert (s.host, s.port, s.workers) == ("0.0.0.0", 9000, 4)  # noqa: S104 - see above
    assert s.clock_skew_ms == 0
    assert s.accepts_token == ("session_token", "api_key")
    assert (s.jwks_refresh_s, s.jwks_min_refetch_s, s.jwks_stale_s) == (60.0, 0.001, 3600.0)
    assert s.cache_size == 0
    assert s.org_patterns == ("/orgs/:slug", "/orgs/:slug/(.*)")
    assert s.personal_account_patterns == ("/me",)
    assert s.enable_handshake is False
    assert s.sign_in_return_param == ""
    assert (s.log_format, s.log_level, s.debug) == ("text", "DEBUG", True)


def test_satellite_settings_change_the_frontend_api() -> None:
    """``CLERK_IS_SATELLITE`` uses Clerk's isTruthy, and a production satellite talks to clerk.<domain>."""
    s = load_settings({**BASE, "CLERK_IS_SATELLITE": "1", "CLERK_DOMAIN": "sat.example"})
    assert s.is_satellite is True
    assert s.instance is not None
    assert s.instance.frontend_api == "clerk.sat.example"
    assert "https://clerk.sat.example" in (s.issuers or ())


def test_flags_override_the_environment() -> None:
    """A flag value wins over the same variable from the environment."""
    s = load_settings({**BASE, "CLERK_AUTHD_PORT": "9000"}, {"CLERK_AUTHD_PORT": "9100"})
    assert s.port == 9100


def test_the_environment_overrides_the_env_file(tmp_path: Path) -> None:
    """``.env`` fills in what the process environment does not set."""
    env_file = tmp_path / "custom.env"
    env_file.write_text(f"CLERK_PUBLISHABLE_KEY={PK_TEST}\nCLERK_AUTHD_PORT=9000\n")
    merged = read_sources(env_file, environ={"CLERK_AUTHD_PORT": "9200", "CLERK_SECRET_KEY": "sk_test_x"})
    s = load_settings(merged)
    assert s.port == 9200
    assert s.publishable_key == PK_TEST


def test_a_missing_env_file_is_a_config_error(tmp_path: Path) -> None:
    """``--env-file`` naming a file that does not exist stops start-up."""
    with pytest.raises(ConfigError, match="does not exist"):
        read_sources(tmp_path / "nope.env", environ={})


def test_every_bad_variable_is_listed_in_one_error() -> None:
    """All problems are reported together, each naming its variable and why."""
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "CLERK_PUBLISHABLE_KEY": "pk_nope",
                "CLERK_SECRET_KEY": "sk_test_x",
                "CLERK_JWT_KEY": "not a key",
                "CLERK_API_URL": "ftp://x",
                "CLERK_AUTHD_PORT": "70000",
                "CLERK_AUTHD_WORKERS": "zero",
                "CLERK_AUTHD_CLOCK_SKEW_MS": "-1",
                "CLERK_AUTHD_ACCEPTS_TOKEN": "session_token,cookie",
                "CLERK_AUTHD_JWKS_REFRESH_S": "0",
                "CLERK_AUTHD_JWKS_STALE_S": "nan",
                "CLERK_AUTHD_CACHE_SIZE": "-5",
                "CLERK_AUTHD_ORG_PATTERNS": "/orgs/:id/***",
                "CLERK_AUTHD_ENABLE_HANDSHAKE": "maybe",
                "CLERK_AUTHD_LOG_FORMAT": "xml",
                "CLERK_AUTHD_LOG_LEVEL": "loud",
                "CLERK_AUTHD_DEBUG": "2",
                "CLERK_AUTHD_ISSUER": "clerk.example.com",
            }
        )
    named = " ".join(caught.value.problems)
    for variable in (
        "CLERK_PUBLISHABLE_KEY",
        "CLERK_JWT_KEY",
        "CLERK_API_URL",
        "CLERK_AUTHD_PORT",
        "CLERK_AUTHD_WORKERS",
        "CLERK_AUTHD_CLOCK_SKEW_MS",
        "CLERK_AUTHD_ACCEPTS_TOKEN",
        "CLERK_AUTHD_JWKS_REFRESH_S",
        "CLERK_AUTHD_JWKS_STALE_S",
        "CLERK_AUTHD_CACHE_SIZE",
        "CLERK_AUTHD_ORG_PATTERNS",
        "CLERK_AUTHD_ENABLE_HANDSHAKE",
        "CLERK_AUTHD_LOG_FORMAT",
        "CLERK_AUTHD_LOG_LEVEL",
        "CLERK_AUTHD_DEBUG",
        "CLERK_AUTHD_ISSUER",
    ):
        assert variable in named, variable
    assert len(caught.value.problems) == 16


def test_keys_are_required_to_serve() -> None:
    """Serving needs a publishable key and a secret key (or a networkless CLERK_JWT_KEY)."""
    with pytest.raises(ConfigError) as caught:
        load_settings({})
    assert any(p.startswith("CLERK_PUBLISHABLE_KEY") for p in caught.value.problems)
    assert any(p.startswith("CLERK_SECRET_KEY") for p in caught.value.problems)
    networkless = load_settings(
        {"CLERK_PUBLISHABLE_KEY": PK_LIVE, "CLERK_JWT_KEY": FIXTURES["signing_public_key_spki_pem"]}
    )
    assert networkless.jwt_key
    assert networkless.secret_key == ""


def test_machine_only_deployments_need_no_publishable_key() -> None:
    """Accepting only machine tokens needs no publishable key, as in Clerk."""
    s = load_settings({"CLERK_SECRET_KEY": "sk_test_x", "CLERK_AUTHD_ACCEPTS_TOKEN": "m2m_token,api_key"})
    assert s.instance is None
    assert s.issuers is None


def test_a_satellite_without_domain_or_proxy_is_refused() -> None:
    """Clerk throws for a satellite with neither a domain nor a proxy URL; we refuse to start."""
    with pytest.raises(ConfigError, match="CLERK_IS_SATELLITE"):
        load_settings({**BASE, "CLERK_IS_SATELLITE": "true"})


def test_secrets_are_masked_when_described() -> None:
    """``masked()`` never shows a secret whole."""
    described = load_settings({**BASE, "CLERK_JWT_KEY": FIXTURES["signing_public_key_spki_pem"]}).masked()
    assert described["secret_key"] == "sk_live_…(11 chars)"
    assert "BEGIN" not in str(described["jwt_key"])
    assert described["publishable_key"] == PK_LIVE


def test_a_missing_authorized_parties_list_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Without CLERK_AUTHORIZED_PARTIES the azp claim goes unchecked, so start-up warns."""
    load_settings(BASE)
    assert "CLERK_AUTHORIZED_PARTIES is not set" in caplog.text


def test_the_hardening_limits_have_their_defaults() -> None:
    """The limits of the README's Security section, as documented."""
    s = load_settings(BASE)
    assert (s.bapi_rate, s.bapi_burst, s.machine_cache_s) == (5.0, 20, 10.0)
    assert (s.has_max_body, s.has_max_checks) == (65_536, 100)
    assert (s.request_timeout_s, s.keep_alive_timeout_s, s.max_header_bytes, s.max_connections) == (10, 75, 8192, 1000)
    assert s.ops_port is None


def test_the_hardening_limits_can_be_set() -> None:
    """Every limit is a variable; 0 turns the machine-token answer cache off."""
    s = load_settings(
        {
            **BASE,
            "CLERK_AUTHD_BAPI_RATE": "0.5",
            "CLERK_AUTHD_BAPI_BURST": "3",
            "CLERK_AUTHD_MACHINE_CACHE_S": "0",
            "CLERK_AUTHD_HAS_MAX_BODY": "4096",
            "CLERK_AUTHD_HAS_MAX_CHECKS": "7",
            "CLERK_AUTHD_REQUEST_TIMEOUT_S": "2.5",
            "CLERK_AUTHD_KEEP_ALIVE_TIMEOUT_S": "30",
            "CLERK_AUTHD_MAX_HEADER_BYTES": "16384",
            "CLERK_AUTHD_MAX_CONNECTIONS": "64",
            "CLERK_AUTHD_OPS_PORT": "9090",
        }
    )
    assert (s.bapi_rate, s.bapi_burst, s.machine_cache_s) == (0.5, 3, 0.0)
    assert (s.has_max_body, s.has_max_checks) == (4096, 7)
    assert (s.request_timeout_s, s.keep_alive_timeout_s, s.max_header_bytes, s.max_connections) == (2.5, 30, 16384, 64)
    assert s.ops_port == 9090


def test_bad_hardening_limits_are_all_reported_at_once() -> None:
    """Finding 8: a refetch interval of 0 (a fetch per unknown kid) is refused, with every other bad limit."""
    bad = {
        "CLERK_AUTHD_JWKS_MIN_REFETCH_S": "0",
        "CLERK_AUTHD_BAPI_RATE": "0",
        "CLERK_AUTHD_BAPI_BURST": "0",
        "CLERK_AUTHD_MACHINE_CACHE_S": "-1",
        "CLERK_AUTHD_HAS_MAX_BODY": "10",
        "CLERK_AUTHD_HAS_MAX_CHECKS": "0",
        "CLERK_AUTHD_REQUEST_TIMEOUT_S": "inf",
        "CLERK_AUTHD_KEEP_ALIVE_TIMEOUT_S": "0",
        "CLERK_AUTHD_MAX_HEADER_BYTES": "20000",
        "CLERK_AUTHD_MAX_CONNECTIONS": "0",
        "CLERK_AUTHD_OPS_PORT": "8787",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, **bad})
    named = " ".join(caught.value.problems)
    for variable in bad:
        assert variable in named, variable
    assert len(caught.value.problems) == len(bad)
    assert "calls per second" in named
