"""Token classification reads tokens as Clerk's lenient ``decodeJwt`` does (clerk-semantics §18 "Classification")."""

from __future__ import annotations

import orjson

from clerk_authd.rules.tokentypes import has_non_session_jwt_category, is_m2m_jwt, is_machine_token
from clerk_authd.testing.mint import TokenMint, b64url


def padded_token(mint: TokenMint, header: dict[str, object], payload: dict[str, object]) -> str:
    """Signed as sent, with base64 padding on its payload segment (which Clerk's decoding reads)."""
    bodies = (b64url(orjson.dumps({**payload, "x": "a" * n})) for n in range(4))
    body = next(segment for segment in bodies if len(segment) % 4)
    head = b64url(orjson.dumps({"alg": "RS256", "typ": "JWT", **header}))
    return mint.sign_segments(head, body + "=" * (-len(body) % 4))


def test_a_category_is_read_from_a_padded_token(fixture_mint: TokenMint) -> None:
    """A padded JWT-template or M2M token still names its category: Clerk's ``token-type-mismatch``, not a decoding
    failure that sends it on to session verification."""
    assert has_non_session_jwt_category(padded_token(fixture_mint, {"cat": "cl_B7d4PD222AAA"}, {"sub": "user_1"}))
    assert has_non_session_jwt_category(padded_token(fixture_mint, {"cat": "cl_B7d4PD333AAA"}, {"sub": "mch_1"}))
    assert not has_non_session_jwt_category(padded_token(fixture_mint, {"cat": "cl_B7d4PD111AAA"}, {"sub": "u"}))


def test_machine_jwts_must_look_like_jwts_first(fixture_mint: TokenMint) -> None:
    """Clerk's JWT regex has no ``=``: a padded M2M JWT is no machine token (then ``cat`` decides), an unpadded one is,
    and a duplicate ``sub`` is read as JavaScript reads it, the last one winning."""
    assert not is_machine_token(padded_token(fixture_mint, {}, {"sub": "mch_1"}))
    duplicate = b64url(b'{"sub":"user_1","sub":"mch_1"}')
    assert is_m2m_jwt(fixture_mint.sign_segments(b64url(b'{"alg":"RS256"}'), duplicate))
