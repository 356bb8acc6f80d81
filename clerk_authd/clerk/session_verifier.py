"""The cached verify, the hot path's one home: a verified session token's verdict, from the cache or verified.

A verified session token is cached (``cache.VerifiedTokenCache``) until its ``exp`` plus the clock skew, keyed by
a digest of the token: a hit skips decoding and signature checks. Only tokens that passed the type guards are
cached, so a hit may skip them too; expired tokens miss and take the full path. Past ``usable_until`` (the key
set went stale: Clerk unreachable for ``CLERK_AUTHD_JWKS_STALE_S``) every lookup misses, so cached verdicts fail
closed together with fresh ones.

The service's lanes verify a token the cache does not know without awaiting anything when its key is at hand
(``verified_now``). A lane that answers keeps the verdict (``keep``); one that leaves the request to the full
decision hands the outcome over (``hand_over``), and the ``verify`` that decision makes for the same token
takes it instead of verifying again: a token is verified once per request, whichever path decides it.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from clerk_authd.clerk.cache import VerifiedTokenCache
from clerk_authd.clerk.tokens import (
    VerifiedToken,
    VerifyOptions,
    clock_skew_ms,
    verify_decoded_session_now,
    verify_session_token,
)
from clerk_authd.rules.auth import signed_in_auth
from clerk_authd.rules.cached_verdict import CachedVerdict, header_kid
from clerk_authd.rules.jwt import DecodedJwt

log = logging.getLogger(__name__)

#: outcomes handed over by a lane and not yet taken: at most this many, each for at most ``HANDED_OVER_FOR_S``
HANDED_OVER_MAX: Final = 256
#: a lane hands an outcome over to the request it is deciding right now; the full decision of that request
#: takes it within a few event-loop turns, and a later request with the same token is verified afresh
HANDED_OVER_FOR_S: Final = 1.0


@dataclass(slots=True)
class _HandedOver:
    """What ``verified_now`` found for one token, until when it holds, and how many requests will take it (many
    connections may send one token in the same moment, a forged one included)."""

    outcome: CachedVerdict | Exception
    until: float
    takers: int = 1


class SessionVerifier:
    """Verifies session tokens with one set of ``verifyToken`` options, through the verified-token cache."""

    def __init__(
        self, verify_options: VerifyOptions, cache: VerifiedTokenCache[CachedVerdict] | None, clock: Callable[[], float]
    ) -> None:
        self._verify_options = verify_options
        self._cache = cache
        self.clock = clock
        self._skew_s = clock_skew_ms(verify_options.clock_skew_ms) / 1000
        #: ``RequestState.cache_hit`` for a session token the cache was asked about and did not know
        self.missed: bool | None = False if cache is not None else None
        #: on ``clock``: when the keys behind the cached verdicts stop being usable (the key store moves it on)
        self.usable_until = math.inf
        #: by token: what ``verified_now`` found (a verdict or the verification's error), and until when it holds
        self._handed_over: dict[str, _HandedOver] = {}

    @property
    def caches(self) -> bool:
        """Whether a verified token is kept (``CLERK_AUTHD_CACHE_SIZE`` > 0)."""
        return self._cache is not None

    def cached(self, token: str, now: float, *, counted: bool = True) -> CachedVerdict | None:
        """The cached verdict of ``token`` while it is valid at ``now`` and the keys behind it are usable.

        ``counted`` ``False`` leaves the cache's hit and miss counts to the caller (``VerifiedTokenCache.get``).
        """
        if self._cache is None or now > self.usable_until:
            return None
        verdict = self._cache.get(token, now, counted=counted)
        return verdict if verdict is not None and now >= verdict.valid_from else None

    def verified_payload(self, token: str) -> Mapping[str, Any] | None:
        """The payload ``token`` had when it verified, if the cache still keeps its verdict (expired or not: the
        payload of a token that verified is what any decoding of it gives); the cache's order and counts are left
        as they were (the recent claims may take the payload in, ``cached_verdict.RecentClaims``)."""
        verdict = self._cache.peek(token) if self._cache is not None else None
        return verdict.payload if verdict is not None else None

    def count_hit(self) -> None:
        """Count a hit that an uncounted ``cached`` found and its caller answered with."""
        if self._cache is not None:
            self._cache.count_hit()

    async def verify(self, token: str, decoded: DecodedJwt | None = None) -> CachedVerdict:
        """``verifyToken`` plus the signed-in object (which can still refuse a malformed ``fea``), cached.

        ``decoded`` is the token's ``peek_jwt``, when the caller has it, so the token is not decoded again. An
        outcome a lane handed over for ``token`` is taken instead (``hand_over``).
        """
        handed = self._take_handed_over(token)
        if handed is not None and self.clock() <= handed.until:
            outcome = handed.outcome
            if isinstance(outcome, Exception):
                raise outcome
            self._put(token, outcome)
            return outcome
        return self.remember(token, await verify_session_token(token, self._verify_options, decoded))

    def verified_now(self, token: str, decoded: DecodedJwt) -> CachedVerdict | None:
        """``verify``'s verdict for ``token`` (``decoded``: its strict ``peek_jwt``) when nothing has to be awaited
        for it (its key at hand, ``verify_decoded_session_now``), not yet cached: the caller keeps it or hands it
        over. ``None`` when the key is not at hand, or when the verification failed (its error is handed over)."""
        try:
            verified = verify_decoded_session_now(decoded, self._verify_options)
            return self._verdict(token, verified) if verified is not None else None
        except Exception as error:  # as verify's caller would see it; the full decision maps it to Clerk's reason
            self.hand_over(token, error)
            return None

    def keep(self, token: str, verdict: CachedVerdict) -> None:
        """Cache ``verdict``, found by ``verified_now`` and answered with, counting the cache's miss as the full
        decision counts it."""
        if self._cache is not None:
            self._cache.count_miss()
        self._put(token, verdict)

    def hand_over(self, token: str, outcome: CachedVerdict | Exception) -> None:
        """Keep ``verified_now``'s outcome for the full decision of the same request (``verify`` takes it)."""
        until = self.clock() + HANDED_OVER_FOR_S
        handed = self._handed_over
        kept = handed.get(token)
        if kept is not None:
            kept.outcome, kept.until, kept.takers = outcome, until, kept.takers + 1
            return
        if len(handed) >= HANDED_OVER_MAX:
            del handed[next(iter(handed))]
        handed[token] = _HandedOver(outcome, until)

    def _take_handed_over(self, token: str) -> _HandedOver | None:
        """The outcome handed over for ``token``, if any, counted as taken once."""
        handed = self._handed_over.get(token)
        if handed is not None:
            handed.takers -= 1
            if not handed.takers:
                del self._handed_over[token]
        return handed

    def remember(self, token: str, verified: VerifiedToken) -> CachedVerdict:
        """The verdict of a token that passed ``verifyToken``, cached when the cache is on.

        Split from ``verify`` so the benchmark can measure what the cache keeps per token without signing a
        hundred thousand tokens first (``loadtests/memory.py``).
        """
        verdict = self._verdict(token, verified)
        self._put(token, verdict)
        return verdict

    def _verdict(self, token: str, verified: VerifiedToken) -> CachedVerdict:
        payload = verified.payload
        starts = [math.trunc(payload[name]) for name in ("nbf", "iat") if name in payload]
        key_kid = sys.intern(verified.kid) if verified.kid is not None else None
        return CachedVerdict.of(
            signed_in_auth(payload, token).claims,
            valid_from=math.ceil(max(starts) * 1000 - self._skew_s * 1000) / 1000 if starts else -math.inf,
            expires_at=math.trunc(payload["exp"]) + self._skew_s,
            key_kid=key_kid,
            kid=key_kid if key_kid is not None else header_kid(token),
        )

    def _put(self, token: str, verdict: CachedVerdict) -> None:
        if self._cache is not None:
            self._cache.put(token, verdict, now=self.clock())
