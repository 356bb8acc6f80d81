"""Settings: read once from the environment, a ``.env`` file and CLI flags, checked all at once, frozen.

Precedence: flags > process environment > ``.env``. Clerk's own variable names are used where Clerk has
one (api.md §1), so an Express app's ``.env`` works unchanged. Every problem found is collected and raised
together in one ``ConfigError``, so an operator fixes a bad deployment in one round trip.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

from clerk_authd.errors import ConfigError
from clerk_authd.rules.instance import Instance, PublishableKeyError
from clerk_authd.rules.pem import PemKeyError, load_rsa_public_key
from clerk_authd.rules.tokentypes import MACHINE_TOKEN_TYPES, parse_accepts_token

_SECRET_FIELDS = frozenset({"secret_key", "machine_secret_key", "jwt_key"})

T = TypeVar("T")
#: Sanic cannot read a request head larger than this
_SANIC_HEADER_CEILING = 16_384


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service and library need to decide, resolved and validated."""

    secret_key: str = ""
    publishable_key: str = ""
    jwt_key: str = ""
    machine_secret_key: str = ""
    api_url: str = "https://api.clerk.com"
    api_version: str = "v1"
    authorized_parties: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    sign_in_url: str = ""
    domain: str = ""
    proxy_url: str = ""
    is_satellite: bool = False
    host: str = "127.0.0.1"
    port: int = 8787
    workers: int = 1
    #: accepted ``iss`` values; ``None`` means no issuer check
    issuers: tuple[str, ...] | None = None
    clock_skew_ms: int = 5000
    #: ``("any",)`` or a subset of ``TOKEN_TYPES``
    accepts_token: tuple[str, ...] = ("session_token",)
    jwks_refresh_s: float = 300.0
    jwks_min_refetch_s: float = 10.0
    jwks_stale_s: float = 86400.0
    cache_size: int = 100_000
    org_patterns: tuple[str, ...] = ()
    personal_account_patterns: tuple[str, ...] = ()
    enable_handshake: bool = True
    sign_in_return_param: str = "redirect_url"
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    debug: bool = False
    #: Backend API calls that request input triggers (handshake nonces, refreshes, opaque machine tokens), per
    #: worker: a token bucket refilled at ``bapi_rate`` per second holding at most ``bapi_burst``
    bapi_rate: float = 5.0
    bapi_burst: int = 20
    #: seconds an opaque machine token's verdict (either way) is reused: the revocation delay; 0 disables
    machine_cache_s: float = 10.0
    has_max_body: int = 65_536
    has_max_checks: int = 100
    #: the whole request (headers and body) must arrive within this; an idle keep-alive connection closes after
    request_timeout_s: float = 10.0
    keep_alive_timeout_s: float = 75.0
    max_header_bytes: int = 8192
    #: open client connections per worker; more are answered 503 and closed
    max_connections: int = 1000
    #: a second listener for /healthz, /readyz and /metrics (which then leave the decision port); None = none
    ops_port: int | None = None
    #: decoded publishable key; ``None`` when no key is configured (machine-token-only deployments)
    instance: Instance | None = field(default=None, compare=False)

    def masked(self) -> dict[str, object]:
        """The settings as plain values with secrets shortened, for ``clerk-authd check`` and logs."""
        out: dict[str, object] = {}
        for f in fields(self):
            if f.name == "instance":
                continue
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS and value:
                value = _mask(str(value))
            out[f.name] = value
        return out


def _mask(secret: str) -> str:
    """Show the prefix that tells which key it is (``sk_test_``) and hide the rest."""
    compact = "".join(secret.split())
    if compact.startswith(("sk_", "pk_")):
        return compact[:8] + "…" + f"({len(compact)} chars)"
    return f"…({len(compact)} chars)"


class _Reader:
    """Reads raw values and remembers every problem instead of stopping at the first."""

    def __init__(self, source: Mapping[str, str]) -> None:
        self.source = source
        self.problems: list[str] = []

    def text(self, name: str, default: str = "") -> str:
        return self.source.get(name, default).strip() or default

    def typed(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        raw = self.source.get(name, "").strip()
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            self.problems.append(f"{name}={raw!r}: {exc}")
            return default

    def problem(self, name: str, why: str) -> None:
        self.problems.append(f"{name}: {why}")


def _comma_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _clerk_truthy(raw: str) -> bool:
    """Clerk's ``isTruthy`` for ``CLERK_IS_SATELLITE``: ``true`` in any case, or an integer above 0."""
    if raw.lower() == "true":
        return True
    try:
        return int(raw) > 0
    except ValueError:
        return False


def _int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ValueError(f"must be {bound}")
        return value

    return parse


def _seconds(minimum: float, *, allow_equal: bool, unit: str = "seconds") -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(raw)
        if not math.isfinite(value) or value < minimum or (value == minimum and not allow_equal):
            relation = "at least" if allow_equal else "more than"
            raise ValueError(f"must be a finite number of {unit} {relation} {minimum:g}")
        return value

    return parse


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("expected debug, info, warning, error or critical")
    return level


def _log_format(raw: str) -> Literal["json", "text"]:
    if raw == "json":
        return "json"
    if raw == "text":
        return "text"
    raise ValueError("expected json or text")


def _absolute_http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return raw.rstrip("/")


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
    r = _Reader(merged)
    default_accepts: tuple[str, ...] = ("session_token",)
    accepts = r.typed("CLERK_AUTHD_ACCEPTS_TOKEN", default_accepts, parse_accepts_token)
    is_satellite = _clerk_truthy(r.text("CLERK_IS_SATELLITE", "false"))
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
        api_url=r.typed("CLERK_API_URL", "https://api.clerk.com", _absolute_http_url),
        api_version=r.text("CLERK_API_VERSION", "v1"),
        authorized_parties=_comma_list(r.text("CLERK_AUTHORIZED_PARTIES")),
        audience=_comma_list(r.text("CLERK_AUDIENCE")),
        sign_in_url=r.text("CLERK_SIGN_IN_URL"),
        domain=domain,
        proxy_url=proxy_url,
        is_satellite=is_satellite,
        host=r.text("CLERK_AUTHD_HOST", "127.0.0.1"),
        port=r.typed("CLERK_AUTHD_PORT", 8787, _int_range(0, 65535)),
        workers=r.typed("CLERK_AUTHD_WORKERS", 1, _int_range(1, 256)),
        issuers=_issuers(r, instance, proxy_url=proxy_url, domain=domain, is_satellite=is_satellite),
        clock_skew_ms=r.typed("CLERK_AUTHD_CLOCK_SKEW_MS", 5000, _int_range(0, 3_600_000)),
        accepts_token=accepts,
        jwks_refresh_s=r.typed("CLERK_AUTHD_JWKS_REFRESH_S", 300.0, _seconds(0, allow_equal=False)),
        jwks_min_refetch_s=r.typed("CLERK_AUTHD_JWKS_MIN_REFETCH_S", 10.0, _seconds(0, allow_equal=False)),
        jwks_stale_s=r.typed("CLERK_AUTHD_JWKS_STALE_S", 86400.0, _seconds(0, allow_equal=False)),
        cache_size=r.typed("CLERK_AUTHD_CACHE_SIZE", 100_000, _int_range(0)),
        org_patterns=_comma_list(r.text("CLERK_AUTHD_ORG_PATTERNS")),
        personal_account_patterns=_comma_list(r.text("CLERK_AUTHD_PERSONAL_ACCOUNT_PATTERNS")),
        enable_handshake=r.typed("CLERK_AUTHD_ENABLE_HANDSHAKE", True, _bool),
        sign_in_return_param=merged.get("CLERK_AUTHD_SIGN_IN_RETURN_PARAM", "redirect_url").strip(),
        log_format=r.typed("CLERK_AUTHD_LOG_FORMAT", "json", _log_format),
        log_level=r.typed("CLERK_AUTHD_LOG_LEVEL", "INFO", _log_level),
        debug=r.typed("CLERK_AUTHD_DEBUG", False, _bool),
        bapi_rate=r.typed("CLERK_AUTHD_BAPI_RATE", 5.0, _seconds(0, allow_equal=False, unit="calls per second")),
        bapi_burst=r.typed("CLERK_AUTHD_BAPI_BURST", 20, _int_range(1, 100_000)),
        machine_cache_s=r.typed("CLERK_AUTHD_MACHINE_CACHE_S", 10.0, _seconds(0, allow_equal=True)),
        has_max_body=r.typed("CLERK_AUTHD_HAS_MAX_BODY", 65_536, _int_range(1024, 16_777_216)),
        has_max_checks=r.typed("CLERK_AUTHD_HAS_MAX_CHECKS", 100, _int_range(1, 100_000)),
        request_timeout_s=r.typed("CLERK_AUTHD_REQUEST_TIMEOUT_S", 10.0, _seconds(0, allow_equal=False)),
        keep_alive_timeout_s=r.typed("CLERK_AUTHD_KEEP_ALIVE_TIMEOUT_S", 75.0, _seconds(0, allow_equal=False)),
        max_header_bytes=r.typed("CLERK_AUTHD_MAX_HEADER_BYTES", 8192, _int_range(1024, _SANIC_HEADER_CEILING)),
        max_connections=r.typed("CLERK_AUTHD_MAX_CONNECTIONS", 1000, _int_range(1, 1_000_000)),
        ops_port=r.typed("CLERK_AUTHD_OPS_PORT", None, _int_range(0, 65535)),
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


def _instance(r: _Reader, publishable_key: str, *, proxy_url: str, domain: str, is_satellite: bool) -> Instance | None:
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
    r: _Reader, instance: Instance | None, *, proxy_url: str, domain: str, is_satellite: bool
) -> tuple[str, ...] | None:
    raw = r.text("CLERK_AUTHD_ISSUER", "derive")
    if raw == "off":
        return None
    if raw == "derive":
        if instance is None:
            return None
        return instance.derived_issuers(proxy_url=proxy_url, domain=domain, is_satellite=is_satellite)
    issuers = _comma_list(raw)
    bad = [i for i in issuers if urlsplit(i).scheme not in ("http", "https")]
    if bad:
        r.problem("CLERK_AUTHD_ISSUER", f"expected 'derive', 'off' or a comma list of URLs, got {bad[0]!r}")
    return issuers


def _require_keys(r: _Reader, accepts: tuple[str, ...], *, publishable_key: str, secret_key: str, jwt_key: str) -> None:
    machine_only = accepts != ("any",) and set(accepts) <= MACHINE_TOKEN_TYPES
    if not publishable_key and not machine_only:
        r.problem(
            "CLERK_PUBLISHABLE_KEY",
            "is required (it names the Clerk instance); see the Clerk dashboard, API keys",
        )
    if not secret_key and not jwt_key:
        r.problem("CLERK_SECRET_KEY", "is required unless CLERK_JWT_KEY is set (networkless verification)")


def _check_patterns(r: _Reader, settings: Settings) -> None:
    """Compile the organization-sync patterns now, so a typo stops start-up rather than a request."""
    from clerk_authd.rules.orgsync import OrganizationMatcher, PatternError  # noqa: PLC0415 - avoids an import cycle

    try:
        OrganizationMatcher(settings.org_patterns, settings.personal_account_patterns)
    except PatternError as exc:
        r.problem("CLERK_AUTHD_ORG_PATTERNS / CLERK_AUTHD_PERSONAL_ACCOUNT_PATTERNS", str(exc))
