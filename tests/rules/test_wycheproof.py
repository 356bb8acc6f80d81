"""Project Wycheproof's RSASSA-PKCS1-v1_5 SHA-256 and JWS vectors against our RS256 path (vectors/wycheproof).

We are strict: ``valid`` vectors verify, ``invalid`` and ``acceptable`` ones never do, and a vector whose key our
key policy refuses (``e = 3``, wrong ``use``/``alg``/``key_ops``) counts as rejected.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from clerk_authd.clerk.tokens import VerifyOptions, rs256_signature_is_valid, verify_session_token
from clerk_authd.errors import TokenVerificationError
from clerk_authd.rules.jwt import DecodedJwt, b64url_decode, strict_json_object
from clerk_authd.rules.keys import UnusableKeyError, VerificationKey, import_jwk
from clerk_authd.testing.mint import TokenMint, session_claims
from tests.conftest import DATA_DIR, FROZEN_NOW
from tests.support import JwksResolver

WYCHEPROOF = DATA_DIR / "wycheproof"
RSA_FILES = (
    "rsa_signature_2048_sha256_test.json",
    "rsa_signature_3072_sha256_test.json",
    "rsa_signature_4096_sha256_test.json",
)


@cache
def load(name: str) -> dict[str, Any]:
    """One vector file, parsed once per session."""
    loaded: dict[str, Any] = json.loads((WYCHEPROOF / name).read_text())
    return loaded


def policy_key(jwk: dict[str, Any]) -> VerificationKey | None:
    """The key as the key store would hold it, or ``None`` when our policy refuses it."""
    try:
        return import_jwk(jwk)
    except UnusableKeyError:
        return None


def raw_message(msg_hex: str, sig_hex: str) -> DecodedJwt:
    """A vector's message and signature, in the shape the signature check takes."""
    return DecodedJwt(header={}, payload={}, signing_input=bytes.fromhex(msg_hex), signature=bytes.fromhex(sig_hex))


# --- RSASSA-PKCS1-v1_5 with SHA-256 -------------------------------------------------------------------------------


def _signature_cases() -> list[Any]:
    cases = []
    for name in RSA_FILES:
        for group in load(name)["testGroups"]:
            for test in group["tests"]:
                label = f"{group['keySize']}-e{group['publicKey']['publicExponent']}-tc{test['tcId']}-{test['result']}"
                cases.append(pytest.param(group["keyJwk"], test, id=label))
    return cases


@pytest.mark.parametrize(("jwk", "test"), _signature_cases())
def test_pkcs1_sha256_vector(jwk: dict[str, Any], test: dict[str, Any]) -> None:
    """A vector verifies exactly when Wycheproof calls it ``valid`` and our key policy accepts its key."""
    key = policy_key(jwk)
    verified = key is not None and rs256_signature_is_valid(raw_message(test["msg"], test["sig"]), key)
    assert verified == (test["result"] == "valid" and key is not None)


@pytest.mark.parametrize(("jwk", "test"), _signature_cases())
def test_pkcs1_sha256_vector_without_our_key_policy(jwk: dict[str, Any], test: dict[str, Any]) -> None:
    """The signature check alone agrees with Wycheproof, ``acceptable`` counting as invalid, even for ``e = 3`` keys."""
    key = VerificationKey(kid=None, key=RSAKey.import_key({name: jwk[name] for name in ("kty", "n", "e")}))
    verified = rs256_signature_is_valid(raw_message(test["msg"], test["sig"]), key)
    assert verified == (test["result"] == "valid")


@pytest.mark.parametrize("name", RSA_FILES)
def test_each_file_has_valid_vectors_under_an_accepted_key(name: str) -> None:
    """Our policy accepts each file's e = 65537 key (3072 and 4096 bits included) and refuses its e = 3 keys."""
    verdicts = [
        (group["publicKey"]["publicExponent"], policy_key(group["keyJwk"]) is not None)
        for group in load(name)["testGroups"]
    ]
    assert ("010001", True) in verdicts
    assert all(accepted == (exponent == "010001") for exponent, accepted in verdicts)


# --- JSON Web Signature, through the whole token path ----------------------------------------------------------


def _rsa_groups() -> list[dict[str, Any]]:
    groups = load("json_web_signature_test.json")["testGroups"]
    return [group for group in groups if "n" in group.get("public", {})]


def _jws_cases() -> list[Any]:
    return [
        pytest.param(group["public"], test, id=f"tc{test['tcId']}-{test['comment']}-{test['result']}")
        for group in _rsa_groups()
        for test in group["tests"]
    ]


def _signature_verdict(token: str, key: VerificationKey | None) -> bool:
    """Whether the compact token carries a valid RS256 signature by ``key`` (strictly decoded header)."""
    parts = token.split(".")
    if key is None or len(parts) != 3:
        return False
    try:
        header = strict_json_object(b64url_decode(parts[0]))
        signature = b64url_decode(parts[2])
    except ValueError:
        return False
    decoded = DecodedJwt(header, {}, f"{parts[0]}.{parts[1]}".encode(), signature)
    return header.get("alg") == "RS256" and rs256_signature_is_valid(decoded, key)


@pytest.mark.parametrize(("public", "test"), _jws_cases())
async def test_rsa_keyed_jws_vector(public: dict[str, Any], test: dict[str, Any]) -> None:
    """No vector passes as a session token (none carries a claims set), and its signature verifies exactly
    when it is a ``valid`` RS256 vector under a key our policy accepts."""
    token = test["jws"] if isinstance(test["jws"], str) else json.dumps(test["jws"])
    opts = VerifyOptions(keys=JwksResolver({"keys": [public]}), clock=lambda: FROZEN_NOW)
    with pytest.raises(TokenVerificationError):
        await verify_session_token(token, opts)
    header_alg = _header_alg(token)
    key = policy_key(public)
    assert _signature_verdict(token, key) == (test["result"] == "valid" and header_alg == "RS256" and key is not None)


def _header_alg(token: str) -> object:
    try:
        return strict_json_object(b64url_decode(token.split(".", maxsplit=1)[0])).get("alg")
    except ValueError:
        return None


def _rs256_signing_groups() -> list[Any]:
    return [
        pytest.param(group, id=f"{group['comment']}-{group['public'].get('kid')}")
        for group in _rsa_groups()
        if group["public"].get("alg") == "RS256" and "d" in group["private"]
    ]


@pytest.mark.parametrize("group", _rs256_signing_groups())
async def test_a_session_token_signed_with_a_vector_key_verifies(group: dict[str, Any]) -> None:
    """The same keys that refuse every bad vector accept a Clerk-shaped token their private half signed."""
    numbers = {name: group["private"][name] for name in ("kty", "n", "e", "d", "p", "q", "dp", "dq", "qi")}
    private = RSAKey.import_key(numbers).private_key  # only the numbers: one vector spells key_ops wrongly
    assert isinstance(private, rsa.RSAPrivateKey)
    mint = TokenMint(private, group["public"]["kid"])
    token = mint.sign(session_claims(now=FROZEN_NOW))
    opts = VerifyOptions(keys=JwksResolver({"keys": [group["public"]]}), clock=lambda: FROZEN_NOW)
    verified = await verify_session_token(token, opts)
    assert verified.kid == group["public"]["kid"]
