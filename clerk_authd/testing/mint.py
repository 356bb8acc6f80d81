"""A token mint: signs Clerk-shaped session tokens (v1 and v2 claims) with any header and claims.

Used by the tests (including hostile tokens built byte by byte), by ``serve --dev`` and ``dev-token``, and
by the load tests. It signs with ``cryptography`` directly so a test can produce exactly the bytes it wants.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SignAlg = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWS uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64url(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def public_jwk(key: rsa.RSAPublicKey, kid: str) -> dict[str, str]:
    """The JWK Clerk's ``/v1/jwks`` serves for ``key``."""
    numbers = key.public_numbers()
    return {
        "use": "sig",
        "kty": "RSA",
        "kid": kid,
        "alg": "RS256",
        "n": _int_b64url(numbers.n),
        "e": _int_b64url(numbers.e),
    }


class TokenMint:
    """Signs tokens with one RSA private key under one ``kid``."""

    def __init__(self, private_key: rsa.RSAPrivateKey, kid: str) -> None:
        self.private_key = private_key
        self.kid = kid

    @classmethod
    def generate(cls, kid: str = "ins_dev_clerk_authd", bits: int = 2048) -> TokenMint:
        """A mint with a fresh key (development issuer, tests)."""
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=bits), kid)

    @classmethod
    def from_pem(cls, pem: str, kid: str) -> TokenMint:
        """A mint from a PKCS#8 PEM private key (Clerk's fixture key, for instance)."""
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("the mint signs with RSA keys only")
        return cls(key, kid)

    @property
    def jwk(self) -> dict[str, str]:
        """This mint's public key as a JWKS entry."""
        return public_jwk(self.private_key.public_key(), self.kid)

    @property
    def public_pem(self) -> str:
        """This mint's public key as an SPKI PEM (what ``CLERK_JWT_KEY`` takes)."""
        return (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    def sign_segments(self, header_segment: str, payload_segment: str, alg: SignAlg = "RS256") -> str:
        """Sign already-encoded segments: the hostile tests build odd headers and payloads this way."""
        signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
        hash_cls = _HASHES[alg[2:]]
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if alg.startswith("RS")
            else padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=hash_cls().digest_size)
        )
        signature = self.private_key.sign(signing_input, pad, hash_cls())
        return f"{header_segment}.{payload_segment}.{b64url(signature)}"

    def sign_bytes(self, header_json: bytes, payload_json: bytes, alg: SignAlg = "RS256") -> str:
        """Sign raw JSON bytes (duplicate members, NaN, odd whitespace: whatever the test needs)."""
        return self.sign_segments(b64url(header_json), b64url(payload_json), alg)

    def sign(
        self, claims: Mapping[str, Any], *, header: Mapping[str, Any] | None = None, alg: SignAlg = "RS256"
    ) -> str:
        """Sign ``claims`` under a default ``{alg, kid, typ: JWT}`` header; a ``None`` value drops a member."""
        merged: dict[str, Any] = {"alg": alg, "kid": self.kid, "typ": "JWT", **(header or {})}
        clean = {k: v for k, v in merged.items() if v is not None}
        return self.sign_bytes(orjson.dumps(clean), orjson.dumps(dict(claims)), alg)


def encode_v2_permissions(permissions: Iterable[str]) -> tuple[str, str, str]:
    """Turn ``org:<feature>:<permission>`` strings into Clerk v2's ``(fea, per, fpm)`` claim values."""
    features: dict[str, None] = {}
    names: dict[str, None] = {}
    pairs: list[tuple[str, str]] = []
    for permission in permissions:
        parts = permission.split(":")
        if len(parts) != 3 or parts[0] != "org":
            raise ValueError(f"permission {permission!r} is not org:<feature>:<permission>")
        features.setdefault(parts[1])
        names.setdefault(parts[2])
        pairs.append((parts[1], parts[2]))
    name_list, feature_list = list(names), list(features)
    masks = [0] * len(feature_list)
    for feature, name in pairs:
        masks[feature_list.index(feature)] |= 1 << name_list.index(name)
    return (
        ",".join(f"o:{f}" for f in feature_list),
        ",".join(name_list),
        ",".join(str(m) for m in masks),
    )


def session_claims(
    *,
    user_id: str = "user_dev",
    session_id: str = "sess_dev",
    issuer: str = "https://clerk.authd.localhost",
    azp: str | None = "http://localhost:3000",
    ttl_s: int = 60,
    now: float | None = None,
    org_id: str | None = None,
    org_slug: str | None = None,
    org_role: str | None = None,
    org_permissions: Iterable[str] = (),
    version: Literal[1, 2] = 2,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Claims shaped like a real Clerk session token (v2 by default, v1 on request)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": user_id,
        "sid": session_id,
        "iat": issued,
        "nbf": issued - 10,
        "exp": issued + ttl_s,
    }
    if azp is not None:
        claims["azp"] = azp
    role = org_role.removeprefix("org:") if org_role else None
    if version == 1:
        if org_id:
            claims.update(org_id=org_id, org_slug=org_slug, org_role=f"org:{role}" if role else None)
            claims["org_permissions"] = list(org_permissions)
    else:
        claims["v"] = 2
        if org_id:
            fea, per, fpm = encode_v2_permissions(org_permissions)
            org: dict[str, Any] = {"id": org_id, "rol": role, "per": per, "fpm": fpm}
            if org_slug:
                org["slg"] = org_slug
            claims["o"] = org
            if fea:
                claims["fea"] = fea
    claims.update(extra or {})
    return {k: v for k, v in claims.items() if v is not None}
