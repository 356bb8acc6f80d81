"""Clerk's ``has()``: role, permission, feature, plan and reverification checks (clerk-semantics §17).

Mirrors ``createCheckAuthorization`` in ``@clerk/shared`` (after 2026-04-22, "authorization bypass in
combined-condition has() checks"): each dimension (org, billing, reverification) answers pass, fail or skip;
``has()`` is true only when at least one passed and none failed, so every asked condition must hold and ``{}``
is false.

A key counts as asked when it is present in ``params`` (Python's ``None`` is JS's ``null``: asked, and fails);
JS's ``undefined`` is an absent key. A reverification object may spell its age ``afterMinutes`` (Clerk's
name, as the conformance table and JSON callers send it) or ``after_minutes`` (Python callers); giving both
is ambiguous and fails.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Final, Literal, Protocol, TypeGuard

from clerk_authd.rules.claims import split_by_scope

Outcome = Literal["pass", "fail", "skip"]

#: ``reverification`` presets: name → (after_minutes, level)
REVERIFICATION_PRESETS: Final[Mapping[str, tuple[int, str]]] = {
    "strict_mfa": (10, "multi_factor"),
    "strict": (10, "second_factor"),
    "moderate": (60, "second_factor"),
    "lax": (1440, "second_factor"),
}
REVERIFICATION_LEVELS: Final = frozenset({"first_factor", "second_factor", "multi_factor"})
_ORG_QUERY_SCOPES: Final = frozenset({"o", "org", "organization"})
_USER_QUERY_SCOPES: Final = frozenset({"u", "user"})
_ORG_PREFIXES = re.compile(r"^(org:)*")


class AuthorizationSubject(Protocol):
    """What ``has()`` looks at: the fields ``createCheckAuthorization`` is built from (``SessionClaims`` fits)."""

    @property
    def user_id(self) -> str | None: ...
    @property
    def org_id(self) -> str | None: ...
    @property
    def org_role(self) -> str | None: ...
    @property
    def org_permissions(self) -> tuple[str, ...] | None: ...
    @property
    def factor_verification_age(self) -> object: ...
    @property
    def features(self) -> str: ...
    @property
    def plans(self) -> str: ...


def check_authorization(subject: AuthorizationSubject, params: Mapping[str, object]) -> bool:
    """Clerk's ``has(params)`` for a signed-in subject: every asked dimension passes, and at least one is asked."""
    if not subject.user_id:
        return False
    outcomes = (_check_org(subject, params), _check_billing(subject, params), _check_reverification(subject, params))
    return "pass" in outcomes and "fail" not in outcomes


def with_org_prefix(value: str) -> str:
    """Clerk's ``prefixWithOrg``: any run of leading ``org:`` becomes exactly one (``admin`` → ``org:admin``)."""
    return _ORG_PREFIXES.sub("org:", value, count=1)


def _check_org(subject: AuthorizationSubject, params: Mapping[str, object]) -> Outcome:
    role_asked, permission_asked = "role" in params, "permission" in params
    if not role_asked and not permission_asked:
        return "skip"
    role, permission = params.get("role"), params.get("permission")
    if (role_asked and not isinstance(role, str)) or (permission_asked and not isinstance(permission, str)):
        return "fail"
    if not subject.org_id:
        return "fail"
    if isinstance(role, str) and (not subject.org_role or with_org_prefix(subject.org_role) != with_org_prefix(role)):
        return "fail"
    if isinstance(permission, str) and (
        subject.org_permissions is None or with_org_prefix(permission) not in subject.org_permissions
    ):
        return "fail"
    return "pass"


def _has_feature_or_plan(claim: str, query: str) -> bool:
    """Clerk's ``checkForFeatureOrPlan``; a malformed claim or an unknown query scope (JS throws) is ``False``."""
    try:
        scoped = split_by_scope(claim)
    except ValueError:
        return False
    segments = query.split(":")
    if len(segments) == 1:
        return query in scoped.org or query in scoped.user
    scope = segments[0]
    wanted = segments[1] or scope  # JS: `rawId || rawScope`; segments past the second are ignored
    if scope in _ORG_QUERY_SCOPES:
        return wanted in scoped.org
    if scope in _USER_QUERY_SCOPES:
        return wanted in scoped.user
    return False


def _check_billing(subject: AuthorizationSubject, params: Mapping[str, object]) -> Outcome:
    checks: list[tuple[str, str]] = []
    for name, claim in (("feature", subject.features), ("plan", subject.plans)):
        if name in params:
            query = params[name]
            if not isinstance(query, str):
                return "fail"
            checks.append((claim, query))
    if not checks:
        return "skip"
    if all(claim and _has_feature_or_plan(claim, query) for claim, query in checks):
        return "pass"
    return "fail"


def _is_factor_age(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value == -1 or value >= 0)
    )


def _is_minutes(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _reverification_config(config: object) -> tuple[float, str] | None:
    """``(after_minutes, level)`` of a preset name or a ``{level, afterMinutes}`` object; ``None`` if invalid."""
    if isinstance(config, str):
        return REVERIFICATION_PRESETS.get(config)
    if not isinstance(config, Mapping):
        return None
    if "afterMinutes" in config and "after_minutes" in config:
        return None
    level = config.get("level")
    minutes = config.get("afterMinutes", config.get("after_minutes"))
    if not isinstance(level, str) or level not in REVERIFICATION_LEVELS or not _is_minutes(minutes):
        return None
    return float(minutes), level


def _check_reverification(subject: AuthorizationSubject, params: Mapping[str, object]) -> Outcome:
    if "reverification" not in params:
        return "skip"
    fva = subject.factor_verification_age
    if not isinstance(fva, tuple | list) or len(fva) != 2 or not all(_is_factor_age(age) for age in fva):
        return "fail"
    config = _reverification_config(params["reverification"])
    if config is None:
        return "fail"
    after_minutes, level = config
    first_age, second_age = fva
    if first_age == -1 and second_age == -1:
        return "fail"
    first_fresh = first_age != -1 and after_minutes > first_age
    second_fresh = second_age != -1 and after_minutes > second_age
    if level == "first_factor" or second_age == -1:  # no second factor enrolled: every level uses the first
        fresh = first_fresh
    elif level == "second_factor":
        fresh = second_fresh
    else:  # multi_factor with a second factor enrolled needs both (and so fails without a first factor)
        fresh = first_fresh and second_fresh
    return "pass" if fresh else "fail"
