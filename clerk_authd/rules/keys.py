"""What a verification key is, which keys we accept, and where a token's key comes from.

Two sources implement ``KeyResolver``: ``PemKey`` (``CLERK_JWT_KEY``, networkless) here, and
``keystore.KeyStore`` (the Backend API's JWKS). The verifier only ever sees one resolved ``VerificationKey``,
never a key set, so no library can fall back to "the only key" for a token without a ``kid``
(jwt-attacks §4, check 5).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import RSAKey

from clerk_authd.errors import Action, TokenVerificationError
from clerk_authd.reasons import Reason
from clerk_authd.rules.pem import PemKeyError, check_rsa_strength, load_rsa_public_key


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One RS256 public key, ready for joserfc. ``kid`` is ``None`` for a networkless PEM key.

    ``public_key`` is the ``cryptography`` object joserfc hands out for ``verify`` once it has imported and
    checked the key (``get_op_key`` checks ``use``/``key_ops`` on every call, which cost as much again as the
    RSA arithmetic); ``None`` when joserfc refuses the key for verification, so nothing verifies with it.
    """

    kid: str | None
    key: RSAKey
    public_key: rsa.RSAPublicKey | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            op_key = self.key.get_op_key("verify")
        except JoseError:
            op_key = None
        verifier = op_key if isinstance(op_key, rsa.RSAPublicKey) else None
        object.__setattr__(self, "public_key", verifier)  # derived once, in a frozen object


class KeyResolver(Protocol):
    """Finds the key for a token's ``kid`` or raises ``TokenVerificationError`` with Clerk's reason."""

    async def get_key(self, kid: str | None) -> VerificationKey:
        """The key to verify a token whose header carries ``kid`` (``None`` when absent or not a string)."""
        ...

    def key_now(self, kid: str | None) -> VerificationKey | None:
        """The key ``get_key`` would return at once, without waiting for anything; ``None`` when it would wait
        (a fetch) or raise."""
        ...


class UnusableKeyError(ValueError):
    """A JWKS entry we refuse to verify with (wrong type, weak, not for RS256 signatures)."""


def import_jwk(jwk: Any) -> VerificationKey:
    """Validate one JWKS entry against our key policy and import it.

    Accepted: ``kty`` RSA, a non-empty string ``kid``, at least 2048 bits, an odd exponent >= 65537,
    ``use`` absent or ``sig``, ``alg`` absent or ``RS256``, ``key_ops`` absent or including ``verify``,
    and no private parts. Anything else raises ``UnusableKeyError`` saying why.
    """
    if not isinstance(jwk, dict):
        raise UnusableKeyError("entry is not a JSON object")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise UnusableKeyError("kid is missing or not a string")
    if jwk.get("kty") != "RSA":
        raise UnusableKeyError(f"kty {jwk.get('kty')!r} is not RSA")
    if jwk.get("use", "sig") != "sig":
        raise UnusableKeyError(f"use {jwk.get('use')!r} is not sig")
    if jwk.get("alg", "RS256") != "RS256":
        raise UnusableKeyError(f"alg {jwk.get('alg')!r} is not RS256")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise UnusableKeyError("key_ops does not allow verify")
    if "d" in jwk:
        raise UnusableKeyError("entry carries a private key")
    try:
        with warnings.catch_warnings():
            # joserfc only warns about weak keys; check_rsa_strength below refuses them outright.
            warnings.simplefilter("ignore", SecurityWarning)
            key = RSAKey.import_key({name: value for name, value in jwk.items() if name in ("kty", "n", "e")})
        public = key.raw_value
        if not isinstance(public, rsa.RSAPublicKey):
            raise UnusableKeyError("not an RSA public key")
        check_rsa_strength(public)
    except (JoseError, ValueError, TypeError) as exc:
        raise UnusableKeyError(str(exc) or exc.__class__.__name__) from exc
    return VerificationKey(kid=kid, key=key)


class PemKey:
    """``CLERK_JWT_KEY``: one PEM public key, no network. Like Clerk, the token's ``kid`` is not checked."""

    __slots__ = ("_key",)

    def __init__(self, pem_text: str) -> None:
        if not pem_text.strip():
            raise TokenVerificationError(
                Reason.JWK_LOCAL_MISSING, "Missing local JWK.", Action.SET_CLERK_JWT_KEY, check="key"
            )
        try:
            public_key = load_rsa_public_key(pem_text)
        except PemKeyError as exc:
            raise TokenVerificationError(
                Reason.JWK_LOCAL_MISSING, f"Invalid local JWK: {exc}.", Action.SET_CLERK_JWT_KEY, check="key"
            ) from exc
        self._key = VerificationKey(kid=None, key=RSAKey.import_key(public_key))

    async def get_key(self, kid: str | None) -> VerificationKey:
        """Always the configured key: Clerk ignores the token's kid when jwtKey is set."""
        return self._key

    def key_now(self, kid: str | None) -> VerificationKey:
        """Always the configured key, at hand."""
        return self._key
