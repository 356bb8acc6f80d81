"""Strict decoding of compact JWS: Clerk's messages, stricter inputs (clerk-semantics §14.1, jwt-attacks §1.1)."""

from __future__ import annotations

import pytest

from clerk_authd.errors import TokenVerificationError
from clerk_authd.rules.jwt import (
    MAX_TOKEN_LENGTH,
    MSG_NOT_THREE_PARTS,
    MSG_UNDECODABLE,
    b64url_decode,
    decode_jwt,
    looks_like_jwt,
    peek_jwt,
)
from clerk_authd.testing.mint import b64url
from tests.conftest import FIXTURES

HEADER = b64url(b'{"alg":"RS256","kid":"k","typ":"JWT"}')
PAYLOAD = b64url(b'{"sub":"user_1"}')
SIG = b64url(b"\x01\x02\x03")


def test_clerks_fixture_token_decodes() -> None:
    """``mockJwt`` decodes to Clerk's recorded header and payload."""
    decoded = decode_jwt(FIXTURES["mockJwt"])
    assert decoded.header == FIXTURES["mockJwtHeader"]
    assert decoded.payload == FIXTURES["mockJwtPayload"]
    assert decoded.signing_input == FIXTURES["mockJwt"].rsplit(".", 1)[0].encode()


@pytest.mark.parametrize("token", ["test_header_token", "a.b", "a.b.c.d", "", "Bearer"])
def test_anything_but_three_parts_is_an_invalid_form(token: str) -> None:
    """Clerk's first check: exactly three dot-separated parts."""
    with pytest.raises(TokenVerificationError) as caught:
        decode_jwt(token)
    assert (caught.value.reason, caught.value.message) == ("token-invalid", MSG_NOT_THREE_PARTS)


@pytest.mark.parametrize(
    ("header", "payload", "signature"),
    [
        ("", PAYLOAD, SIG),
        (HEADER, "", SIG),
        (HEADER, PAYLOAD, ""),
        (HEADER + "=", PAYLOAD, SIG),
        (HEADER, PAYLOAD, SIG + "=="),
        (HEADER.replace("J", "+"), PAYLOAD, SIG),
        (HEADER, PAYLOAD, "AQID/w"),
        (HEADER, PAYLOAD, "AQJ"),  # non-zero unused trailing bits
        (HEADER, PAYLOAD + " ", SIG),
        (b64url(b'{"alg":"RS256","alg":"none"}'), PAYLOAD, SIG),
        (HEADER, b64url(b'{"exp":NaN}'), SIG),
        (HEADER, b64url(b'{"exp":Infinity}'), SIG),
        (HEADER, b64url(b'{"exp":1e400}'), SIG),
        (HEADER, b64url(b"\xef\xbb\xbf{}"), SIG),
        (HEADER, b64url(b'{"a":"\\ud800"}'), SIG),
        (HEADER, b64url(b'{"a":"\xff"}'), SIG),
        (HEADER, b64url(b"[]"), SIG),
        (HEADER, b64url(b"null"), SIG),
        (HEADER, b64url(b'"x"'), SIG),
        (HEADER, b64url(b"{}x"), SIG),
        (HEADER, b64url(b"{'a':1}"), SIG),
        (HEADER, b64url(b'{"a":' + b"[" * 2500 + b"]" * 2500 + b"}"), SIG),
        (HEADER, b64url(b'{"a":' + b"[" * 990 + b"]" * 990 + b"}"), SIG),  # deep, just under orjson's limit
        (b64url(b'{"alg":"RS256","pad":"' + b"x" * 1100 + b'"}'), PAYLOAD, SIG),
        (HEADER, b64url(b'{"a":{"b":1,"b":2}}'), SIG),
    ],
)
def test_undecodable_or_non_strict_parts_are_refused(header: str, payload: str, signature: str) -> None:
    """Non-canonical base64url and non-strict JSON get Clerk's decode message, never another exception."""
    with pytest.raises(TokenVerificationError) as caught:
        decode_jwt(f"{header}.{payload}.{signature}")
    assert (caught.value.reason, caught.value.message) == ("token-invalid", MSG_UNDECODABLE)


def test_an_oversized_token_is_refused_before_parsing() -> None:
    """Tokens beyond the size bound never reach base64 or JSON parsing."""
    with pytest.raises(TokenVerificationError, match="could not be decoded"):
        decode_jwt(f"{HEADER}.{'A' * MAX_TOKEN_LENGTH}.{SIG}")


def test_peek_returns_none_instead_of_raising() -> None:
    """``peek_jwt`` is for hints: bad input gives ``None``."""
    assert peek_jwt("nope") is None
    assert peek_jwt(FIXTURES["mockJwt"]) is not None


def test_the_jwt_shape_regex_is_clerks() -> None:
    """Three non-empty base64url-alphabet segments, nothing else."""
    assert looks_like_jwt(FIXTURES["mockJwt"])
    assert not looks_like_jwt("a.b.")
    assert not looks_like_jwt("a.b.c=")
    assert not looks_like_jwt("mt_abc")


def test_b64url_round_trips_canonical_input() -> None:
    """Canonical segments decode; the same bytes re-encode to the same text."""
    assert b64url_decode(b64url(b"\x00\xff\x10")) == b"\x00\xff\x10"
