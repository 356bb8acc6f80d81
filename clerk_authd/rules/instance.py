"""What a publishable key says about a Clerk instance: its Frontend API host, dev or prod, cookie suffix.

Clerk derives all of these from the publishable key alone (clerk-semantics §1.4, §15), so we decode it once
at start-up and keep the results on an immutable ``Instance``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Literal

InstanceType = Literal["development", "production"]

_PREFIXES: dict[str, InstanceType] = {"pk_test": "development", "pk_live": "production"}


class PublishableKeyError(ValueError):
    """The publishable key is missing or not ``pk_test_…`` / ``pk_live_…`` with a valid body."""


def parse_publishable_key(key: str) -> tuple[str, InstanceType]:
    """Decode ``pk_(test|live)_<base64 of "host$">`` into ``(frontend_api_host, instance_type)``."""
    if not key:
        raise PublishableKeyError("Publishable key is missing.")
    parts = key.split("_")
    prefix = "_".join(parts[:2])
    if len(parts) != 3 or prefix not in _PREFIXES:
        raise PublishableKeyError("Publishable key not valid (expected format: pk_test_... or pk_live_...).")
    body = parts[2]
    try:
        decoded = base64.b64decode(body + "=" * (-len(body) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise PublishableKeyError("Publishable key not valid: Failed to decode key.") from exc
    if not decoded.endswith("$") or decoded.count("$") != 1 or "." not in decoded:
        raise PublishableKeyError("Publishable key not valid: Decoded key has invalid format.")
    return decoded[:-1], _PREFIXES[prefix]


def cookie_suffix(publishable_key: str) -> str:
    """Clerk's ``getCookieSuffix``: url-safe base64 of SHA-1(key), first 8 characters."""
    digest = hashlib.sha1(publishable_key.encode("utf-8")).digest()  # noqa: S324 - Clerk's naming scheme, not security
    return base64.b64encode(digest).decode("ascii").replace("+", "-").replace("/", "_")[:8]


def strip_scheme(url: str) -> str:
    """Remove every ``http://`` / ``https://`` (any case), as Clerk does when it compares issuers."""
    out = url
    for scheme in ("https://", "http://"):
        while True:
            index = out.lower().find(scheme)
            if index < 0:
                break
            out = out[:index] + out[index + len(scheme) :]
    return out


@dataclass(frozen=True, slots=True)
class Instance:
    """A Clerk instance as the request flow sees it.

    ``key_frontend_api`` is the host decoded from the publishable key. ``original_frontend_api`` is Clerk's
    ``originalFrontendApi``, the issuer a cookie must name to belong to this instance: the decoded host, except on a
    production satellite, where it is the satellite's own ``clerk.<domain>`` (Clerk parses the key with the domain
    and satellite flag but without the proxy URL). ``frontend_api`` is what the handshake talks to: the proxy URL
    when one is set, else ``original_frontend_api`` (clerk-semantics §8, §15).
    """

    publishable_key: str
    key_frontend_api: str
    original_frontend_api: str
    instance_type: InstanceType
    cookie_suffix: str
    frontend_api: str

    @classmethod
    def from_publishable_key(
        cls,
        publishable_key: str,
        *,
        proxy_url: str = "",
        domain: str = "",
        is_satellite: bool = False,
    ) -> Instance:
        """Decode the key and apply Clerk's proxy / satellite overrides of the Frontend API."""
        host, instance_type = parse_publishable_key(publishable_key)
        original = f"clerk.{domain}" if instance_type == "production" and is_satellite and domain else host
        return cls(
            publishable_key=publishable_key,
            key_frontend_api=host,
            original_frontend_api=original,
            instance_type=instance_type,
            cookie_suffix=cookie_suffix(publishable_key),
            frontend_api=proxy_url or original,
        )

    @property
    def is_development(self) -> bool:
        """True for ``pk_test_`` instances: dev-browser and handshake rules differ there."""
        return self.instance_type == "development"

    def derived_issuers(self, proxy_url: str = "", domain: str = "", is_satellite: bool = False) -> tuple[str, ...]:
        """The ``iss`` values this instance's tokens may carry: FAPI URL, proxy URL, satellite FAPI."""
        issuers = [f"https://{self.key_frontend_api}"]
        if proxy_url.startswith(("http://", "https://")):
            issuers.append(proxy_url.rstrip("/"))
        if is_satellite and domain:
            issuers.append(f"https://clerk.{domain}")
        return tuple(dict.fromkeys(issuers))
