"""Which keys we verify with: the per-key JWKS policy and the networkless PEM key (jwt-attacks §1, §3.16)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from clerk_authd.errors import TokenVerificationError
from clerk_authd.rules.keys import PemKey, UnusableKeyError, import_jwk
from clerk_authd.rules.pem import PemKeyError, load_rsa_public_key
from clerk_authd.testing.mint import b64url, public_jwk
from tests.conftest import FIXTURES

GOOD = FIXTURES["mockJwks"]["keys"][0]


def _rsa_jwk(bits: int = 2048, exponent: int = 65537) -> dict[str, Any]:
    return public_jwk(rsa.generate_private_key(public_exponent=exponent, key_size=bits).public_key(), "k")


def _raw_rsa_jwk(n: int, e: int) -> dict[str, Any]:
    as_b64 = lambda v: b64url(v.to_bytes((v.bit_length() + 7) // 8, "big"))  # noqa: E731 - local shorthand
    return {"kty": "RSA", "kid": "k", "n": as_b64(n), "e": as_b64(e)}


def test_clerks_fixture_key_is_accepted() -> None:
    """``mockJwks``' key passes the policy and keeps its kid."""
    assert import_jwk(GOOD).kid == GOOD["kid"]


@pytest.mark.parametrize(
    ("jwk", "why"),
    [
        ("not a dict", "not a JSON object"),
        ({**GOOD, "kid": ""}, "kid"),
        ({**GOOD, "kid": 7}, "kid"),
        ({k: v for k, v in GOOD.items() if k != "kid"}, "kid"),
        ({"kty": "oct", "kid": "k", "k": "c2VjcmV0"}, "kty"),
        ({**GOOD, "use": "enc"}, "use"),
        ({**GOOD, "alg": "PS256"}, "alg"),
        ({**GOOD, "alg": "RS512"}, "alg"),
        ({**GOOD, "key_ops": ["encrypt"]}, "key_ops"),
        ({**GOOD, "key_ops": "verify"}, "key_ops"),
        ({**GOOD, "d": "AQAB"}, "private"),
        ({**GOOD, "n": "!!!"}, "."),
    ],
)
def test_keys_outside_the_policy_are_refused(jwk: Any, why: str) -> None:
    """Anything but an RS256 signature key with a string kid is refused, saying why."""
    with pytest.raises(UnusableKeyError, match=why):
        import_jwk(jwk)


def test_weak_rsa_keys_are_refused() -> None:
    """Under 2048 bits (1024, 2040) or a small/even exponent (3, 1) cannot be trusted for RS256."""
    weak_n = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_numbers().n
    strong_n = int.from_bytes(b"\xc1" + b"\x01" * 255, "big")  # any 2048-bit odd modulus will do for e checks
    for jwk in (
        _raw_rsa_jwk(weak_n, 65537),
        _raw_rsa_jwk(int.from_bytes(b"\xc1" + b"\x01" * 254, "big") | 1, 65537),  # 2040 bits
        _raw_rsa_jwk(strong_n, 3),
        _raw_rsa_jwk(strong_n, 1),
        _raw_rsa_jwk(strong_n, 65538),
    ):
        with pytest.raises(UnusableKeyError):
            import_jwk(jwk)


def test_larger_rsa_keys_are_fine() -> None:
    """3072-bit keys pass the policy."""
    assert import_jwk({**_rsa_jwk(3072), "kid": "big"}).kid == "big"


def test_a_pem_key_loads_from_full_pem_and_bare_base64() -> None:
    """``CLERK_JWT_KEY`` may be the whole PEM, its base64 body, or the PEM with escaped newlines."""
    full = FIXTURES["pem_to_jwk_test_key_pem"]
    assert (
        load_rsa_public_key(full).public_numbers()
        == load_rsa_public_key(FIXTURES["pem_to_jwk_test_key_bare_base64"]).public_numbers()
    )
    assert load_rsa_public_key(full.replace("\n", "\\n")).key_size == 2048


@pytest.mark.parametrize(
    "text", ["", "   ", "not base64 !!", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"]
)
def test_unparseable_pem_text_is_refused(text: str) -> None:
    """Text that is not a public key raises ``PemKeyError``."""
    with pytest.raises(PemKeyError):
        load_rsa_public_key(text)


def test_a_non_rsa_pem_is_refused() -> None:
    """Clerk signs with RS256, so an EC key cannot be the networkless key."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - only this test needs it

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(PemKeyError, match="not an RSA key"):
        load_rsa_public_key(pem)


async def test_the_pem_key_ignores_the_tokens_kid() -> None:
    """Like Clerk's jwtKey, the configured key verifies whatever kid the token names."""
    key = PemKey(FIXTURES["signing_public_key_spki_pem"])
    assert (await key.get_key("anything")).key is (await key.get_key(None)).key


def test_an_empty_pem_key_is_clerks_missing_local_jwk() -> None:
    """No key text at all is Clerk's ``jwk-local-missing``."""
    with pytest.raises(TokenVerificationError) as caught:
        PemKey("")
    assert (caught.value.reason, caught.value.message) == ("jwk-local-missing", "Missing local JWK.")
