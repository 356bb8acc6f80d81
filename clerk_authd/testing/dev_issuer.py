"""Development mode: an embedded issuer so the service runs, and can be tried, without a Clerk account.

``clerk-authd serve --dev`` starts a ``FakeClerk`` in a background thread (its JWKS and Backend API on a
loopback port) and configures the service against it; ``clerk-authd dev-token`` signs tokens it accepts.
The two run in different processes, so the signing key is kept in a per-user state directory
(``$CLERK_AUTHD_DEV_STATE``, else ``$XDG_CACHE_HOME/clerk-authd``, else ``~/.cache/clerk-authd``) and
created on first use. A development key must never meet a production instance: ``--dev`` refuses to start
when a live key is configured.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization

from clerk_authd.errors import ConfigError
from clerk_authd.testing.fake_clerk import (
    DEFAULT_FRONTEND_API,
    DEFAULT_PUBLISHABLE_KEY,
    DEFAULT_SECRET_KEY,
    FakeClerk,
    FakeClerkThread,
)
from clerk_authd.testing.mint import TokenMint, session_claims

DEV_KID: Final = "ins_dev_clerk_authd"
DEV_ISSUER: Final = f"https://{DEFAULT_FRONTEND_API}"
DEFAULT_AZP: Final = "http://localhost:3000"
_KEY_FILE: Final = "dev-key.pem"
#: variables ``--dev`` replaces: the instance becomes the embedded issuer, whatever was configured
_CLEARED: Final = ("CLERK_JWT_KEY", "CLERK_PROXY_URL", "CLERK_DOMAIN", "CLERK_IS_SATELLITE", "CLERK_MACHINE_SECRET_KEY")


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where development state lives for this user."""
    env = os.environ if environ is None else environ
    if env.get("CLERK_AUTHD_DEV_STATE"):
        return Path(env["CLERK_AUTHD_DEV_STATE"])
    cache_home = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return cache_home / "clerk-authd"


def dev_mint(directory: Path) -> TokenMint:
    """The development signing key from ``directory``, generated (owner-only) on first use.

    Two processes may race to create it; the file is written aside and linked into place, so both end up
    with the same key and neither ever reads a half-written file.
    """
    path = directory / _KEY_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = (
            TokenMint.generate(kid=DEV_KID)
            .private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            .decode("ascii")
        )
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".dev-key-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(pem)
            with contextlib.suppress(FileExistsError):  # another process won the race: use its key
                os.link(temp, path)
        finally:
            os.unlink(temp)
    return TokenMint.from_pem(path.read_text("ascii"), DEV_KID)


def refuse_live_keys(source: Mapping[str, str]) -> None:
    """Stop ``--dev`` when a production (``sk_live_`` / ``pk_live_``) key is configured anywhere."""
    live = [
        name
        for name, prefix in (("CLERK_SECRET_KEY", "sk_live_"), ("CLERK_PUBLISHABLE_KEY", "pk_live_"))
        if source.get(name, "").strip().startswith(prefix)
    ]
    if live:
        raise ConfigError([f"{name}: --dev refuses to run with a live key configured; unset it" for name in live])


class DevIssuer:
    """The embedded development issuer: a FakeClerk signing with the persisted development key."""

    def __init__(self, directory: Path) -> None:
        self.mint = dev_mint(directory)
        self._thread = FakeClerkThread(FakeClerk(mint=self.mint))
        self.url = ""

    def start(self) -> str:
        """Start serving the JWKS and Backend API; returns its URL."""
        self.url = self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop the issuer's thread."""
        self._thread.stop()

    def overrides(self) -> dict[str, str]:
        """The variables that point the service at this issuer (they win over the environment and .env)."""
        return dev_variables(self.mint, api_url=self.url)


def dev_variables(mint: TokenMint, *, api_url: str | None) -> dict[str, str]:
    """The configuration of the development instance: through its Backend API at ``api_url``, or, without
    one, networkless with the development key's public half as ``CLERK_JWT_KEY``."""
    variables = {
        **dict.fromkeys(_CLEARED, ""),
        "CLERK_PUBLISHABLE_KEY": DEFAULT_PUBLISHABLE_KEY,
        "CLERK_SECRET_KEY": DEFAULT_SECRET_KEY,
        "CLERK_AUTHD_ISSUER": "derive",
    }
    if api_url is None:
        variables["CLERK_JWT_KEY"] = mint.public_pem
    else:
        variables["CLERK_API_URL"] = api_url
    return variables


def dev_token(
    mint: TokenMint,
    *,
    user: str = "user_dev",
    session: str = "sess_dev",
    org: str | None = None,
    role: str | None = None,
    permissions: tuple[str, ...] = (),
    ttl_s: int = 3600,
    azp: str = DEFAULT_AZP,
    claims: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> str:
    """A session token of the development instance (v2 claims); ``claims`` are merged over the defaults."""
    payload = session_claims(
        user_id=user,
        session_id=session,
        issuer=DEV_ISSUER,
        azp=azp,
        ttl_s=ttl_s,
        now=time.time() if now is None else now,
        org_id=org,
        org_role=role,
        org_permissions=permissions,
        extra=claims,
    )
    return mint.sign(payload)


def parse_claims(text: str) -> dict[str, Any]:
    """``--claims``: a JSON object, or ``ValueError`` saying why not."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--claims is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError("--claims must be a JSON object")
    return value
