"""Clerk's ``has()``: every asked dimension must pass, and the details of each (clerk-semantics §17)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from clerk_authd.rules.claims import SessionClaims, parse_session_claims
from clerk_authd.rules.has import check_authorization, with_org_prefix
from clerk_authd.rules.jwt import decode_jwt
from tests.conftest import load_conformance

HAS_LINES = [line for line in load_conformance() if "params" in line]

#: A signed-in subject like the conformance table's v2 docs example.
BASE = SessionClaims(
    user_id="user_1",
    session_id="sess_1",
    session_status="active",
    actor=None,
    factor_verification_age=(3, -1),
    org_id="org_1",
    org_slug="acme",
    org_role="org:admin",
    org_permissions=("org:dashboard:manage", "org:dashboard:read", "org:teams:read"),
    features="o:dashboard,o:teams",
    plans="o:pro",
    raw={},
)


def subject(**changes: Any) -> SessionClaims:
    return dataclasses.replace(BASE, **changes)


def test_the_conformance_table_has_has_lines() -> None:
    """The recorded has() lines are present (so the parametrized test below cannot pass vacuously)."""
    assert len(HAS_LINES) >= 19


@pytest.mark.parametrize("line", HAS_LINES, ids=[str(line["params"]) for line in HAS_LINES])
def test_recorded_has_results(line: dict[str, Any]) -> None:
    """Every ``has()`` call recorded from the real SDK gives the same answer on the decoded token."""
    claims = parse_session_claims(decode_jwt(line["token"]).payload)
    assert check_authorization(claims, line["params"]) is line["result"]


def test_nothing_asked_is_false() -> None:
    """``has({})`` is false: at least one dimension must be asked and pass."""
    assert check_authorization(BASE, {}) is False


def test_without_a_user_nothing_passes() -> None:
    """A subject without ``userId`` fails every check."""
    assert check_authorization(subject(user_id=None), {"role": "org:admin"}) is False


@pytest.mark.parametrize("key", ["role", "permission", "feature", "plan", "reverification"])
def test_a_key_given_as_none_is_asked_and_fails(key: str) -> None:
    """``null`` is not ``undefined``: the dimension counts as asked and fails, even beside a passing one."""
    assert check_authorization(BASE, {key: None}) is False
    assert check_authorization(BASE, {"role": "org:admin", key: None}) is False


@pytest.mark.parametrize(
    "params",
    [{"role": 1}, {"permission": ["org:teams:read"]}, {"feature": True}, {"plan": {"o": "pro"}}],
)
def test_a_non_string_query_fails(params: dict[str, object]) -> None:
    """Role, permission, feature and plan must be strings."""
    assert check_authorization(BASE, params) is False


@pytest.mark.parametrize(
    "params",
    [
        {"role": "org:admin", "permission": "org:teams:manage"},
        {"role": "org:member", "permission": "org:teams:read"},
        {"role": "org:admin", "feature": "u:teams"},
        {"permission": "org:teams:read", "plan": "u:pro"},
        {"feature": "dashboard", "reverification": {"level": "first_factor", "afterMinutes": 1}},
    ],
)
def test_every_asked_condition_must_hold(params: dict[str, object]) -> None:
    """One passing dimension cannot carry a failing one (the 2026-04 bypass fix)."""
    assert check_authorization(BASE, params) is False


def test_conditions_that_all_hold_pass_together() -> None:
    """Role, permission, feature, plan and reverification together pass when each does."""
    params = {"role": "admin", "permission": "teams:read", "feature": "teams", "plan": "pro", "reverification": "lax"}
    assert check_authorization(BASE, params) is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("admin", "org:admin"),
        ("org:admin", "org:admin"),
        ("org:org:admin", "org:admin"),
        ("", "org:"),
        ("x:org:", "org:x:org:"),
    ],
)
def test_org_prefix_normalisation(value: str, expected: str) -> None:
    """``^(org:)*`` becomes exactly one ``org:``."""
    assert with_org_prefix(value) == expected


@pytest.mark.parametrize("role", ["org:admin", "admin", "org:org:admin"])
def test_an_unprefixed_v1_role_matches_either_spelling(role: str) -> None:
    """A v1 ``org_role: 'admin'`` matches ``role: 'org:admin'`` and ``role: 'admin'``; both sides are normalised."""
    assert check_authorization(subject(org_role="admin"), {"role": role}) is True


def test_an_empty_org_role_matches_nothing() -> None:
    """No role on the subject: a role check fails, even ``role: ''``."""
    assert check_authorization(subject(org_role=None), {"role": "org:admin"}) is False
    assert check_authorization(subject(org_role=""), {"role": ""}) is False


def test_org_checks_need_an_active_org() -> None:
    """Without ``orgId`` role and permission checks fail."""
    assert check_authorization(subject(org_id=None), {"role": "org:admin"}) is False
    assert check_authorization(subject(org_id=""), {"permission": "org:teams:read"}) is False


def test_org_permissions_are_not_normalised() -> None:
    """Only the asked permission gets the ``org:`` prefix; a stored unprefixed permission never matches."""
    unprefixed = subject(org_permissions=("teams:read",))
    assert check_authorization(unprefixed, {"permission": "teams:read"}) is False
    assert check_authorization(unprefixed, {"permission": "org:teams:read"}) is False


def test_a_permission_must_match_whole() -> None:
    """``permission: 'org:f1'`` does not match ``org:f1:read``."""
    assert check_authorization(subject(org_permissions=("org:f1:read",)), {"permission": "org:f1"}) is False


def test_permission_checks_need_a_permission_list() -> None:
    """``orgPermissions`` undefined fails a permission check."""
    assert check_authorization(subject(org_permissions=None), {"permission": "org:teams:read"}) is False


def test_with_no_org_a_permission_and_reverification_check_fails() -> None:
    """authorization.spec.ts: ``orgId: null`` with ``{permission, reverification: 'strict'}`` is false."""
    params = {"permission": "org:teams:read", "reverification": "strict"}
    assert check_authorization(subject(org_id=None), params) is False


@pytest.mark.parametrize(
    ("claim", "query", "expected"),
    [
        ("o:pro", "pro", True),
        ("u:pro", "pro", True),
        ("o:pro", "org:pro", True),
        ("o:pro", "organization:pro", True),
        ("u:pro", "user:pro", True),
        ("u:pro", "o:pro", False),
        ("o:pro", "u:pro", False),
        ("ou:pro", "u:pro", True),
        ("uo:pro", "o:pro", True),
        ("x:pro", "pro", False),
        ("o:pro", "o:pro:extra", True),
        ("o:o", "o:", True),
        ("o:pro", "lol:pro", False),
        ("o:pro,broken", "pro", False),
        ("o:pro", "", False),
    ],
)
def test_feature_and_plan_scopes(claim: str, query: str, expected: bool) -> None:
    """Scoped queries look in their scope, bare ones in both; unknown scopes and malformed claims fail."""
    assert check_authorization(subject(features=claim, plans=claim), {"feature": query}) is expected
    assert check_authorization(subject(features=claim, plans=claim), {"plan": query}) is expected


def test_an_empty_features_claim_fails_a_feature_check() -> None:
    """authorization.spec.ts: ``features: ''`` with ``{feature: 'org:premium', reverification: 'strict'}`` is false."""
    params = {"feature": "org:premium", "reverification": "strict"}
    assert check_authorization(subject(features="", factor_verification_age=(0, 0)), params) is False


def test_plans_are_checked_against_pla_not_fea() -> None:
    """``plan`` reads the plans claim only."""
    assert check_authorization(subject(features="o:pro", plans=""), {"plan": "pro"}) is False


@pytest.mark.parametrize(
    ("fva", "config", "expected"),
    [
        ((5, -1), {"level": "first_factor", "afterMinutes": 5}, False),
        ((5, -1), {"level": "first_factor", "afterMinutes": 6}, True),
        ((-1, 2), {"level": "first_factor", "afterMinutes": 10}, False),
        ((5, -1), {"level": "second_factor", "afterMinutes": 6}, True),
        ((-1, 3), {"level": "second_factor", "afterMinutes": 4}, True),
        ((-1, 3), {"level": "second_factor", "afterMinutes": 3}, False),
        ((1, 20), {"level": "second_factor", "afterMinutes": 10}, False),
        ((20, 1), {"level": "second_factor", "afterMinutes": 10}, True),
        ((5, -1), {"level": "multi_factor", "afterMinutes": 6}, True),
        ((-1, 3), {"level": "multi_factor", "afterMinutes": 10}, False),
        ((1, 2), {"level": "multi_factor", "afterMinutes": 10}, True),
        ((1, 20), {"level": "multi_factor", "afterMinutes": 10}, False),
        ((20, 1), {"level": "multi_factor", "afterMinutes": 10}, False),
        ((0, -1), "strict_mfa", True),
        ((9, 9), "strict", True),
        ((9, 10), "strict", False),
        ((0, 59), "moderate", True),
        ((0, 60), "moderate", False),
        ((0, 1439), "lax", True),
        ((0, 1440), "lax", False),
        ((0.5, -1), {"level": "first_factor", "afterMinutes": 0.75}, True),
        ((-1, -1), "lax", False),
    ],
)
def test_reverification_levels_and_presets(fva: tuple[float, float], config: object, expected: bool) -> None:
    """Fresh means strictly younger than ``afterMinutes``; a missing second factor downgrades to the first."""
    assert check_authorization(subject(factor_verification_age=fva), {"reverification": config}) is expected


@pytest.mark.parametrize(
    "config",
    [
        "unknown",
        "",
        5,
        [],
        {"level": "third_factor", "afterMinutes": 5},
        {"level": "multi_factor"},
        {"level": "multi_factor", "afterMinutes": 0},
        {"level": "multi_factor", "afterMinutes": -1},
        {"level": "first_factor", "afterMinutes": True},
        {"level": "first_factor", "afterMinutes": "10"},
        {"level": "first_factor", "afterMinutes": float("nan")},
        {"afterMinutes": 10},
    ],
)
def test_an_invalid_reverification_config_fails(config: object) -> None:
    """Only the four presets and ``{level, afterMinutes > 0}`` objects are valid."""
    assert check_authorization(subject(factor_verification_age=(0, 0)), {"reverification": config}) is False


def test_python_callers_may_spell_after_minutes_in_snake_case() -> None:
    """``after_minutes`` works like ``afterMinutes``; giving both is ambiguous and fails."""
    fresh = subject(factor_verification_age=(0, 0))
    assert check_authorization(fresh, {"reverification": {"level": "first_factor", "after_minutes": 1}}) is True
    both = {"level": "first_factor", "after_minutes": 1, "afterMinutes": 1}
    assert check_authorization(fresh, {"reverification": both}) is False


@pytest.mark.parametrize(
    "fva",
    [None, 0, (), (1,), (1, 2, 3), ("0", "0"), (-2, 0), (True, 0), (float("nan"), 0), (float("inf"), 0), "0,0"],
)
def test_a_malformed_factor_verification_age_fails(fva: object) -> None:
    """fva must be two finite numbers, each ``-1`` or ``>= 0`` (``['0','0']`` is pinned false)."""
    assert check_authorization(subject(factor_verification_age=fva), {"reverification": "lax"}) is False


def test_a_list_fva_is_read_like_a_tuple() -> None:
    """A subject may hold fva as a JSON list."""
    assert check_authorization(subject(factor_verification_age=[0, -1]), {"reverification": "strict"}) is True
