"""Query-string requirements and /has batches become has() calls; every mistake names its parameter."""

from __future__ import annotations

import pytest

from clerk_authd.rules.auth import SignedInAuth, signed_in_auth, signed_out_auth
from clerk_authd.rules.requirements import (
    NO_REQUIREMENTS,
    RequirementError,
    parse_batch,
    parse_requirement,
    parse_requirements,
)

#: Clerk's worked example (clerk-semantics §17): v2, fea o:dashboard,o:teams, pla o:pro, admin, fva [3, -1]
DOCS_PAYLOAD = {
    "sub": "user_1",
    "sid": "sess_1",
    "v": 2,
    "fea": "o:dashboard,o:teams",
    "pla": "o:pro",
    "o": {"id": "org_1", "rol": "admin", "per": "manage,read", "fpm": "3,2"},
    "fva": [3, -1],
}


@pytest.fixture
def docs_auth() -> SignedInAuth:
    return signed_in_auth(DOCS_PAYLOAD, "token")


@pytest.mark.parametrize(
    ("query", "allowed"),
    [
        ([("role", "org:admin")], True),
        ([("role", "admin")], True),
        ([("permission", "org:teams:manage")], False),
        ([("permission", "org:teams:read"), ("feature", "dashboard")], True),
        ([("feature", "u:teams")], False),
        ([("plan", "o:pro")], True),
        ([("reverification", "strict")], True),
        ([("reverification", "first_factor:3")], False),
        ([("reverification", "first_factor:4")], True),
        ([("reverification", "second_factor:2.5")], False),
        ([("role", "org:admin"), ("permission", "org:teams:manage")], False),
        ([("role", "org:admin"), ("reverification", "lax")], True),
    ],
)
def test_requirements_are_has_calls_that_must_all_hold(
    docs_auth: SignedInAuth, query: list[tuple[str, str]], allowed: bool
) -> None:
    """Each parameter is one has() call with Clerk's semantics; the answer is their AND."""
    assert (parse_requirements(query).first_unmet(docs_auth) is None) is allowed


def test_the_first_unmet_requirement_is_reported() -> None:
    """The message names the first failing requirement in query order."""
    auth = signed_in_auth(DOCS_PAYLOAD, "token")
    unmet = parse_requirements([("role", "admin"), ("plan", "u:pro"), ("feature", "nope")]).first_unmet(auth)
    assert unmet is not None
    assert unmet.describe() == "plan=u:pro"


def test_a_signed_out_request_meets_no_requirement() -> None:
    """has() is false for a signed-out object."""
    assert parse_requirements([("role", "admin")]).first_unmet(signed_out_auth()) is not None


def test_level_minutes_becomes_clerks_object() -> None:
    """second_factor:10 is {level: second_factor, afterMinutes: 10}."""
    requirement = parse_requirement("reverification", "second_factor:10")
    assert requirement.params == {"reverification": {"level": "second_factor", "afterMinutes": 10}}


def test_accepts_is_an_override_not_a_requirement() -> None:
    """accepts=api_key,session_token overrides the token types; no query means no requirements."""
    parsed = parse_requirements([("accepts", "api_key,session_token")])
    assert parsed.accepts_token == ("api_key", "session_token")
    assert parsed.checks == ()
    assert parse_requirements([]) is NO_REQUIREMENTS


@pytest.mark.parametrize(
    ("query", "parameter", "why"),
    [
        ([("colour", "red")], "colour", "unknown parameter"),
        ([("role", "")], "role", "is empty"),
        ([("role", " admin")], "role", "whitespace"),
        ([("permission", "\ufffd")], "permission", "cannot be written in a header"),
        ([("role", "org:\u0430dmin")], "role", "cannot be written in a header"),
        ([("plan", "pro\nX-Clerk-User-Id: user_1")], "plan", "cannot be written in a header"),
        ([("reverification", "sometimes")], "reverification", "is not a preset"),
        ([("reverification", "third_factor:10")], "reverification", "level 'third_factor'"),
        ([("reverification", "second_factor:-1")], "reverification", "above 0"),
        ([("reverification", "second_factor:nan")], "reverification", "above 0"),
        ([("feature", "team:x")], "feature", "scope 'team'"),
        ([("accepts", "everything")], "accepts", "expected 'any'"),
        ([("accepts", "any"), ("accepts", "any")], "accepts", "only once"),
    ],
)
def test_mistakes_name_their_parameter(query: list[tuple[str, str]], parameter: str, why: str) -> None:
    """RequirementError carries the parameter and why, for the 400 and the log line."""
    with pytest.raises(RequirementError) as raised:
        parse_requirements(query)
    assert raised.value.parameter == parameter
    assert why in raised.value.why


def test_a_batch_check_may_combine_dimensions(docs_auth: SignedInAuth) -> None:
    """One check is one has() call: {role, permission} must both match."""
    batch = parse_batch({"checks": [{"role": "admin", "permission": "org:teams:manage"}, {"plan": "pro"}]})
    assert batch.token is None
    assert [docs_auth.has(**check.params) for check in batch.checks] == [False, True]
    assert batch.checks[0].describe() == "checks[0]=role=admin&permission=org:teams:manage"
