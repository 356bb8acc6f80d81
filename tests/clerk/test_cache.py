"""The verified-token cache: LRU bound, expiry re-checked on every hit, key retirement, no token text kept."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from clerk_authd.clerk.cache import PURGE_PER_PUT, VerifiedTokenCache, token_digest

NOW = 1_666_648_250.0


@dataclass(frozen=True)
class Kept:
    """A value as the cache keeps one: what it is, the key it rests on, and until when it holds."""

    name: object
    key_kid: str | None
    expires_at: float


def named(value: Kept | None) -> object:
    """What a kept value is, ``None`` for none."""
    return value.name if value is not None else None


def test_a_stored_verdict_is_returned_while_it_is_valid() -> None:
    """A verdict put for a token comes back for the same token and counts as a hit."""
    cache: VerifiedTokenCache[Kept] = VerifiedTokenCache(10)
    cache.put("token-a", Kept("alice", "k1", NOW + 60), now=NOW)
    assert named(cache.get("token-a", NOW)) == "alice"
    assert (cache.hits, cache.misses) == (1, 0)


def test_an_unknown_token_is_a_miss() -> None:
    """A token never stored misses and counts as a miss."""
    cache: VerifiedTokenCache[Kept] = VerifiedTokenCache(10)
    cache.put("token-a", Kept("alice", "k1", NOW + 60), now=NOW)
    assert cache.get("token-b", NOW) is None
    assert (cache.hits, cache.misses) == (0, 1)


def test_expiry_is_rechecked_on_every_hit() -> None:
    """An entry is served strictly before ``expires_at``; at that instant it is dropped and misses."""
    cache: VerifiedTokenCache[Kept] = VerifiedTokenCache(10)
    cache.put("token-a", Kept("alice", "k1", NOW + 60), now=NOW)
    assert named(cache.get("token-a", NOW + 59.999)) == "alice"
    assert cache.get("token-a", NOW + 60) is None
    assert len(cache) == 0
    assert cache.get("token-a", NOW) is None, "an expired entry is gone, not merely hidden"
    assert (cache.hits, cache.misses) == (1, 2)


def test_the_least_recently_used_entry_is_evicted_first() -> None:
    """At capacity, a new entry evicts the entry used least recently, and a hit counts as a use."""
    cache: VerifiedTokenCache[Kept] = VerifiedTokenCache(2)
    cache.put("t1", Kept(1, "k", NOW + 60), now=NOW)
    cache.put("t2", Kept(2, "k", NOW + 60), now=NOW)
    assert named(cache.get("t1", NOW)) == 1
    cache.put("t3", Kept(3, "k", NOW + 60), now=NOW)
    assert len(cache) == 2
    assert cache.get("t2", NOW) is None
    assert named(cache.get("t1", NOW)) == 1
    assert named(cache.get("t3", NOW)) == 3


def test_a_peek_reads_a_kept_verdict_and_changes_nothing() -> None:
    """``peek`` returns what is kept for a token, expired or not, without a count, a change to the recency
    order, or dropping the expired one: at capacity, the entry peeked last is still the first evicted."""
    cache: VerifiedTokenCache[Kept] = VerifiedTokenCache(2)
    cache.put("t1", Kept(1, "k", NOW + 1), now=NOW)
    cache.put("t2", Kept(2, "k", NOW + 60), now=NOW)
    assert (named(cache.peek("t2")), named(cache.peek("t1")), named(cache.peek("t3"))) == (2, 1, None)  # t1 peeked last
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (0, 0)
    cache.put("t3", Kept(3, "k", NOW + 60), now=NOW)
    assert (named(cache.peek("t1")), named(cache.peek("t2")), named(cache.peek("t3"))) == (None, 2, 3)
    assert VerifiedTokenCache[Kept](0).peek("t1") is None


def test_putting_the_same_token_again_replaces_its_entry() -> None:
    """A second put for one token replaces the verdict and its expiry without growing the cache."""
    cache: VerifiedTokenCache[Kept] = VerifiedTokenCache(2)
    cache.put("t1", Kept("old", "k", NOW + 1), now=NOW)
    cache.put("t1", Kept("new", "k", NOW + 60), now=NOW)
    assert len(cache) == 1
    assert named(cache.get("t1", NOW + 30)) == "new"


def test_a_put_drops_expired_entries_from_the_least_recently_used_end() -> None:
    """Each put first drops up to ``PURGE_PER_PUT`` entries that have expired, oldest use first, so dead verdicts
    do not wait for the cache to fill; it stops at the first live one."""
    cache: VerifiedTokenCache[Kept] = VerifiedTokenCache(10)
    for name, lifetime in (("dead-1", 10), ("dead-2", 10), ("dead-3", 10), ("live", 60), ("dead-4", 10)):
        cache.put(name, Kept(name, "k", NOW + lifetime), now=NOW)
    cache.put("new-1", Kept("new-1", "k", NOW + 60), now=NOW + 30)
    assert len(cache) == 6 - PURGE_PER_PUT
    cache.put("new-2", Kept("new-2", "k", NOW + 60), now=NOW + 30)
    assert len(cache) == 4, "dead-3 went; the live entry stopped the purge before dead-4"
    assert [named(cache.get(name, NOW + 30)) for name in ("live", "new-1", "new-2")] == ["live", "new-1", "new-2"]
    assert cache.get("dead-4", NOW + 30) is None


def test_size_zero_disables_the_cache() -> None:
    """With ``max_size`` 0, put stores nothing and every get misses."""
    cache: VerifiedTokenCache[Kept] = VerifiedTokenCache(0)
    cache.put("token-a", Kept("alice", "k1", NOW + 60), now=NOW)
    assert len(cache) == 0
    assert cache.get("token-a", NOW) is None
    assert (cache.hits, cache.misses) == (0, 1)


def test_a_negative_size_is_refused() -> None:
    """A negative size is a programming error, not "unbounded"."""
    with pytest.raises(ValueError, match="max_size"):
        VerifiedTokenCache(-1)


def test_drop_kids_forgets_the_verdicts_of_retired_keys_only() -> None:
    """``drop_kids`` removes entries verified by the named kids, keeps the rest, and says how many went."""
    cache: VerifiedTokenCache[Kept] = VerifiedTokenCache(10)
    cache.put("t1", Kept("a", "old", NOW + 60), now=NOW)
    cache.put("t2", Kept("b", "old", NOW + 60), now=NOW)
    cache.put("t3", Kept("c", "current", NOW + 60), now=NOW)
    cache.put("t4", Kept("d", None, NOW + 60), now=NOW)
    assert cache.drop_kids(frozenset({"old", "unknown"})) == 2
    assert cache.get("t1", NOW) is None
    assert cache.get("t2", NOW) is None
    assert named(cache.get("t3", NOW)) == "c"
    assert named(cache.get("t4", NOW)) == "d", "a PEM-verified entry (kid None) is never dropped by kid"
    assert cache.drop_kids(frozenset()) == 0


def test_the_token_text_is_never_stored() -> None:
    """Entries are keyed by a 32-byte digest; neither the token nor any segment of it is kept as a key."""
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl"
    cache: VerifiedTokenCache[Kept] = VerifiedTokenCache(10)
    cache.put(token, Kept("alice", "k1", NOW + 60), now=NOW)
    keys = list(cache._entries)  # white-box: the storage itself is what this test is about
    assert keys == [token_digest(token)]
    for key in keys:
        assert isinstance(key, bytes)
        assert len(key) == 32
        for segment in token.split("."):
            assert segment.encode() not in key
    assert token not in repr(cache._entries)


def test_the_digest_separates_tokens_and_survives_odd_text() -> None:
    """Distinct tokens get distinct keys, and text that is not valid UTF-8 still hashes instead of raising."""
    assert token_digest("a.b.c") != token_digest("a.b.d")
    assert len(token_digest("\ud800")) == 32


def test_an_uncounted_look_counts_nothing_until_its_hit_is_counted() -> None:
    """``counted=False`` (the bearer lane's look) finds and misses without counting; ``count_hit`` counts the hit
    its caller answered with."""
    cache: VerifiedTokenCache[Kept] = VerifiedTokenCache(10)
    cache.put("token-a", Kept("alice", "k1", NOW + 60), now=NOW)
    assert named(cache.get("token-a", NOW, counted=False)) == "alice"
    assert cache.get("token-b", NOW, counted=False) is None
    assert (cache.hits, cache.misses) == (0, 0)
    cache.count_hit()
    assert (cache.hits, cache.misses) == (1, 0)
