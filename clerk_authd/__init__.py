"""clerk_authd: decides who a request is and what it may do, exactly as Clerk's SDK does.

This module is the library's public face (api.md §5): what is named in ``__all__`` is kept stable, everything
else may move between releases. The Sanic SDK is its own module, ``clerk_authd.sanic``, so that importing the
library never imports Sanic.
"""

from clerk_authd.clerk.authenticate import Authenticator, authenticate_request
from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.keystore import KeyStore
from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.clerk.runtime import ClerkRuntime
from clerk_authd.clerk.tokens import VerifyOptions, verify_token
from clerk_authd.config import Settings, load_settings
from clerk_authd.errors import (
    AuthenticateRequestError,
    BackendAPIError,
    ClerkAuthdError,
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
    "Auth",
    "AuthenticateOptions",
    "AuthenticateRequestError",
    "Authenticator",
    "BackendAPIError",
    "ClerkAuthdError",
    "ClerkClient",
    "ClerkRuntime",
    "ConfigError",
    "HandshakeError",
    "InvalidTokenAuth",
    "KeyStore",
    "MachineAuth",
    "MachineTokenVerificationError",
    "PemKey",
    "RequestState",
    "RequestView",
    "Settings",
    "SignedInAuth",
    "SignedOutAuth",
    "TokenVerificationError",
    "Verdict",
    "VerifyOptions",
    "__version__",
    "authenticate_request",
    "load_settings",
    "verify_token",
]
