"""What a cached verdict keeps (its payload as JSON) and the recent claims it is read back through."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from clerk_authd.errors import TokenVerificationError
from clerk_authd.rules.cached_verdict import CachedVerdict, RecentClaims
from clerk_authd.rules.claims import SessionClaims, parse_session_claims
from clerk_authd.rules.jwt import strict_json_object

#: JSON values as orjson parses them: its integers are 64-bit, its floats finite, its strings valid Unicode
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def session(user: str) -> SessionClaims:
    """The claims of a session of ``user``."""
    return parse_session_claims({"sub": user, "sid": f"sess_{user}", "exp": 1_700_000_060})


def payload_json(claims: SessionClaims) -> bytes:
    """What a verdict of ``claims`` keeps."""
    return CachedVerdict.of(claims, valid_from=0, expires_at=1, key_kid=None, kid=None).payload_json


@given(extra=st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=6))
def test_the_payload_read_back_from_its_json_is_the_verified_one(extra: dict[str, Any]) -> None:
    """Whatever a verified payload holds (any claims orjson parsed), the verdict's JSON parses back to an equal
    payload with its claims in their order, and the claims parsed from it equal the verified token's."""
    payload = orjson.loads(orjson.dumps({"sub": "user_1", **extra}))
    try:
        claims = parse_session_claims(payload)
    except TokenVerificationError:
        reject()  # a payload Clerk's auth object refuses is never cached
    kept = payload_json(claims)
    assert orjson.loads(kept) == payload
    assert list(orjson.loads(kept)) == list(payload)
    assert RecentClaims(1).get(kept).claims == claims


def test_recent_claims_keep_the_most_recently_read_up_to_their_size() -> None:
    """Beyond its size, the payload read least recently goes first, and a read counts as recent; a payload that
    went is parsed again, to equal claims."""
    recent = RecentClaims(2)
    claims = {name: session(name) for name in ("a", "b", "c")}
    texts = {name: orjson.dumps(value.raw) for name, value in claims.items()}
    recent.keep(texts["a"], claims["a"])
    recent.keep(texts["b"], claims["b"])
    assert recent.get(texts["a"]).claims is claims["a"]
    recent.keep(texts["c"], claims["c"])
    assert len(recent) == 2
    assert recent.get(texts["a"]).claims is claims["a"]
    assert recent.get(texts["c"]).claims is claims["c"]
    parsed = recent.get(texts["b"])
    assert parsed.claims is not claims["b"]
    assert parsed.claims == claims["b"]
    assert len(recent) == 2
    assert recent.get(texts["b"]) is parsed
    assert recent.reparsed == 1


def test_a_verdicts_claims_are_the_ones_it_was_made_with_while_they_are_recent() -> None:
    """The claims a verdict is made from are the ones it gives back (no parse), with the identity lines rendered
    once for them."""
    claims = session("a")
    verdict = CachedVerdict.of(claims, valid_from=0, expires_at=1, key_kid="k", kid="k")
    assert verdict.claims is claims
    assert verdict.payload is claims.raw
    renders: list[object] = []
    block = verdict.identity_block(lambda identity: renders.append(identity) or b"x-clerk-user-id: user_a\r\n")
    assert verdict.identity_block(lambda identity: b"never") is block
    assert len(renders) == 1


def test_a_payload_nested_deeper_than_orjson_writes_is_kept_and_read_back() -> None:
    """A verified payload may nest deeper than orjson serializes (254 levels); its verdict is still made, and
    its JSON reads back to the same payload and claims."""
    depth = 300
    raw = b'{"sub":"user_1","deep":' + b"[" * depth + b"]" * depth + b"}"
    payload = strict_json_object(raw)
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(payload)
    claims = parse_session_claims(payload)
    kept = payload_json(claims)
    assert orjson.loads(kept) == payload
    assert RecentClaims(1).get(kept).claims == claims
