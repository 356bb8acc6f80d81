"""The package's public face: what ``clerk_authd`` exports, its version, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import clerk_authd

#: the names users may rely on (api.md §5); changing this list is changing the public interface
PUBLIC = {
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
}


def test_all_lists_exactly_the_public_names_and_each_one_resolves() -> None:
    """``__all__`` is the public list, and every name in it is an attribute of the package."""
    assert set(clerk_authd.__all__) == PUBLIC
    assert len(clerk_authd.__all__) == len(PUBLIC)
    for name in clerk_authd.__all__:
        assert getattr(clerk_authd, name) is not None


def test_the_version_is_the_installed_distributions() -> None:
    """``__version__`` comes from the package metadata, so it cannot drift from ``pyproject.toml``."""
    assert clerk_authd.__version__ == version("clerk_authd")


def _modules_after_import(module: str) -> set[str]:
    """``sys.modules`` of a fresh interpreter after ``import <module>``."""
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(result.stdout.split())


def test_the_library_and_the_runtime_do_not_import_sanic() -> None:
    """The framework-free runtime is usable without Sanic: importing it (or the package) loads no Sanic module."""
    for module in ("clerk_authd", "clerk_authd.clerk.runtime", "clerk_authd.cli"):
        loaded = _modules_after_import(module)
        assert not {name for name in loaded if name == "sanic" or name.startswith("sanic.")}, module


def test_python_dash_m_runs_the_command_line() -> None:
    """``python -m clerk_authd --version`` prints the same version as the metadata."""
    result = subprocess.run(
        [sys.executable, "-m", "clerk_authd", "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"clerk-authd {version('clerk_authd')}"
