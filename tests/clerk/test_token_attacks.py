"""Hostile and malformed tokens (jwt-attacks §3.1–§3.14): every one is refused with its reason, never a crash.

A token our strict decoding refuses but Clerk's lenient ``decodeJwt`` reads (an empty signature, duplicate members,
an oversized header, invalid UTF-8) is still refused; where Clerk refuses it too, the reason is Clerk's (the last of
duplicate members is the one JavaScript reads), else ``token-invalid``.

The options are the service's own (``AuthenticateOptions.from_settings(...).verify_options``): ``azp``
and ``iss`` pinned to Clerk's fixture instance and ``sid`` required. "Legit-signed" tokens are signed with
Clerk's fixture key, whose public half is the ``mockJwks`` key the verifier holds, so only the named defect can
make them fail. ``must`` and ``should`` cases of the catalogue are held to the same standard here.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import os
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from joserfc import jwe
from joserfc.errors import SecurityWarning
from joserfc.jwk import RSAKey

from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.clerk.tokens import VerifyOptions, verify_session_token
from clerk_authd.config import Settings
from clerk_authd.errors import TokenVerificationError
from clerk_authd.js.values import UNDEFINED
from clerk_authd.reasons import Reason
from clerk_authd.rules.jwt import b64url_decode, peek_jwt
from clerk_authd.testing.mint import TokenMint, b64url
from tests.conftest import FROZEN_NOW
from tests.support import AZP, KID, assert_verified_now_refuses_alike, claims, mock_jwks
from tests.support import ISSUER as ISS

Build = Callable[[TokenMint], str]

INVALID = Reason.TOKEN_INVALID
ALGORITHM = Reason.TOKEN_INVALID_ALGORITHM
SIGNATURE = Reason.TOKEN_INVALID_SIGNATURE
FAILED = Reason.TOKEN_VERIFICATION_FAILED
KID_MISMATCH = Reason.JWK_KID_MISMATCH
PARTIES = Reason.TOKEN_INVALID_AUTHORIZED_PARTIES
ISSUER = Reason.TOKEN_INVALID_ISSUER
EXPIRED = Reason.TOKEN_EXPIRED

LEEWAY_S = 5
HEADER: dict[str, Any] = {"alg": "RS256", "kid": KID, "typ": "JWT"}
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
ATTACKER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_options(**overrides: Any) -> VerifyOptions:
    """The service's verification options for Clerk's fixture instance, at Clerk's frozen clock."""
    settings = Settings(authorized_parties=(AZP,), issuers=(ISS,))
    base = AuthenticateOptions.from_settings(settings).verify_options(mock_jwks(), lambda: FROZEN_NOW)
    return dataclasses.replace(base, **overrides)


# --- builders -------------------------------------------------------------------------------------------------------


def json_b64(value: object) -> str:
    return b64url(orjson.dumps(value))


def legit(header: Mapping[str, Any] | None = None, **claim_overrides: Any) -> Build:
    """Legit-signed RS256: the fixture key signs the given header members (``None`` drops one) and claims."""
    return lambda mint: mint.sign(claims(**claim_overrides), header=header)


def legit_bytes(header: bytes, payload: bytes | None = None) -> Build:
    """Legit-signed RS256 over raw JSON bytes (duplicates, odd encodings)."""
    return lambda mint: mint.sign_bytes(header, payload if payload is not None else orjson.dumps(claims()))


def raw_claim(name: str, literal: bytes) -> Build:
    """Legit-signed claims whose ``name`` is the raw JSON text ``literal`` (NaN, huge integers, ...)."""
    return legit_bytes(
        header_json(), orjson.dumps(claims(**{name: UNDEFINED}))[:-1] + b',"' + name.encode() + b'":' + literal + b"}"
    )


def header_json(**members: Any) -> bytes:
    return orjson.dumps({**HEADER, **members})


def unsigned(header: Mapping[str, Any]) -> Build:
    """A token with the given header, Clerk-shaped claims and an empty signature segment (``h.p.``)."""
    return lambda mint: f"{json_b64(header)}.{json_b64(claims())}."


def mac(secret: Callable[[TokenMint], bytes], alg: str = "HS256", header: Mapping[str, Any] | None = None) -> Build:
    """HMAC-signed: the attacker's guess at what a confused verifier would use as the secret."""
    digests = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}

    def build(mint: TokenMint) -> str:
        signing_input = f"{json_b64({**HEADER, 'alg': alg, **(header or {})})}.{json_b64(claims())}"
        tag = hmac.new(secret(mint), signing_input.encode(), digests[alg]).digest()
        return f"{signing_input}.{b64url(tag)}"

    return build


def public_form(encoding: serialization.Encoding, fmt: serialization.PublicFormat) -> Callable[[TokenMint], bytes]:
    return lambda mint: mint.private_key.public_key().public_bytes(encoding, fmt)


def modulus(mint: TokenMint) -> int:
    return mint.private_key.public_key().public_numbers().n


def key_bytes(mint: TokenMint) -> int:
    return (modulus(mint).bit_length() + 7) // 8


def foreign_signature(alg: str, sign: Callable[[bytes], bytes]) -> Build:
    """A token for ``alg`` with the legit kid, signed by ``sign`` (an attacker's key)."""

    def build(mint: TokenMint) -> str:
        signing_input = f"{json_b64({**HEADER, 'alg': alg})}.{json_b64(claims())}"
        return f"{signing_input}.{b64url(sign(signing_input.encode()))}"

    return build


def es256_attacker(message: bytes) -> bytes:
    r, s = decode_dss_signature(ec.generate_private_key(ec.SECP256R1()).sign(message, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def resigned(transform: Callable[[bytes, TokenMint], bytes]) -> Build:
    """A legit token whose signature bytes are replaced by ``transform(signature, mint)``."""

    def build(mint: TokenMint) -> str:
        head, payload, signature = mint.sign(claims()).split(".")
        return f"{head}.{payload}.{b64url(transform(b64url_decode(signature), mint))}"

    return build


def as_signature(value: Callable[[TokenMint], int]) -> Build:
    """A legit header and payload carrying the integer ``value(mint)`` as a k-byte signature."""
    return resigned(lambda _, mint: value(mint).to_bytes(key_bytes(mint), "big"))


def unreduced_but_fitting(mint: TokenMint) -> str:
    """``s + n`` still fitting in k bytes: the nasty "signature ≥ n" case, found by varying ``jti``."""
    n, k = modulus(mint), key_bytes(mint)
    for attempt in range(256):
        head, payload, signature = mint.sign(claims(jti=str(attempt))).split(".")
        value = int.from_bytes(b64url_decode(signature), "big") + n
        if value < 1 << (8 * k):
            return f"{head}.{payload}.{b64url(value.to_bytes(k, 'big'))}"
    raise AssertionError("no signature small enough to add n and still fit")


def raw_rsa(encoded_message: Callable[[bytes, int], bytes]) -> Build:
    """Sign a hand-built PKCS#1 encoded message EM by raw RSA (``m^d mod n``) with the legit private key.

    The self-check recovers ``s^e mod n`` and compares it with EM, so the case tests exactly the padding named.
    """

    def build(mint: TokenMint) -> str:
        signing_input = f"{json_b64(HEADER)}.{json_b64(claims())}"
        numbers = mint.private_key.private_numbers()
        n, e, k = numbers.public_numbers.n, numbers.public_numbers.e, key_bytes(mint)
        em = encoded_message(hashlib.sha256(signing_input.encode()).digest(), k)
        assert len(em) == k
        signature = pow(int.from_bytes(em, "big"), numbers.d, n)
        assert pow(signature, e, n) == int.from_bytes(em, "big")
        return f"{signing_input}.{b64url(signature.to_bytes(k, 'big'))}"

    return build


def emsa(t: bytes, k: int, *, block: bytes = b"\x00\x01", filler: int = 0xFF, trailer: bytes = b"") -> bytes:
    """``block ‖ PS ‖ 00 ‖ T ‖ trailer`` filling k bytes: EMSA-PKCS1-v1_5 when called with the defaults."""
    return block + bytes([filler]) * (k - 3 - len(t) - len(trailer)) + b"\x00" + t + trailer


def replace_segment(index: int, change: Callable[[str], str]) -> Build:
    """A legit token with one segment rewritten textually (the signature stays the old one)."""

    def build(mint: TokenMint) -> str:
        parts = mint.sign(claims()).split(".")
        parts[index] = change(parts[index])
        return ".".join(parts)

    return build


def legit_segments(header_segment: Callable[[str], str]) -> Build:
    """Legit-signed over a header segment rewritten textually (padding, alphabet): the signature matches the text."""
    return lambda mint: mint.sign_segments(header_segment(json_b64(header_with_b64url_specials())), json_b64(claims()))


def header_with_b64url_specials() -> dict[str, Any]:
    """A header whose base64url text contains ``-`` or ``_`` and needs padding, so both variants apply."""
    for attempt in range(12):
        header = {**HEADER, "x": "a" * attempt + "???"}
        text = json_b64(header)
        if ("-" in text or "_" in text) and len(text) % 4:
            return header
    raise AssertionError("no header with both properties")


def std_alphabet(text: str) -> str:
    return text.replace("-", "+").replace("_", "/")


def padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def signature_with_specials(mint: TokenMint) -> str:
    """A legit token whose signature has ``-`` or ``_``, rewritten to the standard alphabet."""
    for attempt in range(256):
        head, payload, signature = mint.sign(claims(jti=str(attempt))).split(".")
        if "-" in signature or "_" in signature:
            return f"{head}.{payload}.{std_alphabet(signature)}"
    raise AssertionError("no signature with - or _")


def dirty_trailing_bits(signature: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return signature[:-1] + alphabet[alphabet.index(signature[-1]) | 1]


def five_parts(header: Mapping[str, Any]) -> Build:
    """A JWE-shaped compact token (5 segments) with the given protected header and random parts."""
    return lambda mint: ".".join([json_b64(header), *(b64url(os.urandom(32)) for _ in range(4))])


def real_jwe(alg: str, enc: str) -> Build:
    """A real JWE encrypted to the service's public key, carrying attacker claims."""

    def build(mint: TokenMint) -> str:
        key = RSAKey.import_key(mint.public_pem)
        registry = jwe.JWERegistry(algorithms=[alg, enc])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)  # RSA1_5 is deprecated: that is the point
            return jwe.encrypt_compact(
                {"alg": alg, "enc": enc, "kid": KID}, orjson.dumps(claims(sub="user_attacker")), key, registry=registry
            )

    return build


def self_signed_certificate() -> str:
    """An attacker's self-signed certificate, DER in standard base64 as ``x5c`` carries it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ATTACKER_RSA.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(ATTACKER_RSA, hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def attacker_signed(header: Mapping[str, Any]) -> Build:
    """RS256 signed by the attacker's own key (the one an embedded ``jwk`` would name)."""
    attacker = TokenMint(ATTACKER_RSA, "attacker")
    return lambda mint: attacker.sign(claims(), header=header)


def randomly_signed(header: bytes, payload: bytes | None = None) -> Build:
    """Raw header and payload bytes with a random 256-byte signature (for inputs no signer should see)."""
    body = payload if payload is not None else orjson.dumps(claims())
    return lambda mint: f"{b64url(header)}.{b64url(body)}.{b64url(os.urandom(256))}"


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# --- the catalogue ----------------------------------------------------------------------------------------------


def case(case_id: str, build: Build, reason: str, **overrides: Any) -> Any:
    return pytest.param(build, overrides, reason, id=case_id)


ATTACKER_JWK = TokenMint(ATTACKER_RSA, "attacker").jwk
PEM = public_form(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

ATTACKS: list[Any] = [
    # §3.1 alg none, all casings
    *(
        case(f"3.1 alg {alg} empty signature", unsigned({**HEADER, "alg": alg}), ALGORITHM)
        for alg in ("none", "None", "NONE", "nOnE")
    ),
    case("3.1 alg none with a valid RS256 signature", legit({"alg": "none"}), ALGORITHM),
    case("3.1 alg escaped \\u006eone", legit_bytes(b'{"alg":"\\u006eone","kid":"' + KID.encode() + b'"}'), ALGORITHM),
    # §3.2 algorithm confusion: HS* keyed with the public key in every form
    case("3.2 HS256 key=PEM SPKI", mac(PEM), ALGORITHM),
    case("3.2 HS256 key=PEM SPKI without final newline", mac(lambda m: PEM(m).rstrip(b"\n")), ALGORITHM),
    case(
        "3.2 HS256 key=PEM PKCS#1",
        mac(public_form(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)),
        ALGORITHM,
    ),
    case(
        "3.2 HS256 key=DER SPKI",
        mac(public_form(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)),
        ALGORITHM,
    ),
    case(
        "3.2 HS256 key=DER PKCS#1",
        mac(public_form(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)),
        ALGORITHM,
    ),
    case(
        "3.2 HS256 key=OpenSSH",
        mac(public_form(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)),
        ALGORITHM,
    ),
    case("3.2 HS256 key=JWK as served", mac(lambda m: orjson.dumps(m.jwk)), ALGORITHM),
    case("3.2 HS256 key=JWK sorted", mac(lambda m: orjson.dumps(m.jwk, option=orjson.OPT_SORT_KEYS)), ALGORITHM),
    case("3.2 HS256 key=n string", mac(lambda m: m.jwk["n"].encode()), ALGORITHM),
    case("3.2 HS256 key=raw modulus", mac(lambda m: modulus(m).to_bytes(key_bytes(m), "big")), ALGORITHM),
    case("3.2 HS384 key=PEM", mac(PEM, "HS384"), ALGORITHM),
    case("3.2 HS512 key=PEM", mac(PEM, "HS512"), ALGORITHM),
    case("3.2 HS256 empty key", mac(lambda m: b""), ALGORITHM),
    *(
        case(f"3.2 {alg} signed by the legit key", lambda m, a=alg: m.sign(claims(), alg=a), ALGORITHM)
        for alg in ("PS256", "PS384", "PS512")
    ),
    case("3.2 RS384 (should)", lambda m: m.sign(claims(), alg="RS384"), FAILED),
    case("3.2 RS512 (should)", lambda m: m.sign(claims(), alg="RS512"), FAILED),
    case(
        "3.2 header RS256, PSS signature", lambda m: m.sign(claims(), header={"alg": "RS256"}, alg="PS256"), SIGNATURE
    ),
    case(
        "3.2 header RS256, PKCS#1 over SHA-384",
        lambda m: m.sign(claims(), header={"alg": "RS256"}, alg="RS384"),
        SIGNATURE,
    ),
    case(
        "3.2 header RS256, PKCS#1 over SHA-512",
        lambda m: m.sign(claims(), header={"alg": "RS256"}, alg="RS512"),
        SIGNATURE,
    ),
    case("3.2 ES256 by an attacker key", foreign_signature("ES256", es256_attacker), ALGORITHM),
    case("3.2 ES256 psychic signature", foreign_signature("ES256", lambda _: bytes(64)), ALGORITHM),
    case(
        "3.2 EdDSA by an attacker key", foreign_signature("EdDSA", ed25519.Ed25519PrivateKey.generate().sign), ALGORITHM
    ),
    *(
        case(f"3.2 alg {label} with a valid RS256 signature", legit({"alg": alg}), ALGORITHM)
        for label, alg in (
            ("missing", None),
            ("empty", ""),
            ("list", ["RS256"]),
            ("number", 256),
            ("lowercase", "rs256"),
            ("trailing space", "RS256 "),
            ("trailing NUL", "RS256\u0000"),
            ("homoglyph", "RЅ256"),
            ("fullwidth", "ＲＳ２５６"),
        )
    ),
    case(
        "3.2 alg null with a valid RS256 signature",
        legit_bytes(b'{"alg":null,"kid":"' + KID.encode() + b'"}'),
        ALGORITHM,
    ),
    # §3.3 signature value, length, encoding
    case("3.3 empty signature", replace_segment(2, lambda s: ""), SIGNATURE),
    case("3.3 missing third segment", lambda m: m.sign(claims()).rsplit(".", 1)[0], INVALID),
    case("3.3 one bit flipped", resigned(lambda s, m: bytes([s[0] ^ 1]) + s[1:]), SIGNATURE),
    case("3.3 last byte dropped", resigned(lambda s, m: s[:-1]), SIGNATURE),
    case("3.3 00 prepended", resigned(lambda s, m: b"\x00" + s), SIGNATURE),
    case("3.3 00 appended", resigned(lambda s, m: s + b"\x00"), SIGNATURE),
    case(
        "3.3 s + n, k+1 bytes",
        resigned(lambda s, m: (int.from_bytes(s, "big") + modulus(m)).to_bytes(key_bytes(m) + 1, "big")),
        SIGNATURE,
    ),
    case("3.3 s + n fitting in k bytes", unreduced_but_fitting, SIGNATURE),
    case("3.3 s = 0", as_signature(lambda m: 0), SIGNATURE),
    case("3.3 s = 1", as_signature(lambda m: 1), SIGNATURE),
    case("3.3 s = n - 1", as_signature(lambda m: modulus(m) - 1), SIGNATURE),
    case("3.3 s = n", as_signature(modulus), SIGNATURE),
    case("3.3 random k bytes", resigned(lambda s, m: os.urandom(len(s))), SIGNATURE),
    case("3.3 random 128 bytes", resigned(lambda s, m: os.urandom(128)), SIGNATURE),
    case("3.3 one byte", resigned(lambda s, m: b"\x01"), SIGNATURE),
    case(
        "3.3 payload changed, old signature",
        lambda m: ".".join([*m.sign(claims(sub="user_admin")).split(".")[:2], m.sign(claims()).split(".")[2]]),
        SIGNATURE,
    ),
    case(
        "3.3 header re-serialized with whitespace",
        replace_segment(0, lambda h: b64url(b'{ "alg": "RS256", "kid": "' + KID.encode() + b'", "typ": "JWT" }')),
        SIGNATURE,
    ),
    # §3.4 malformed PKCS#1 v1.5 encodings, signed by raw RSA
    case(
        "3.4 pkcs1.ber_long_length",
        raw_rsa(lambda d, k: emsa(bytes.fromhex("308131300d060960864801650304020105000420") + d, k)),
        SIGNATURE,
    ),
    case(
        "3.4 pkcs1.wrong_hash_oid",
        raw_rsa(lambda d, k: emsa(bytes.fromhex("3031300d060960864801650304020305000420") + d, k)),
        SIGNATURE,
    ),
    case("3.4 pkcs1.no_digestinfo", raw_rsa(emsa), SIGNATURE),
    case(
        "3.4 pkcs1.trailing_garbage",
        raw_rsa(lambda d, k: emsa(SHA256_DIGEST_INFO + d, k, trailer=b"\xab" * 16)),
        SIGNATURE,
    ),
    case(
        "3.4 pkcs1.block_type_2",
        raw_rsa(lambda d, k: emsa(SHA256_DIGEST_INFO + d, k, block=b"\x00\x02", filler=0x5A)),
        SIGNATURE,
    ),
    case("3.4 pkcs1.ps_not_ff", raw_rsa(lambda d, k: emsa(SHA256_DIGEST_INFO + d, k, filler=0xFE)), SIGNATURE),
    case(
        "3.4 pkcs1.missing_null (should)",
        raw_rsa(lambda d, k: emsa(bytes.fromhex("302f300b06096086480165030402010420") + d, k)),
        SIGNATURE,
    ),
    # §3.5 base64url strictness
    case("3.5 = padding on the signature", replace_segment(2, padded), INVALID),
    case("3.5 = padding on the header", legit_segments(padded), INVALID),
    case("3.5 standard alphabet in the signature", signature_with_specials, INVALID),
    case("3.5 standard alphabet in the header", legit_segments(std_alphabet), INVALID),
    case("3.5 non-zero trailing bits in the signature", replace_segment(2, dirty_trailing_bits), INVALID),
    case("3.5 space inside the signature", replace_segment(2, lambda s: s[:10] + " " + s[10:]), INVALID),
    case("3.5 space inside the payload", replace_segment(1, lambda p: p[:10] + " " + p[10:]), INVALID),
    case("3.5 ! inside the header", replace_segment(0, lambda h: h[:10] + "!" + h[10:]), INVALID),
    # §3.6 compact-serialization shape
    case("3.6 two segments", lambda m: ".".join(m.sign(claims()).split(".")[:2]), INVALID),
    case("3.6 four segments, trailing dot", lambda m: m.sign(claims()) + ".", INVALID),
    case("3.6 four segments", lambda m: m.sign(claims()) + ".foo", INVALID),
    case("3.6 empty header", replace_segment(0, lambda h: ""), INVALID),
    case("3.6 ..", lambda m: "..", INVALID),
    case("3.6 ...", lambda m: "...", INVALID),
    case("3.6 a single word", lambda m: "token", INVALID),
    case("3.6 10 001 segments", lambda m: ".".join(["eyJ9"] * 10_001), INVALID),
    case("3.6 empty payload, signed", lambda m: m.sign_segments(json_b64(HEADER), ""), INVALID),
    case("3.6 dots replaced by U+2024", lambda m: m.sign(claims()).replace(".", "\u2024"), INVALID),
    case(
        "3.6 JSON serialization",
        lambda m: orjson.dumps(
            dict(zip(("protected", "payload", "signature"), m.sign(claims()).split("."), strict=True))
        ).decode(),
        INVALID,
    ),
    case(
        "3.6 JSON serialization, unprotected alg none",
        lambda m: orjson.dumps({"header": {"alg": "none"}, "payload": json_b64(claims()), "signature": ""}).decode(),
        INVALID,
    ),
    case(
        "3.6 CVE-2022-39227 polyglot",
        lambda m: orjson.dumps(
            {
                f"{json_b64(HEADER)}.{json_b64(claims(sub='user_admin'))}.": "",
                **dict(zip(("protected", "payload", "signature"), m.sign(claims()).split("."), strict=True)),
            }
        ).decode(),
        INVALID,
    ),
    # §3.7 kid injection, traversal, unicode, types
    *(
        case(f"3.7 kid {label}", legit({"kid": kid}), KID_MISMATCH)
        for label, kid in (
            ("unknown", "ins_unknown"),
            ("empty", ""),
            ("legit + U+200B", KID + "\u200b"),
            ("fullwidth legit", "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in KID)),
            ("trailing space", KID + " "),
            ("NUL then traversal", "\x00../../x"),
            ("missing (should)", None),
            ("case-swapped (should)", KID.swapcase()),
            ("0", 0),
            ("true", True),
            ("list", [KID]),
            ("object", {"kid": KID}),
            ("path traversal", "../../../../../../etc/passwd"),
            ("SQL-ish", "' OR '1'='1"),
            ("URL", "http://127.0.0.1:9/key.pem"),
            ("command |sleep", "|sleep 5"),
            ("command $()", "$(sleep 5)"),
            ("command backticks", "`sleep 5`"),
        )
    ),
    case("3.7 kid 4096 characters (over the header size limit)", legit({"kid": "k" * 4096}), KID_MISMATCH),
    case("3.7 kid null", legit_bytes(b'{"alg":"RS256","kid":null}'), KID_MISMATCH),
    case(
        "3.7 HS256 kid=/dev/null, empty key", mac(lambda m: b"", header={"kid": "../../../../dev/null"}), KID_MISMATCH
    ),
    case("3.7 HS256 kid=..\\..\\NUL, empty key", mac(lambda m: b"", header={"kid": "..\\..\\NUL"}), KID_MISMATCH),
    case(
        "3.7 HS256 kid=randomize_va_space, key 2",
        mac(lambda m: b"2\n", header={"kid": "/proc/sys/kernel/randomize_va_space"}),
        KID_MISMATCH,
    ),
    case(
        "3.7 HS256 kid=UNION SELECT",
        mac(lambda m: b"probe-secret", header={"kid": "x' UNION SELECT 'probe-secret' -- "}),
        KID_MISMATCH,
    ),
    # §3.8 key-carrying headers
    case("3.8 jku, attacker kid", legit({"jku": "http://127.0.0.1:9/jwks.json", "kid": "attacker"}), INVALID),
    case("3.8 jku, legit kid", legit({"jku": "http://127.0.0.1:9/jwks.json"}), INVALID),
    case("3.8 x5u", legit({"x5u": "http://127.0.0.1:9/cert.pem"}), INVALID),
    case("3.8 embedded jwk, attacker kid", attacker_signed({"jwk": ATTACKER_JWK, "kid": "attacker"}), INVALID),
    case("3.8 embedded jwk, legit kid", attacker_signed({"jwk": ATTACKER_JWK, "kid": KID}), INVALID),
    case(
        "3.8 embedded symmetric jwk + HS256",
        mac(lambda m: b"attacker-secret", header={"jwk": {"kty": "oct", "k": b64url(b"attacker-secret")}}),
        INVALID,
    ),
    case("3.8 x5c self-signed", lambda m: m.sign(claims(), header={"x5c": [self_signed_certificate()]}), INVALID),
    # §3.9 other header parameters, duplicates, header JSON
    case("3.9 crit probe-ext present", legit({"crit": ["probe-ext"], "probe-ext": 1}), INVALID),
    case("3.9 crit [exp]", legit({"crit": ["exp"]}), INVALID),
    case("3.9 crit as a string", legit({"crit": "exp"}), INVALID),
    case("3.9 crit [] (should)", legit({"crit": []}), INVALID),
    case(
        "3.9 b64 false, RFC 7797 (should)",
        lambda m: m.sign_segments(
            json_b64({**HEADER, "b64": False, "crit": ["b64"]}), orjson.dumps(claims()).decode().replace(".", "\\u002e")
        ),
        INVALID,
    ),
    case("3.9 typ at+jwt (should)", legit({"typ": "at+jwt"}), INVALID),
    case("3.9 cty JWT (should)", legit({"cty": "JWT"}), INVALID),
    case("3.9 enc in a 3-segment token (should)", legit({"enc": "A256GCM"}), INVALID),
    case("3.9 zip (should)", legit({"zip": "DEF"}), INVALID),
    case("3.9 alg RS256 then none", legit_bytes(header_json()[:-1] + b',"alg":"none"}'), ALGORITHM),
    case("3.9 kid legit then unknown", legit_bytes(header_json()[:-1] + b',"kid":"ins_unknown"}'), KID_MISMATCH),
    case("3.9 alg none then RS256 (should)", legit_bytes(b'{"alg":"none",' + header_json()[1:]), INVALID),
    case("3.9 kid unknown then legit (should)", legit_bytes(b'{"kid":"ins_unknown",' + header_json()[1:]), INVALID),
    case("3.9 header is an array", legit_bytes(b'["RS256"]'), INVALID),
    case("3.9 header is bare text", legit_bytes(b"RS256"), INVALID),
    case("3.9 header is invalid UTF-8", legit_bytes(b'{"alg":"RS256","kid":"\xff\xfe"}'), KID_MISMATCH),
    case("3.9 header with a BOM (should)", legit_bytes(b"\xef\xbb\xbf" + header_json()), INVALID),
    case(
        "3.9 header nested 2500 deep, random signature",
        randomly_signed(b'{"alg":"RS256","x":' + nested(2500) + b"}"),
        INVALID,
    ),
    case("3.9 6 KiB header, legit-signed (should)", legit({"pad": "a" * 6144}), INVALID),
    # §3.10 JWE and nested tokens
    case("3.10 JWE RSA-OAEP/A256GCM to our key", real_jwe("RSA-OAEP", "A256GCM"), INVALID),
    case("3.10 JWE RSA1_5/A128CBC-HS256 to our key", real_jwe("RSA1_5", "A128CBC-HS256"), INVALID),
    case(
        "3.10 JWE PBES2 p2c 2147483647",
        five_parts({"alg": "PBES2-HS256+A128KW", "enc": "A128GCM", "p2c": 2_147_483_647, "p2s": "AAAAAAAAAAA"}),
        INVALID,
    ),
    case("3.10 JWE dir + zip DEF", five_parts({"alg": "dir", "enc": "A128GCM", "zip": "DEF"}), INVALID),
    case("3.10 JWE header in a 3-segment RS256 token", legit({"alg": "RS256", "enc": "A256GCM", "kid": KID}), INVALID),
    case(
        "3.10 cty JWT around an alg-none token (should)",
        lambda m: m.sign_segments(json_b64({**HEADER, "cty": "JWT"}), b64url(unsigned({"alg": "none"})(m).encode())),
        INVALID,
    ),
    # §3.11 time claims
    case("3.11 exp missing", legit(exp=UNDEFINED), FAILED),
    case("3.11 exp now - leeway - 60", legit(exp=FROZEN_NOW - LEEWAY_S - 60), EXPIRED),
    case("3.11 exp 0", legit(exp=0), EXPIRED),
    case("3.11 exp -1", legit(exp=-1), EXPIRED),
    case("3.11 exp numeric string", legit(exp=str(int(FROZEN_NOW) + 60)), FAILED),
    case("3.11 exp true", legit(exp=True), FAILED),
    case("3.11 exp null", legit(exp=None), FAILED),
    case("3.11 exp [future]", legit(exp=[FROZEN_NOW + 60]), FAILED),
    case(
        "3.11 exp NaN literal",
        raw_claim("exp", b"NaN"),
        INVALID,
    ),
    case(
        "3.11 exp Infinity literal",
        raw_claim("exp", b"Infinity"),
        INVALID,
    ),
    case(
        "3.11 exp 1e400",
        raw_claim("exp", b"1e400"),
        INVALID,
    ),
    case("3.11 nbf now + leeway + 60", legit(nbf=FROZEN_NOW + LEEWAY_S + 60), Reason.TOKEN_NOT_ACTIVE_YET),
    case("3.11 nbf string", legit(nbf="1666648240"), FAILED),
    case("3.11 nbf true", legit(nbf=True), FAILED),
    case(
        "3.11 nbf NaN literal",
        raw_claim("nbf", b"NaN"),
        INVALID,
    ),
    case("3.11 iat now + leeway + 60", legit(iat=FROZEN_NOW + LEEWAY_S + 60), Reason.TOKEN_IAT_IN_THE_FUTURE),
    case("3.11 iat string", legit(iat="1666648250"), FAILED),
    case("3.11 iat true", legit(iat=True), FAILED),
    case(
        "3.11 iat NaN literal",
        raw_claim("iat", b"NaN"),
        INVALID,
    ),
    case("3.11 exp 10**30 (should)", raw_claim("exp", str(10**30).encode()), FAILED),
    case("3.11 exp 2**64 + now (should)", raw_claim("exp", str(2**64 + int(FROZEN_NOW)).encode()), FAILED),
    case("3.11 exp 1e308 (should)", legit(exp=1e308), FAILED),
    case("3.11 exp 253402300799 under a lifetime cap (should)", legit(exp=253402300799), FAILED, max_lifetime_s=3600),
    case(
        "3.11 30-day lifetime under a lifetime cap (should)",
        legit(exp=FROZEN_NOW + 30 * 86400),
        FAILED,
        max_lifetime_s=3600,
    ),
    # §3.12 identity claims
    *(
        case(f"3.12 azp {label}", legit(azp=azp), PARTIES)
        for label, azp in (
            ("mismatch", "https://evil.example"),
            ("missing", UNDEFINED),
            ("null", None),
            ("empty", ""),
            ("trailing slash", AZP + "/"),
            ("evil suffix", AZP + ".evil.example"),
            ("userinfo", AZP + "@evil.example"),
            ("list", [AZP]),
            ("Cyrillic homoglyph", AZP.replace("a", "а", 1)),
            ("upper-cased (should)", AZP.upper()),
        )
    ),
    *(
        case(f"3.12 iss {label}", legit(iss=iss), ISSUER)
        for label, iss in (
            ("mismatch", "https://clerk.evil.example"),
            ("missing", UNDEFINED),
            ("evil suffix", ISS + ".evil.example"),
            ("truncated", ISS[:-1]),
            ("list", [ISS]),
            ("trailing slash (should)", ISS + "/"),
        )
    ),
    *(
        case(f"3.12 sub {label}", legit(sub=sub), FAILED)
        for label, sub in (
            ("missing", UNDEFINED),
            ("123", 123),
            ("null", None),
            ("list", ["user_1"]),
            ("empty (should)", ""),
        )
    ),
    *(
        case(f"3.12 sid {label}", legit(sid=sid), FAILED)
        for label, sid in (("missing", UNDEFINED), ("1", 1), ("empty (should)", ""))
    ),
    # §3.13 claims JSON and duplicate claims
    case("3.13 exp future then past", legit_bytes(header_json(), orjson.dumps(claims())[:-1] + b',"exp":0}'), EXPIRED),
    case(
        "3.13 azp good then evil",
        legit_bytes(header_json(), orjson.dumps(claims())[:-1] + b',"azp":"https://evil.example"}'),
        PARTIES,
    ),
    case(
        "3.13 exp past then future (should)",
        legit_bytes(header_json(), b'{"exp":0,' + orjson.dumps(claims())[1:]),
        INVALID,
    ),
    case(
        "3.13 azp evil then good (should)",
        legit_bytes(header_json(), b'{"azp":"https://evil.example",' + orjson.dumps(claims())[1:]),
        INVALID,
    ),
    case(
        "3.13 two sub values (should)",
        legit_bytes(header_json(), orjson.dumps(claims())[:-1] + b',"sub":"user_admin"}'),
        INVALID,
    ),
    *(
        case(f"3.13 payload {label}", legit_bytes(header_json(), payload), INVALID)
        for label, payload in (
            ("hello", b"hello"),
            ("[]", b"[]"),
            ('"x"', b'"x"'),
            ("1", b"1"),
            ("null", b"null"),
            ("trailing garbage", orjson.dumps(claims()) + b"garbage"),
            ("single-quoted", orjson.dumps(claims()).replace(b'"', b"'")),
            ("invalid UTF-8", orjson.dumps(claims())[:-1] + b',"x":"\xc3\x28"}'),
            ("BOM (should)", b"\xef\xbb\xbf" + orjson.dumps(claims())),
            ("lone surrogate (should)", orjson.dumps(claims())[:-1] + b',"x":"\\ud800"}'),
            ("2500 arrays deep (should)", orjson.dumps(claims())[:-1] + b',"x":' + nested(2500) + b"}"),
        )
    ),
    # §3.14 size
    case(
        "3.14 64 KiB header member, random signature",
        randomly_signed(header_json(x="a" * 65536)),
        INVALID,
    ),
    case(
        "3.14 1 MiB payload",
        randomly_signed(header_json(), orjson.dumps(claims(x="a" * 1048576))),
        INVALID,
    ),
]


@pytest.mark.parametrize(("build", "overrides", "reason"), ATTACKS)
async def test_a_hostile_token_is_refused_with_its_reason(
    fixture_mint: TokenMint, build: Build, overrides: dict[str, Any], reason: str
) -> None:
    """The verifier raises ``TokenVerificationError`` (never another exception) with the expected reason,
    and its message never contains the token; verified at once, as the service's lanes verify, alike."""
    token = build(fixture_mint)
    opts = service_options(**overrides)
    with pytest.raises(TokenVerificationError) as caught:
        await verify_session_token(token, opts)
    assert caught.value.reason == reason
    assert token not in caught.value.message
    decoded = peek_jwt(token)
    if decoded is not None:  # what the service's lanes verify at once is refused alike
        assert_verified_now_refuses_alike(decoded, opts, caught.value)


@pytest.mark.parametrize("member", ["jku", "x5u", "jwk", "x5c"])
async def test_a_key_carrying_header_never_reaches_the_key_source(fixture_mint: TokenMint, member: str) -> None:
    """A token naming its own key or key URL is refused before any key is looked up, so nothing is fetched."""
    keys = mock_jwks()
    token = fixture_mint.sign(claims(), header={member: "http://127.0.0.1:9/attacker"})
    with pytest.raises(TokenVerificationError):
        await verify_session_token(token, service_options(keys=keys))
    assert keys.requested == []


@pytest.mark.parametrize("build", [legit_bytes(b"A" * 70_000), lambda m: "a." * 40_000 + "a"])
async def test_an_oversized_token_is_refused_without_echoing_it(fixture_mint: TokenMint, build: Build) -> None:
    """An oversized input gets a short, fixed message: nothing of it is amplified into logs or headers."""
    with pytest.raises(TokenVerificationError) as caught:
        await verify_session_token(build(fixture_mint), service_options())
    assert caught.value.reason == INVALID
    assert len(caught.value.message) < 100


async def test_the_controls_pass_under_the_same_options(fixture_mint: TokenMint) -> None:
    """A legit token, one built by the raw-RSA helper with a correct EM, and leeway-edge times all verify,
    so every rejection above is caused by its defect and not by the setup."""
    opts = service_options()
    await verify_session_token(legit()(fixture_mint), opts)
    await verify_session_token(raw_rsa(lambda d, k: emsa(SHA256_DIGEST_INFO + d, k))(fixture_mint), opts)
    await verify_session_token(legit(exp=FROZEN_NOW - LEEWAY_S / 2)(fixture_mint), opts)
    await verify_session_token(legit(nbf=FROZEN_NOW + LEEWAY_S / 2)(fixture_mint), opts)
    await verify_session_token(legit(exp=FROZEN_NOW + 60.5)(fixture_mint), service_options(max_lifetime_s=3600))
