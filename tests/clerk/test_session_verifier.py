"""The cached verify's hand-over: a token the service's lanes verified at once is not verified again by the full
decision of the same request, whatever the outcome, and nothing handed over outlives that request."""

from __future__ import annotations

import pytest

from clerk_authd.clerk.cache import VerifiedTokenCache
from clerk_authd.clerk.session_verifier import HANDED_OVER_FOR_S, HANDED_OVER_MAX, SessionVerifier
from clerk_authd.clerk.tokens import VerifyOptions
from clerk_authd.errors import TokenVerificationError
from clerk_authd.reasons import Reason
from clerk_authd.rules.cached_verdict import CachedVerdict
from clerk_authd.rules.jwt import decode_jwt
from clerk_authd.testing.mint import TokenMint
from tests.conftest import FROZEN_NOW
from tests.support import JwksResolver, claims, mock_jwks


class Clock:
    """A clock the test moves on."""

    def __init__(self) -> None:
        self.now = FROZEN_NOW

    def __call__(self) -> float:
        return self.now


def verifier(keys: JwksResolver, clock: Clock, cache_size: int = 10) -> SessionVerifier:
    cache: VerifiedTokenCache[CachedVerdict] | None = VerifiedTokenCache(cache_size) if cache_size else None
    return SessionVerifier(VerifyOptions(keys=keys, clock=clock), cache, clock)


def forged(mint: TokenMint) -> str:
    """A token of the right key id and claims whose signature is not the key's."""
    return TokenMint.generate(kid=mint.kid).sign(claims())


async def test_a_refusal_found_at_once_is_the_full_decisions_without_a_second_verification(
    fixture_mint: TokenMint,
) -> None:
    keys, clock = mock_jwks(), Clock()
    sessions = verifier(keys, clock)
    token = forged(fixture_mint)
    assert sessions.verified_now(token, decode_jwt(token)) is None
    with pytest.raises(TokenVerificationError) as caught:
        await sessions.verify(token, decode_jwt(token))
    assert caught.value.reason == Reason.TOKEN_INVALID_SIGNATURE
    assert len(keys.requested) == 1, "the full decision looked the key up again"


async def test_a_verdict_handed_over_is_taken_and_cached_as_verify_caches_it(fixture_mint: TokenMint) -> None:
    """A lane that declines a verified session (a pending one, an unmet requirement) hands its verdict over."""
    keys, clock = mock_jwks(), Clock()
    sessions = verifier(keys, clock)
    token = fixture_mint.sign(claims())
    verdict = sessions.verified_now(token, decode_jwt(token))
    assert verdict is not None
    assert sessions.cached(token, clock()) is None, "verified at once is not yet cached"
    sessions.hand_over(token, verdict)
    assert await sessions.verify(token) is verdict
    assert sessions.cached(token, clock()) is verdict
    assert len(keys.requested) == 1


async def test_a_verdict_kept_counts_the_miss_the_full_decision_would_count(fixture_mint: TokenMint) -> None:
    cache: VerifiedTokenCache[CachedVerdict] = VerifiedTokenCache(10)
    clock = Clock()
    sessions = SessionVerifier(VerifyOptions(keys=mock_jwks(), clock=clock), cache, clock)
    token = fixture_mint.sign(claims())
    verdict = sessions.verified_now(token, decode_jwt(token))
    assert verdict is not None
    sessions.keep(token, verdict)
    assert (cache.hits, cache.misses, sessions.cached(token, clock(), counted=False)) == (0, 1, verdict)


async def test_a_hand_over_is_taken_once_and_only_while_it_holds(fixture_mint: TokenMint) -> None:
    keys, clock = mock_jwks(), Clock()
    sessions = verifier(keys, clock, cache_size=0)
    token = forged(fixture_mint)
    assert sessions.verified_now(token, decode_jwt(token)) is None
    clock.now += HANDED_OVER_FOR_S + 0.001
    with pytest.raises(TokenVerificationError):
        await sessions.verify(token)
    assert len(keys.requested) == 2, "an outcome older than the request it was handed over for was taken"
    with pytest.raises(TokenVerificationError):
        await sessions.verify(token)
    assert len(keys.requested) == 3, "a hand-over was taken twice"


async def test_hand_overs_are_bounded_the_oldest_dropped_first(fixture_mint: TokenMint) -> None:
    """Outcomes nobody takes (a connection closed before Sanic read its request) cannot pile up."""
    keys, clock = mock_jwks(), Clock()
    sessions = verifier(keys, clock, cache_size=0)
    impostor = TokenMint.generate(kid=fixture_mint.kid)
    tokens = [impostor.sign(claims(sid=f"sess_{i}")) for i in range(HANDED_OVER_MAX + 1)]
    for token in tokens:
        assert sessions.verified_now(token, decode_jwt(token)) is None
    assert len(keys.requested) == len(tokens)
    with pytest.raises(TokenVerificationError):
        await sessions.verify(tokens[-1])
    assert len(keys.requested) == len(tokens), "the newest hand-over was dropped"
    with pytest.raises(TokenVerificationError):
        await sessions.verify(tokens[0])
    assert len(keys.requested) == len(tokens) + 1, "the oldest hand-over outlived the bound"


async def test_one_token_handed_over_by_many_requests_is_taken_by_each(fixture_mint: TokenMint) -> None:
    """Many connections sending one forged token in the same moment: each lane's refusal is one request's, so each
    full decision takes one, and none verifies the token again."""
    keys, clock = mock_jwks(), Clock()
    sessions = verifier(keys, clock, cache_size=0)
    token = forged(fixture_mint)
    for _ in range(3):
        assert sessions.verified_now(token, decode_jwt(token)) is None
    for _ in range(3):
        with pytest.raises(TokenVerificationError):
            await sessions.verify(token)
    assert len(keys.requested) == 3
    with pytest.raises(TokenVerificationError):
        await sessions.verify(token)
    assert len(keys.requested) == 4, "more refusals were taken than were handed over"
