"""``load_settings``: the settings read once from the environment, a ``.env`` file and CLI flags, checked all at
once.

Precedence: flags > process environment > ``.env``. Clerk's own variable names are used where Clerk has
one (api.md §1), so an Express app's ``.env`` works unchanged. Every problem found is collected and raised
together in one ``ConfigError``, so an operator fixes a bad deployment in one round trip.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from clerk_authd.config.settings import Settings
from clerk_authd.config.values import (
    Reader,
    absolute_http_url,
    clerk_truthy,
    comma_list,
    int_range,
    log_format,
    log_level,
    parse_bool,
    seconds,
)
from clerk_authd.errors import ConfigError
from clerk_authd.rules.instance import Instance, PublishableKeyError
from clerk_authd.rules.pem import PemKeyError, load_rsa_public_key
from clerk_authd.rules.tokentypes import MACHINE_TOKEN_TYPES, parse_accepts_token

#: Sanic cannot read a request head larger than this
_SANIC_HEADER_CEILING = 16_384


def read_sources(
    env_file: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Merge ``.env`` (or ``env_file``) under the process environment; the environment wins."""
    merged: dict[str, str] = {}
    path = Path(env_file) if env_file is not None else Path(".env")
    if env_file is not None and not path.is_file():
        raise ConfigError([f"--env-file: {path} does not exist"])
    if path.is_file():
        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return merged


def load_settings(
    source: Mapping[str, str],
    overrides: Mapping[str, str] | None = None,
    *,
    require_keys: bool = True,
) -> Settings:
    """Build ``Settings`` from variables (``source``) and flag values (``overrides``, same names).

    ``require_keys`` asks for what ``serve`` needs to decide anything: a publishable key (unless only
    machine tokens are accepted) and a secret key or ``CLERK_JWT_KEY``.
    """
    merged = {**source, **(overrides or {})}
    r = Reader(merged)
    default_accepts: tuple[str, ...] = ("session_token",)
    accepts = r.typed("CLERK_AUTHD_ACCEPTS_TOKEN", default_accepts, parse_accepts_token)
    is_satellite = clerk_truthy(r.text("CLERK_IS_SATELLITE", "false"))
    proxy_url = r.text("CLERK_PROXY_URL")
    domain = r.text("CLERK_DOMAIN")
    publishable_key = r.text("CLERK_PUBLISHABLE_KEY")
    secret_key = r.text("CLERK_SECRET_KEY")
    jwt_key = r.text("CLERK_JWT_KEY")

    instance = _instance(r, publishable_key, proxy_url=proxy_url, domain=domain, is_satellite=is_satellite)
    if jwt_key:
        try:
            load_rsa_public_key(jwt_key)
        except PemKeyError as exc:
            r.problem("CLERK_JWT_KEY", str(exc))
    if proxy_url and not (proxy_url.startswith("/") or urlsplit(proxy_url).scheme in ("http", "https")):
        r.problem("CLERK_PROXY_URL", "must be an absolute http(s) URL or a path starting with /")
    if is_satellite and not (proxy_url or domain):
        r.problem("CLERK_IS_SATELLITE", "a satellite needs CLERK_DOMAIN or CLERK_PROXY_URL")
    if require_keys:
        _require_keys(r, accepts, publishable_key=publishable_key, secret_key=secret_key, jwt_key=jwt_key)

    settings = Settings(
        secret_key=secret_key,
        publishable_key=publishable_key,
        jwt_key=jwt_key,
        machine_secret_key=r.text("CLERK_MACHINE_SECRET_KEY"),
        api_url=r.typed("CLERK_API_URL", "https://api.clerk.com", absolute_http_url),
        api_version=r.text("CLERK_API_VERSION", "v1"),
        authorized_parties=comma_list(r.text("CLERK_AUTHORIZED_PARTIES")),
        audience=comma_list(r.text("CLERK_AUDIENCE")),
        sign_in_url=r.text("CLERK_SIGN_IN_URL"),
        domain=domain,
        proxy_url=proxy_url,
        is_satellite=is_satellite,
        host=r.text("CLERK_AUTHD_HOST", "127.0.0.1"),
        port=r.typed("CLERK_AUTHD_PORT", 8787, int_range(0, 65535)),
        workers=r.typed("CLERK_AUTHD_WORKERS", 1, int_range(1, 256)),
        issuers=_issuers(r, instance, proxy_url=proxy_url, domain=domain, is_satellite=is_satellite),
        clock_skew_ms=r.typed("CLERK_AUTHD_CLOCK_SKEW_MS", 5000, int_range(0, 3_600_000)),
        accepts_token=accepts,
        jwks_refresh_s=r.typed("CLERK_AUTHD_JWKS_REFRESH_S", 300.0, seconds(0, allow_equal=False)),
        jwks_min_refetch_s=r.typed("CLERK_AUTHD_JWKS_MIN_REFETCH_S", 10.0, seconds(0, allow_equal=False)),
        jwks_stale_s=r.typed("CLERK_AUTHD_JWKS_STALE_S", 86400.0, seconds(0, allow_equal=False)),
        cache_size=r.typed("CLERK_AUTHD_CACHE_SIZE", 100_000, int_range(0)),
        org_patterns=comma_list(r.text("CLERK_AUTHD_ORG_PATTERNS")),
        personal_account_patterns=comma_list(r.text("CLERK_AUTHD_PERSONAL_ACCOUNT_PATTERNS")),
        enable_handshake=r.typed("CLERK_AUTHD_ENABLE_HANDSHAKE", True, parse_bool),
        sign_in_return_param=merged.get("CLERK_AUTHD_SIGN_IN_RETURN_PARAM", "redirect_url").strip(),
        log_format=r.typed("CLERK_AUTHD_LOG_FORMAT", "json", log_format),
        log_level=r.typed("CLERK_AUTHD_LOG_LEVEL", "INFO", log_level),
        debug=r.typed("CLERK_AUTHD_DEBUG", False, parse_bool),
        bapi_rate=r.typed("CLERK_AUTHD_BAPI_RATE", 5.0, seconds(0, allow_equal=False, unit="calls per second")),
        bapi_burst=r.typed("CLERK_AUTHD_BAPI_BURST", 20, int_range(1, 100_000)),
        machine_cache_s=r.typed("CLERK_AUTHD_MACHINE_CACHE_S", 10.0, seconds(0, allow_equal=True)),
        has_max_body=r.typed("CLERK_AUTHD_HAS_MAX_BODY", 65_536, int_range(1024, 16_777_216)),
        has_max_checks=r.typed("CLERK_AUTHD_HAS_MAX_CHECKS", 100, int_range(1, 100_000)),
        request_timeout_s=r.typed("CLERK_AUTHD_REQUEST_TIMEOUT_S", 10.0, seconds(0, allow_equal=False)),
        keep_alive_timeout_s=r.typed("CLERK_AUTHD_KEEP_ALIVE_TIMEOUT_S", 75.0, seconds(0, allow_equal=False)),
        max_header_bytes=r.typed("CLERK_AUTHD_MAX_HEADER_BYTES", 8192, int_range(1024, _SANIC_HEADER_CEILING)),
        max_connections=r.typed("CLERK_AUTHD_MAX_CONNECTIONS", 1000, int_range(1, 1_000_000)),
        ops_port=r.typed("CLERK_AUTHD_OPS_PORT", None, int_range(0, 65535)),
        instance=instance,
    )
    _check_patterns(r, settings)
    if settings.ops_port and settings.ops_port == settings.port:
        r.problem("CLERK_AUTHD_OPS_PORT", "must differ from CLERK_AUTHD_PORT")
    if r.problems:
        raise ConfigError(r.problems)
    if settings.publishable_key and not settings.authorized_parties:
        logging.getLogger("clerk_authd.config").warning(
            "CLERK_AUTHORIZED_PARTIES is not set: the azp claim is not checked"
        )
    return settings


def _instance(r: Reader, publishable_key: str, *, proxy_url: str, domain: str, is_satellite: bool) -> Instance | None:
    if not publishable_key:
        return None
    try:
        return Instance.from_publishable_key(
            publishable_key, proxy_url=proxy_url, domain=domain, is_satellite=is_satellite
        )
    except PublishableKeyError as exc:
        r.problem("CLERK_PUBLISHABLE_KEY", str(exc))
        return None


def _issuers(
    r: Reader, instance: Instance | None, *, proxy_url: str, domain: str, is_satellite: bool
) -> tuple[str, ...] | None:
    raw = r.text("CLERK_AUTHD_ISSUER", "derive")
    if raw == "off":
        return None
    if raw == "derive":
        if instance is None:
            return None
        return instance.derived_issuers(proxy_url=proxy_url, domain=domain, is_satellite=is_satellite)
    issuers = comma_list(raw)
    bad = [i for i in issuers if urlsplit(i).scheme not in ("http", "https")]
    if bad:
        r.problem("CLERK_AUTHD_ISSUER", f"expected 'derive', 'off' or a comma list of URLs, got {bad[0]!r}")
    return issuers


def _require_keys(r: Reader, accepts: tuple[str, ...], *, publishable_key: str, secret_key: str, jwt_key: str) -> None:
    machine_only = accepts != ("any",) and set(accepts) <= MACHINE_TOKEN_TYPES
    if not publishable_key and not machine_only:
        r.problem(
            "CLERK_PUBLISHABLE_KEY",
            "is required (it names the Clerk instance); see the Clerk dashboard, API keys",
        )
    if not secret_key and not jwt_key:
        r.problem("CLERK_SECRET_KEY", "is required unless CLERK_JWT_KEY is set (networkless verification)")


def _check_patterns(r: Reader, settings: Settings) -> None:
    """Compile the organization-sync patterns now, so a typo stops start-up rather than a request."""
    from clerk_authd.rules.orgsync import OrganizationMatcher, PatternError  # noqa: PLC0415 - avoids an import cycle

    try:
        OrganizationMatcher(settings.org_patterns, settings.personal_account_patterns)
    except PatternError as exc:
        r.problem("CLERK_AUTHD_ORG_PATTERNS / CLERK_AUTHD_PERSONAL_ACCOUNT_PATTERNS", str(exc))
