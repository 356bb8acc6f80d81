"""``Settings``: everything the service and the library need to decide, resolved, validated and frozen.

Built by ``loading.load_settings``; ``masked()`` is what ``clerk-authd check`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

from clerk_authd.rules.instance import Instance

_SECRET_FIELDS = frozenset({"secret_key", "machine_secret_key", "jwt_key"})


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
