"""What ``ClerkRuntime.decide`` hands the service: cache result, signing key and identity headers, taken from
the request state and its verdict (no second cache beside the verified-token cache)."""

from __future__ import annotations

import pytest

from clerk_authd.clerk.runtime import ClerkRuntime
from clerk_authd.config import load_settings
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.verdict import render_auth_identity
from clerk_authd.testing.mint import TokenMint
from tests.conftest import FROZEN_NOW
from tests.support import AZP, PK_LIVE, claims


@pytest.fixture(scope="module")
def mint() -> TokenMint:
    """The networkless runtime's signing key."""
    return TokenMint.generate(kid="ins_runtime_test")


@pytest.fixture
def runtime(mint: TokenMint) -> ClerkRuntime:
    """A worker's runtime verifying with ``mint``'s PEM key at Clerk's frozen clock."""
    source = {"CLERK_PUBLISHABLE_KEY": PK_LIVE, "CLERK_JWT_KEY": mint.public_pem, "CLERK_AUTHORIZED_PARTIES": AZP}
    return ClerkRuntime(load_settings(source), clock=lambda: FROZEN_NOW)


def bearer(token: str) -> RequestView:
    """A request carrying ``token`` in ``Authorization``."""
    return RequestView.build("GET", "http://app.example/", [("host", "app.example"), ("authorization", token)])


async def test_a_repeat_is_a_hit_that_reuses_the_rendered_identity(runtime: ClerkRuntime, mint: TokenMint) -> None:
    """The first decision is a miss, the repeat a hit; both log the token's kid and share one rendering of the
    identity headers, which is the renderer's answer for the session."""
    token = mint.sign(claims(sub="user_a", sid="sess_a"))
    first, second = [await runtime.decide(bearer(token)) for _ in range(2)]
    assert (first.cache, second.cache) == ("miss", "hit")
    assert first.kid == second.kid == mint.kid
    assert first.state.verdict is not None
    assert second.state.verdict is first.state.verdict
    assert second.identity_block is first.identity_block
    assert second.identity_block == render_auth_identity(second.auth)
    assert ("x-clerk-user-id", "user_a") in second.identity


async def test_each_session_is_rendered_with_its_own_user_session_and_role(
    runtime: ClerkRuntime, mint: TokenMint
) -> None:
    """Two members of one role and a member of another: each cached verdict's identity lines are its session's
    (user, session, role), exactly what rendering its auth object gives."""
    org = {"org_id": "org_1", "org_slug": "acme", "org_role": "org:admin", "org_permissions": ["org:a:read"]}
    tokens = [mint.sign(claims(sub=f"user_{n}", sid=f"sess_{n}", **org)) for n in "ab"]
    other = mint.sign(claims(sub="user_c", sid="sess_c", **{**org, "org_role": "org:member"}))
    verdicts = [await runtime.decide(bearer(token)) for token in (*tokens, other)]
    assert all(verdict.state.verdict is not None for verdict in verdicts)
    for verdict, name, role in zip(verdicts, "abc", ("org:admin", "org:admin", "org:member"), strict=True):
        assert verdict.identity_block == render_auth_identity(verdict.auth)
        assert ("x-clerk-user-id", f"user_{name}") in verdict.identity
        assert ("x-clerk-session-id", f"sess_{name}") in verdict.identity
        assert ("x-clerk-org-role", role) in verdict.identity


async def test_a_pending_session_is_rendered_as_the_signed_out_object_it_becomes(
    runtime: ClerkRuntime, mint: TokenMint
) -> None:
    """``toAuth()`` signs a pending session out: its headers are that object's, not the cached session's."""
    token = mint.sign(claims(sub="user_p", sid="sess_p", sts="pending"))
    for expected_cache in ("miss", "hit"):
        verdict = await runtime.decide(bearer(token))
        assert (verdict.cache, verdict.signed_in) == (expected_cache, False)
        assert verdict.identity_block == render_auth_identity(verdict.auth)
        assert ("x-clerk-user-id", "") in verdict.identity


async def test_a_request_without_a_token_asks_no_cache(runtime: ClerkRuntime) -> None:
    """An anonymous decision has no cache result and no kid."""
    verdict = await runtime.decide(RequestView.build("GET", "http://app.example/", [("host", "app.example")]))
    assert (verdict.cache, verdict.kid, verdict.signed_in) == (None, None, False)


async def test_signed_out_answers_share_one_empty_rendering(runtime: ClerkRuntime) -> None:
    """Every signed-out decision writes the same identity lines (empty but the token type), rendered once."""
    anonymous = [await runtime.decide(RequestView.build("GET", "http://app.example/", [])) for _ in range(2)]
    assert anonymous[0].identity_block is anonymous[1].identity_block
    assert [name for name, value in anonymous[0].identity if value] == ["x-clerk-token-type"]
