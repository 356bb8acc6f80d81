"""``AuthenticateOptions``: Clerk's ``AuthenticateRequestOptions``, and the ``verifyToken`` options they give."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clerk_authd.clerk.tokens import DEFAULT_CLOCK_SKEW_MS, VerifyOptions
from clerk_authd.config import Settings
from clerk_authd.rules.keys import KeyResolver
from clerk_authd.rules.tokentypes import AcceptsToken, accepts_option


@dataclass(frozen=True, slots=True)
class AuthenticateOptions:
    """Clerk's ``AuthenticateRequestOptions`` in snake_case (§2); ``organizationSyncOptions`` as two lists.

    ``accepts_token`` is ``'any'``, one token type, or a tuple (JS's array: a mismatch gives ``tokenType``
    null). ``enable_handshake`` ``False`` answers a would-be handshake signed-out, with the same reason and no
    redirect (``@clerk/express`` 1.x). ``require_sid`` is our opt-in ``sid`` check (``tokens.VerifyOptions``).
    """

    publishable_key: str = ""
    secret_key: str = ""
    machine_secret_key: str = ""
    jwt_key: str = ""
    api_url: str = "https://api.clerk.com"
    api_version: str = "v1"
    authorized_parties: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    issuer: tuple[str, ...] | None = None
    clock_skew_in_ms: float = DEFAULT_CLOCK_SKEW_MS
    header_type: tuple[str, ...] | None = None
    accepts_token: AcceptsToken = "session_token"
    is_satellite: bool = False
    domain: str = ""
    proxy_url: str = ""
    sign_in_url: str = ""
    satellite_auto_sync: bool = False
    organization_patterns: tuple[str, ...] = ()
    personal_account_patterns: tuple[str, ...] = ()
    enable_handshake: bool = True
    require_sid: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthenticateOptions:
        """The service's options: ``CLERK_*`` as Clerk reads them, ``sid`` required (as ``VerifyOptions``)."""
        return cls(
            publishable_key=settings.publishable_key,
            secret_key=settings.secret_key,
            machine_secret_key=settings.machine_secret_key,
            jwt_key=settings.jwt_key,
            api_url=settings.api_url,
            api_version=settings.api_version,
            authorized_parties=settings.authorized_parties,
            audience=settings.audience,
            issuer=settings.issuers,
            clock_skew_in_ms=settings.clock_skew_ms,
            accepts_token=accepts_option(settings.accepts_token),
            is_satellite=settings.is_satellite,
            domain=settings.domain,
            proxy_url=settings.proxy_url,
            sign_in_url=settings.sign_in_url,
            organization_patterns=settings.org_patterns,
            personal_account_patterns=settings.personal_account_patterns,
            enable_handshake=settings.enable_handshake,
            require_sid=True,
        )

    def verify_options(self, keys: KeyResolver | None, clock: Callable[[], float]) -> VerifyOptions:
        """The options ``verifyToken`` gets from this request's options."""
        return VerifyOptions(
            keys=keys,
            authorized_parties=self.authorized_parties,
            audience=self.audience,
            issuers=self.issuer,
            clock_skew_ms=self.clock_skew_in_ms,
            header_type=self.header_type,
            clock=clock,
            require_sid=self.require_sid,
        )
