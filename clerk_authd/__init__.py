"""clerk_authd: decides who a request is and what it may do, exactly as Clerk's SDK does.

This module is the library's public face (api.md §5): what is named in ``__all__`` is kept stable, everything
else may move between releases. The Sanic SDK is its own module, ``clerk_authd.sanic``, so that importing the
library never imports Sanic.
"""

from clerk_authd.clerk.authenticate import Authenticator, authenticate_request
from clerk_authd.clerk.backend_api import (
    AllowlistIdentifier,
    APIKey,
    BlocklistIdentifier,
    ClerkClient,
    DeletedObject,
    EmailAddress,
    IdPOAuthAccessToken,
    Invitation,
    Jwks,
    M2MToken,
    Organization,
    OrganizationMembership,
    OrganizationMembershipPublicUserData,
    PaginatedResourceResponse,
    PhoneNumber,
    RetryPolicy,
    Session,
    SessionActivity,
    User,
    Verification,
    Web3Wallet,
)
from clerk_authd.clerk.keystore import KeyStore
from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.clerk.runtime import ClerkRuntime
from clerk_authd.clerk.tokens import VerifyOptions, verify_token
from clerk_authd.config import Settings, load_settings
from clerk_authd.errors import (
    AuthenticateRequestError,
    BackendAPIError,
    ClerkAPIError,
    ClerkAPIResponseError,
    ClerkAuthdError,
    ClerkTransportError,
    ConfigError,
    HandshakeError,
    MachineTokenVerificationError,
    TokenVerificationError,
)
from clerk_authd.rules.auth import Auth, InvalidTokenAuth, SignedInAuth, SignedOutAuth
from clerk_authd.rules.keys import PemKey
from clerk_authd.rules.machine_auth import MachineAuth
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.state import RequestState
from clerk_authd.rules.verdict import Verdict
from clerk_authd.version import __version__

__all__ = [
    "APIKey",
    "AllowlistIdentifier",
    "Auth",
    "AuthenticateOptions",
    "AuthenticateRequestError",
    "Authenticator",
    "BackendAPIError",
    "BlocklistIdentifier",
    "ClerkAPIError",
    "ClerkAPIResponseError",
    "ClerkAuthdError",
    "ClerkClient",
    "ClerkRuntime",
    "ClerkTransportError",
    "ConfigError",
    "DeletedObject",
    "EmailAddress",
    "HandshakeError",
    "IdPOAuthAccessToken",
    "InvalidTokenAuth",
    "Invitation",
    "Jwks",
    "KeyStore",
    "M2MToken",
    "MachineAuth",
    "MachineTokenVerificationError",
    "Organization",
    "OrganizationMembership",
    "OrganizationMembershipPublicUserData",
    "PaginatedResourceResponse",
    "PemKey",
    "PhoneNumber",
    "RequestState",
    "RequestView",
    "RetryPolicy",
    "Session",
    "SessionActivity",
    "Settings",
    "SignedInAuth",
    "SignedOutAuth",
    "TokenVerificationError",
    "User",
    "Verdict",
    "Verification",
    "VerifyOptions",
    "Web3Wallet",
    "__version__",
    "authenticate_request",
    "load_settings",
    "verify_token",
]
