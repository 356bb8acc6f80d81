"""Requirements from a decision endpoint's query string, turned into Clerk ``has()`` calls.

``?permission=org:invoices:read&role=admin&reverification=strict`` means "all of these must hold", each a
separate ``has()`` call (api.md §3). An unknown parameter, a requirement that can never be written in a
way Clerk would accept, or one the ``X-Clerk-Auth-Message`` header could not name when it fails (``%ff``
decodes to U+FFFD) is an operator's mistake, not a user's: ``RequirementError`` names the parameter so
the 400 answer and the log line say exactly what to fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from clerk_authd.rules.has import REVERIFICATION_LEVELS, REVERIFICATION_PRESETS
from clerk_authd.rules.names import CLERK_PARAM_PREFIX, LEGACY_DEV_SESSION
from clerk_authd.rules.state import header_value
from clerk_authd.rules.tokentypes import parse_accepts_token

#: has() dimensions a query may ask for; each may repeat
REQUIREMENT_NAMES = ("permission", "role", "feature", "plan", "reverification")
#: billing scopes has() understands before a ``:`` (``o:teams``, ``user:pro``)
_BILLING_SCOPES = frozenset({"o", "org", "organization", "u", "user"})


class RequirementError(ValueError):
    """A query parameter the service cannot turn into a requirement. ``parameter`` names it."""

    def __init__(self, parameter: str, why: str) -> None:
        super().__init__(f"query parameter {parameter!r}: {why}")
        self.parameter = parameter
        self.why = why


class Checkable(Protocol):
    """Anything with Clerk's ``has()``: every auth object."""

    def has(self, **params: object) -> bool:
        """Clerk's has() with these parameters."""
        ...


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``has()`` call, remembered with the query text it came from (for messages)."""

    name: str
    value: str
    params: Mapping[str, object]

    def describe(self) -> str:
        """``permission=org:invoices:read``: how the message and the log name the failed requirement."""
        return f"{self.name}={self.value}"


@dataclass(frozen=True, slots=True)
class Requirements:
    """Every requirement of one call, and the ``accepts`` override (``None``: the configured default)."""

    checks: tuple[Requirement, ...] = ()
    accepts_token: tuple[str, ...] | None = None

    def first_unmet(self, auth: Checkable) -> Requirement | None:
        """The first requirement ``auth.has()`` denies, or ``None`` when all hold."""
        for check in self.checks:
            if not auth.has(**check.params):
                return check
        return None


NO_REQUIREMENTS = Requirements()


def is_clerk_parameter(name: str) -> bool:
    """One of Clerk's own query parameters (``__clerk_handshake``, ``__clerk_db_jwt``, ``__clerk_synced``, ...,
    ``__dev_session``): on a URL Clerk also reads they are Clerk's input, never a requirement."""
    return name.startswith(CLERK_PARAM_PREFIX) or name == LEGACY_DEV_SESSION


def parse_requirements(pairs: Iterable[tuple[str, str]]) -> Requirements:
    """Read ``(name, value)`` query pairs (blank values kept) into ``Requirements``, or raise ``RequirementError``."""
    checks: list[Requirement] = []
    accepts: tuple[str, ...] | None = None
    for name, value in pairs:
        if name == "accepts":
            if accepts is not None:
                raise RequirementError(name, "may be given only once")
            try:
                accepts = parse_accepts_token(value)
            except ValueError as exc:
                raise RequirementError(name, str(exc)) from exc
        elif name in REQUIREMENT_NAMES:
            checks.append(parse_requirement(name, value))
        else:
            raise RequirementError(name, f"unknown parameter (expected one of {', '.join(REQUIREMENT_NAMES)}, accepts)")
    return Requirements(tuple(checks), accepts) if checks or accepts else NO_REQUIREMENTS


def parse_requirement(name: str, value: str) -> Requirement:
    """One requirement as ``has()`` receives it; ``name`` must be one of ``REQUIREMENT_NAMES``."""
    if not value.strip():
        raise RequirementError(name, "is empty")
    if value != value.strip():
        raise RequirementError(name, "has leading or trailing whitespace")
    if header_value(value) != value:
        raise RequirementError(name, "cannot be written in a header (a character beyond U+00FF, CR, LF or NUL)")
    if name == "reverification":
        return Requirement(name, value, {name: _reverification(value)})
    if name in ("feature", "plan") and ":" in value and value.split(":", 1)[0] not in _BILLING_SCOPES:
        scope = value.split(":", 1)[0]
        raise RequirementError(name, f"scope {scope!r} is not one of o, org, organization, u, user")
    return Requirement(name, value, {name: value})


def _reverification(value: str) -> object:
    """A preset name, or ``<level>:<minutes>`` as Clerk's ``{level, afterMinutes}`` object."""
    if value in REVERIFICATION_PRESETS:
        return value
    level, sep, minutes_text = value.partition(":")
    if not sep:
        raise RequirementError(
            "reverification",
            f"{value!r} is not a preset ({', '.join(sorted(REVERIFICATION_PRESETS))}) or <level>:<minutes>",
        )
    if level not in REVERIFICATION_LEVELS:
        raise RequirementError(
            "reverification", f"level {level!r} is not one of {', '.join(sorted(REVERIFICATION_LEVELS))}"
        )
    try:
        minutes = float(minutes_text)
    except ValueError:
        minutes = math.nan
    if not math.isfinite(minutes) or minutes <= 0:
        raise RequirementError("reverification", f"minutes {minutes_text!r} must be a number above 0")
    return {"level": level, "afterMinutes": int(minutes) if minutes.is_integer() else minutes}


@dataclass(frozen=True, slots=True)
class Batch:
    """``POST /has``: an optional token to check instead of the request's, and one ``has()`` call per check."""

    token: str | None
    checks: tuple[Requirement, ...]


def parse_batch(body: object, *, max_checks: int = 100) -> Batch:
    """``{"token": "<optional>", "checks": [{"permission": "org:x:y"}, {"role": "admin", "plan": "pro"}]}``.

    The token is one value, not an ``Authorization`` header: with whitespace in it, Clerk's header split would
    verify only its first word, so it is refused rather than read as something other than what was sent.
    A check may combine dimensions (one ``has()`` call, all of them must hold); each value is written as in
    the query string. Anything else raises ``RequirementError`` naming the offending member. More than
    ``max_checks`` checks (``CLERK_AUTHD_HAS_MAX_CHECKS``) are refused before any is parsed, so a large batch
    costs no more than a small one.
    """
    if not isinstance(body, dict):
        raise RequirementError("body", "must be a JSON object with a checks list")
    unknown = sorted(set(body) - {"token", "checks"})
    if unknown:
        raise RequirementError(unknown[0], "unknown member (expected token, checks)")
    token = body.get("token")
    if token is not None and (not isinstance(token, str) or not token):
        raise RequirementError("token", "must be a non-empty string when given")
    if token is not None and any(char.isspace() for char in token):
        raise RequirementError("token", "must be one token, without whitespace")
    raw_checks = body.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        raise RequirementError("checks", "must be a non-empty list of objects")
    if len(raw_checks) > max_checks:
        raise RequirementError("checks", f"at most {max_checks} checks (CLERK_AUTHD_HAS_MAX_CHECKS)")
    return Batch(token, tuple(_batch_check(index, check) for index, check in enumerate(raw_checks)))


def _batch_check(index: int, check: object) -> Requirement:
    where = f"checks[{index}]"
    if not isinstance(check, dict) or not check:
        raise RequirementError(where, f"must be a non-empty object of {', '.join(REQUIREMENT_NAMES)}")
    params: dict[str, object] = {}
    for name, value in check.items():
        if name not in REQUIREMENT_NAMES:
            raise RequirementError(
                f"{where}.{name}", f"unknown requirement (expected one of {', '.join(REQUIREMENT_NAMES)})"
            )
        if not isinstance(value, str):
            raise RequirementError(f"{where}.{name}", "must be a string, written as in the query string")
        try:
            params.update(parse_requirement(name, value).params)
        except RequirementError as exc:
            raise RequirementError(f"{where}.{name}", exc.why) from exc
    text = "&".join(f"{name}={value}" for name, value in check.items())
    return Requirement(where, text, params)
