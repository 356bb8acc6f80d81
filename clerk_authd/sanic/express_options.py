"""Clerk's Express middleware options, in snake_case, read as the ``CLERK_*`` variables they stand for.

``clerk_middleware(app, authorized_parties=[...], organization_sync_options={...})`` takes the options of Clerk's
``clerkMiddleware()``; each maps to one variable of api.md §1 and is validated by ``load_settings`` with the
environment and ``.env`` beneath it, so an option and its variable can never disagree about what is valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from clerk_authd.config import Settings, load_settings, read_sources

#: Clerk's Express options (snake_case) and the variables they stand for
_OPTION_VARIABLES: Final = {
    "publishable_key": "CLERK_PUBLISHABLE_KEY",
    "secret_key": "CLERK_SECRET_KEY",
    "jwt_key": "CLERK_JWT_KEY",
    "machine_secret_key": "CLERK_MACHINE_SECRET_KEY",
    "api_url": "CLERK_API_URL",
    "api_version": "CLERK_API_VERSION",
    "authorized_parties": "CLERK_AUTHORIZED_PARTIES",
    "audience": "CLERK_AUDIENCE",
    "sign_in_url": "CLERK_SIGN_IN_URL",
    "domain": "CLERK_DOMAIN",
    "proxy_url": "CLERK_PROXY_URL",
    "is_satellite": "CLERK_IS_SATELLITE",
    "clock_skew_in_ms": "CLERK_AUTHD_CLOCK_SKEW_MS",
    "issuer": "CLERK_AUTHD_ISSUER",
    "enable_handshake": "CLERK_AUTHD_ENABLE_HANDSHAKE",
    "sign_in_return_param": "CLERK_AUTHD_SIGN_IN_RETURN_PARAM",
    "debug": "CLERK_AUTHD_DEBUG",
}
#: the keys of ``organization_sync_options`` (snake_case or Clerk's camelCase) and their variables
_ORG_SYNC_VARIABLES: Final = {
    "organization_patterns": "CLERK_AUTHD_ORG_PATTERNS",
    "organizationPatterns": "CLERK_AUTHD_ORG_PATTERNS",
    "personal_account_patterns": "CLERK_AUTHD_PERSONAL_ACCOUNT_PATTERNS",
    "personalAccountPatterns": "CLERK_AUTHD_PERSONAL_ACCOUNT_PATTERNS",
}


def settings_from_options(options: Mapping[str, object], environ: Mapping[str, str] | None = None) -> Settings:
    """Clerk's Express options over the environment and ``.env``; raises ``ConfigError`` listing every problem."""
    overrides: dict[str, str] = {}
    for name, value in options.items():
        if name == "organization_sync_options":
            if not isinstance(value, Mapping):
                raise TypeError("organization_sync_options must be a mapping of pattern lists")
            for key, patterns in value.items():
                if key not in _ORG_SYNC_VARIABLES:
                    raise TypeError(f"unknown organization_sync_options key {key!r}")
                overrides[_ORG_SYNC_VARIABLES[key]] = _variable_text(patterns)
        elif name in _OPTION_VARIABLES:
            overrides[_OPTION_VARIABLES[name]] = _variable_text(value)
        else:
            raise TypeError(f"clerk_middleware() got an unknown option {name!r}")
    return load_settings(read_sources(environ=environ), overrides)


def _variable_text(value: object) -> str:
    """An option's value as the variable's text: booleans as ``true``/``false``, lists comma-joined."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)
