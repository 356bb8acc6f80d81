"""The primary domain's cross-origin sync: which referrers are Clerk's own (clerk-semantics §5, step 15)."""

from __future__ import annotations

import logging
import re
from typing import Final

from clerk_authd.js.url import Url, parse_url
from clerk_authd.rules.instance import Instance
from clerk_authd.rules.request import RequestView

log = logging.getLogger(__name__)


_LEGACY_DEV_PORTAL_SUFFIXES: Final = (".lcl.dev", ".lclstage.dev", ".lclclerk.com")


_CURRENT_DEV_PORTAL_SUFFIXES: Final = (".accounts.dev", ".accountsstage.dev", ".accounts.lclclerk.com")


def _referrer(request: RequestView) -> Url | None:
    """The ``Referer`` header as a URL; ``None`` when it is missing or unparsable."""
    referrer = request.header("referer")
    return parse_url(referrer) if referrer else None


def is_cross_origin_referrer(request: RequestView) -> bool:
    """``isCrossOriginReferrer``: the referer's origin differs from the request's (an unparsable referer: no)."""
    parsed = _referrer(request)
    return parsed is not None and parsed.origin != request.origin


def _accounts_origin(frontend_api: str) -> str | None:
    """``buildAccountsBaseUrl``: FAPI's host rewritten to the account portal's, as an origin."""
    rewritten = frontend_api.replace("clerk.accountsstage.", "accountsstage.", 1)
    rewritten = re.sub(r"clerk\.accounts\.|clerk\.", "accounts.", rewritten, count=1)
    parsed = parse_url(f"https://{rewritten}")
    return parsed.origin if parsed is not None else None


def _is_dev_account_portal(host: str) -> bool:
    if host.startswith("accounts.") and host.endswith(_LEGACY_DEV_PORTAL_SUFFIXES):
        return True
    return any(
        host.endswith(suffix) and not host.endswith(".clerk" + suffix) for suffix in _CURRENT_DEV_PORTAL_SUFFIXES
    )


def is_known_clerk_referrer(request: RequestView, instance: Instance) -> bool:
    """``isKnownClerkReferrer``: FAPI itself, a development account portal (dev instances), or the portal of
    this instance."""
    parsed = _referrer(request)
    if parsed is None:
        return False
    frontend_api = instance.frontend_api
    if frontend_api.startswith("http"):
        fapi = parse_url(frontend_api)
        if fapi is None:
            return False
        fapi_host = fapi.hostname
    else:
        fapi_host = frontend_api
    if parsed.hostname == fapi_host:
        return True
    if instance.instance_type != "production" and _is_dev_account_portal(parsed.hostname):
        return True
    return parsed.origin == _accounts_origin(frontend_api)
