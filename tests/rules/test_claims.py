"""Session claims v1/v2 → auth-object fields, and v2 permission decoding (clerk-semantics §16)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clerk_authd.errors import TokenVerificationError
from clerk_authd.reasons import Reason
from clerk_authd.rules.claims import (
    SessionClaims,
    parse_session_claims,
    split_by_scope,
)
from clerk_authd.testing.mint import encode_v2_permissions, session_claims
from tests.conftest import FROZEN_NOW


def v2(fea: object, per: object, fpm: object, **org: object) -> dict[str, Any]:
    """A v2 payload with an active org whose permissions are ``fea`` + ``o.per`` + ``o.fpm``."""
    o = {"id": "org_1", "rol": "admin", "per": per, "fpm": fpm, **org}
    return {"sub": "user_1", "sid": "sess_1", "v": 2, "fea": fea, "o": {k: v for k, v in o.items() if v is not None}}


def permissions_of(payload: dict[str, Any]) -> tuple[str, ...] | None:
    return parse_session_claims(payload).org_permissions


def auth_fields(claims: SessionClaims) -> tuple[object, ...]:
    """The fields of Clerk's auth object (not the raw claims, features or plans)."""
    return (
        claims.user_id,
        claims.session_id,
        claims.session_status,
        claims.actor,
        claims.factor_verification_age,
        claims.org_id,
        claims.org_slug,
        claims.org_role,
        claims.org_permissions,
    )


@pytest.mark.parametrize(
    ("fea", "per", "fpm", "expected"),
    [
        pytest.param(
            "o:dashboard,o:teams",
            "manage,read",
            "3,2",
            ("org:dashboard:manage", "org:dashboard:read", "org:teams:read"),
            id="docs example",
        ),
        pytest.param(
            "o:repositories,o:projects",
            "read,create,update,delete,revoke",
            "7,21",
            (
                "org:repositories:read",
                "org:repositories:create",
                "org:repositories:update",
                "org:projects:read",
                "org:projects:update",
                "org:projects:revoke",
            ),
            id="7,21",
        ),
        pytest.param(
            "o:repositories,o:projects,o:webhooks,o:impersonation",
            "read,manage",
            "1,2,3,0",
            ("org:repositories:read", "org:projects:manage", "org:webhooks:read", "org:webhooks:manage"),
            id="1,2,3,0",
        ),
        pytest.param(
            "o:reservations,u:dashboard,uo:support-chat,o:impersonation",
            "read,manage",
            "2,3",
            ("org:reservations:manage", "org:support-chat:read", "org:support-chat:manage"),
            id="mixed scopes align with org-scoped features only",
        ),
    ],
)
def test_pinned_v2_permission_examples(fea: str, per: str, fpm: str, expected: tuple[str, ...]) -> None:
    """§16.2's worked and pinned examples decode exactly as JS does."""
    assert permissions_of(v2(fea, per, fpm)) == expected


def test_masks_above_2_to_the_53_are_exact() -> None:
    """``2^53 + 1`` with 54 permissions grants the first and the 54th, with no float rounding."""
    per = ",".join(f"permission_{i}" for i in range(54))
    assert permissions_of(v2("o:f", per, "9007199254740993")) == ("org:f:permission_0", "org:f:permission_53")


@pytest.mark.parametrize("per_count", [1, 54])
def test_bits_beyond_the_permission_list_are_dropped(per_count: int) -> None:
    """``2^54`` sets only bit 54, which no declared permission owns: nothing is granted."""
    per = ",".join(f"permission_{i}" for i in range(per_count))
    assert permissions_of(v2("o:f", per, "18014398509481984")) == ()


def test_a_mask_longer_than_pythons_int_conversion_limit_is_still_exact() -> None:
    """``10^5001 + 1`` (5002 digits) is even plus one in its low bits: only the first permission."""
    mask = "1" + "0" * 5000 + "1"
    assert permissions_of(v2("o:f", "a,b,c,d,e,f,g,h", mask)) == ("org:f:a",)


@pytest.mark.parametrize("mask", ["1invalid", "-1", "1.5", "", " ", "0x1", "1e2", "١"])
def test_a_malformed_mask_grants_nothing(mask: str) -> None:
    """A mask that is not all ASCII decimal digits grants no bits (fail closed)."""
    assert permissions_of(v2("o:f", "read,manage", mask)) == ()


def test_a_malformed_mask_keeps_the_alignment_of_the_next_one() -> None:
    """The masks after a malformed one still belong to their own features."""
    assert permissions_of(v2("o:a,o:b", "read", "x,1")) == ("org:b:read",)


def test_features_without_a_mask_grant_nothing() -> None:
    """Fewer masks than org-scoped features: the remaining features get no permissions."""
    assert permissions_of(v2("o:a,o:b,o:c", "read", "1")) == ("org:a:read",)


def test_permission_names_and_masks_are_trimmed_like_javascript() -> None:
    """``per``/``fpm`` elements and ``fea`` elements are trimmed with JS's whitespace set (U+FEFF included)."""
    assert permissions_of(v2(" o:a ,\ufeffo:b", " read , manage ", " 2 ,\ufeff1")) == ("org:a:manage", "org:b:read")


@pytest.mark.parametrize(("per", "fpm"), [(None, "1"), ("read", None), ("", "1"), ("read", "")])
def test_missing_per_or_fpm_gives_an_empty_permission_list(per: str | None, fpm: str | None) -> None:
    """Without both ``per`` and ``fpm`` the org has ``orgPermissions: []`` (present, empty)."""
    assert permissions_of(v2("o:a", per, fpm)) == ()


def test_the_v2_org_comes_from_o_with_the_role_prefixed() -> None:
    """``o.id``, ``o.slg``, and ``'org:' + o.rol``."""
    claims = parse_session_claims(v2("o:a", "read", "1", slg="acme"))
    assert (claims.org_id, claims.org_slug, claims.org_role) == ("org_1", "acme", "org:admin")


@pytest.mark.parametrize("role", [None, ""])
def test_a_missing_or_empty_v2_role_is_undefined(role: str | None) -> None:
    """``o.rol`` falsy leaves ``orgRole`` undefined rather than ``'org:'``."""
    assert parse_session_claims(v2("o:a", "read", "1", rol=role)).org_role is None


def test_an_empty_o_object_is_an_org_without_fields() -> None:
    """``o: {}`` is truthy in JS: no id, slug or role, and ``orgPermissions: []``."""
    claims = parse_session_claims({"sub": "user_1", "v": 2, "o": {}})
    assert (claims.org_id, claims.org_slug, claims.org_role, claims.org_permissions) == (None, None, None, ())


def test_a_v2_token_without_o_has_no_org_fields() -> None:
    """Without ``o`` every org field is undefined, ``orgPermissions`` included."""
    claims = parse_session_claims({"sub": "user_1", "v": 2, "fea": "o:a"})
    assert (claims.org_id, claims.org_role, claims.org_permissions) == (None, None, None)


@pytest.mark.parametrize("version", [True, "2", 3, None])
def test_only_the_number_2_selects_v2(version: object) -> None:
    """``v === 2``: ``true``, ``"2"``, other numbers and absence read the v1 claims."""
    payload = {"sub": "user_1", "v": version, "org_id": "org_v1", "o": {"id": "org_v2"}}
    assert parse_session_claims(payload).org_id == "org_v1"


def test_2_point_0_is_the_number_2() -> None:
    """JSON ``2.0`` is the same JS number as ``2``."""
    assert parse_session_claims({"sub": "user_1", "v": 2.0, "o": {"id": "org_v2"}}).org_id == "org_v2"


def test_v1_org_claims_are_taken_as_sent() -> None:
    """v1 ``org_role`` keeps its raw spelling (no prefix added) and ``org_permissions`` its list."""
    claims = parse_session_claims(
        {"sub": "user_1", "org_id": "org_9", "org_slug": "s9", "org_role": "admin", "org_permissions": ["org:a:b"]}
    )
    assert (claims.org_id, claims.org_slug, claims.org_role, claims.org_permissions) == (
        "org_9",
        "s9",
        "admin",
        ("org:a:b",),
    )


def test_session_fields_map_from_sub_sid_sts_act_and_fva() -> None:
    """``sub``, ``sid``, ``sts``, ``act`` and ``fva`` become userId, sessionId, sessionStatus, actor, fva."""
    claims = parse_session_claims(
        {"sub": "user_1", "sid": "sess_1", "sts": "active", "act": {"sub": "user_admin"}, "fva": [3, -1]}
    )
    assert (claims.user_id, claims.session_id, claims.session_status, claims.actor) == (
        "user_1",
        "sess_1",
        "active",
        {"sub": "user_admin"},
    )
    assert claims.factor_verification_age == (3, -1)


def test_absent_status_and_fva_are_null() -> None:
    """``sts ?? null`` and ``fva ?? null``."""
    claims = parse_session_claims({"sub": "user_1"})
    assert (claims.session_status, claims.factor_verification_age) == (None, None)


def test_features_and_plans_are_kept_for_has() -> None:
    """``fea`` and ``pla`` feed ``has({feature})`` / ``has({plan})``; absent or non-string they are ``''``."""
    claims = parse_session_claims({"sub": "user_1", "fea": "u:a", "pla": 5})
    assert (claims.features, claims.plans) == ("u:a", "")


def test_v1_and_v2_tokens_with_the_same_data_give_the_same_auth_fields() -> None:
    """jwtPayloadParser.spec.ts: "produced auth object is the same for v1 and v2"."""
    common: dict[str, Any] = {
        "now": FROZEN_NOW,
        "org_id": "org_1",
        "org_slug": "acme",
        "org_role": "admin",
        "org_permissions": ["org:dashboard:read", "org:dashboard:manage", "org:teams:read"],
    }
    v1_claims = parse_session_claims(session_claims(version=1, **common))
    v2_claims = parse_session_claims(session_claims(version=2, **common))
    assert auth_fields(v1_claims) == auth_fields(v2_claims)


def test_a_fea_element_without_a_colon_fails_a_v2_token_with_an_org() -> None:
    """JS's ``toAuth()`` throws; we refuse the token as ``token-invalid`` with Clerk's message (fail closed)."""
    with pytest.raises(TokenVerificationError) as caught:
        parse_session_claims(v2("o:a,reservations", "read", "1"))
    assert caught.value.reason == Reason.TOKEN_INVALID
    assert caught.value.message == "Invalid claim element (missing colon): reservations"


@pytest.mark.parametrize(
    "payload",
    [
        {"sub": "user_1", "v": 2, "fea": "reservations"},
        {"sub": "user_1", "fea": "reservations", "org_id": "org_1"},
    ],
    ids=["v2 without o", "v1"],
)
def test_a_malformed_fea_is_only_read_for_a_v2_org(payload: dict[str, Any]) -> None:
    """JS splits ``fea`` only while building a v2 org, so other tokens parse (``has({feature})`` fails later)."""
    assert parse_session_claims(payload).features == "reservations"


@pytest.mark.parametrize(
    ("fea", "per", "fpm"),
    [(["o:a"], "read", "1"), ("o:a", ["read"], "1"), ("o:a", "read", 1), ({"o": "a"}, "read", "1")],
)
def test_a_non_string_fea_per_or_fpm_fails_a_v2_token(fea: object, per: object, fpm: object) -> None:
    """JS calls ``.split`` on them and throws; we refuse the token as ``token-invalid``."""
    with pytest.raises(TokenVerificationError) as caught:
        parse_session_claims(v2(fea, per, fpm))
    assert caught.value.reason == Reason.TOKEN_INVALID


def test_a_non_string_mask_is_not_read_when_per_is_missing() -> None:
    """JS returns early on a falsy ``per`` before touching ``fpm``, so this parses with no permissions."""
    assert permissions_of(v2("o:a", None, 7)) == ()


def test_split_by_scope_sorts_values_into_org_and_user() -> None:
    """``o`` → org, ``u`` → user, ``ou``/``uo`` → both; other scopes are ignored."""
    scoped = split_by_scope("o:reservations,u:dashboard,ou:support-chat,uo:billing,x:ignored")
    assert scoped.org == ("reservations", "support-chat", "billing")
    assert scoped.user == ("dashboard", "support-chat", "billing")


def test_split_by_scope_splits_at_the_first_colon() -> None:
    """``o:a:b`` is the org value ``a:b``."""
    assert split_by_scope("o:a:b").org == ("a:b",)


_NAME = st.from_regex(r"[a-z][a-z0-9_-]{0,7}", fullmatch=True)


@given(st.sets(st.tuples(_NAME, _NAME), max_size=40))
def test_encoding_then_decoding_v2_permissions_gives_back_the_same_set(pairs: set[tuple[str, str]]) -> None:
    """For any permission set, the mint's (fea, per, fpm) decodes to exactly that set."""
    permissions = {f"org:{feature}:{name}" for feature, name in pairs}
    fea, per, fpm = encode_v2_permissions(sorted(permissions))
    decoded = permissions_of(v2(fea, per, fpm))
    assert decoded is not None
    assert sorted(decoded) == sorted(permissions)
