"""Session-token claims (v1 and v2) turned into the typed fields of Clerk's auth object (clerk-semantics §16).

Mirrors ``__experimental_JWTPayloadToAuthObjectProperties`` in ``@clerk/shared``:

- v1 (``v`` absent or not the number 2): ``org_id``, ``org_slug``, ``org_role`` and ``org_permissions`` as sent;
- v2 (``v === 2``): the org comes from ``o`` (``id``, ``slg``, ``rol`` prefixed ``org:``), and the org permissions
  are rebuilt from ``fea`` + ``o.per`` + ``o.fpm``. Each ``fpm`` mask is aligned with the **org-scoped** features
  only (scopes ``o``, ``ou``, ``uo``), as JS does; masks are exact at any size, a mask that is not all decimal
  digits grants nothing, and bits beyond the ``per`` list are dropped.

Where JS throws while building the auth object (a ``fea`` element without ``:``; a ``fea``, ``per`` or ``fpm``
that is not a string), we raise ``TokenVerificationError(token-invalid)`` instead, so the request fails closed
as signed-out rather than crashing.

A claim of the wrong JSON type (``org_id: 5``, a non-object ``act``, ...) or an explicit ``null`` is read as
absent: JS would pass the raw value through, which can only ever make ``has()`` fail in JS too, or allow where
we deny. Such tokens are not minted by Clerk.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from clerk_authd.errors import TokenVerificationError
from clerk_authd.js.values import JS_WHITESPACE, js_truthy
from clerk_authd.reasons import Reason
from clerk_authd.rules.identity import Identity
from clerk_authd.rules.tokentypes import SESSION_TOKEN

_ASCII_DIGITS = re.compile(r"[0-9]+")
#: Decimal digits converted per step when reducing a mask; well under Python's int/str conversion limit.
_DIGITS_PER_STEP: Final = 1000
_ORG_SCOPES: Final = frozenset({"o", "ou", "uo"})
_USER_SCOPES: Final = frozenset({"u", "ou", "uo"})
#: How many distinct organization permission sets ``org_permissions_of`` remembers: one per role and plan.
PERMISSION_MEMO_SIZE: Final = 1024


@dataclass(frozen=True, slots=True)
class ScopedValues:
    """A ``fea``/``pla`` claim split by scope: what applies to the active org, and what to the user."""

    org: tuple[str, ...]
    user: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """The auth-object fields of one verified session token, plus the payload itself (``raw``).

    ``None`` stands for JS's ``undefined`` in ``actor``, ``session_id``, ``org_*`` (the auth object omits them)
    and for ``null`` in ``session_status`` and ``factor_verification_age`` (the auth object shows ``null``).
    ``factor_verification_age`` keeps whatever ``fva`` held (a list becomes a tuple) because ``has()`` must be
    able to reject a malformed one; ``features``/``plans`` are ``fea``/``pla`` or ``''``.
    """

    user_id: str | None
    session_id: str | None
    session_status: str | None
    actor: dict[str, Any] | None
    factor_verification_age: object
    org_id: str | None
    org_slug: str | None
    org_role: str | None
    org_permissions: tuple[str, ...] | None
    features: str
    plans: str
    raw: dict[str, Any]
    #: ``SignedInAuth.identity``, filled on its first use and then shared by every signed-in object built on
    #: these claims: the hits of one cached verdict while its claims are recent
    identity_memo: Identity | None = field(default=None, init=False, repr=False, compare=False)


def split_by_scope(claim: str) -> ScopedValues:
    """Clerk's ``splitByScope``: ``'o:a,u:b,uo:c'`` → org ``(a, c)``, user ``(b, c)``; other scopes are ignored.

    Each element is trimmed and split at its first ``:``; an element without one raises ``ValueError`` with
    Clerk's message, as JS throws.
    """
    org: list[str] = []
    user: list[str] = []
    if not claim:
        return ScopedValues((), ())
    for element in claim.split(","):
        part = element.strip(JS_WHITESPACE)
        scope, colon, value = part.partition(":")
        if not colon:
            raise ValueError(f"Invalid claim element (missing colon): {part}")
        if scope in _ORG_SCOPES:
            org.append(value)
        if scope in _USER_SCOPES:
            user.append(value)
    return ScopedValues(tuple(org), tuple(user))


def _low_bits(mask: str, width: int) -> int | None:
    """A decimal mask reduced to its lowest ``width`` bits; ``None`` unless it is all ASCII digits.

    Reducing chunk by chunk keeps the result exact at any size without ever converting a huge decimal
    string in one go (which Python refuses beyond 4300 digits).
    """
    if not _ASCII_DIGITS.fullmatch(mask):
        return None
    modulus = 1 << width
    value = 0
    for start in range(0, len(mask), _DIGITS_PER_STEP):
        chunk = mask[start : start + _DIGITS_PER_STEP]
        value = (value * 10 ** len(chunk) + int(chunk)) % modulus
    return value


def decode_org_permissions(org_features: tuple[str, ...], per: str, fpm: str) -> tuple[str, ...]:
    """Clerk's ``parsePermissions`` + ``buildOrgPermissions``: ``org:<feature>:<permission>`` for every set bit.

    ``fpm``'s i-th mask belongs to the i-th org-scoped feature; bit j (little-endian) grants ``per``'s j-th
    permission. Only set bits are visited, so a hostile token cannot make this quadratic.
    """
    if not per or not fpm:
        return ()
    permissions = [name.strip(JS_WHITESPACE) for name in per.split(",")]
    masks = fpm.split(",")
    granted: list[str] = []
    for feature, mask in zip(org_features, masks, strict=False):
        bits = _low_bits(mask.strip(JS_WHITESPACE), len(permissions))
        while bits:
            lowest = bits & -bits
            granted.append(f"org:{feature}:{permissions[lowest.bit_length() - 1]}")
            bits ^= lowest
    return tuple(granted)


@lru_cache(maxsize=PERMISSION_MEMO_SIZE)
def _shared_org_permissions(org_features: tuple[str, ...], per: str, fpm: str) -> tuple[str, ...]:
    """``decode_org_permissions``, once per distinct input: every member of one role in one organization has
    the same ``fea``/``per``/``fpm``, so their verdicts share one tuple of permission strings."""
    return tuple(sys.intern(permission) for permission in decode_org_permissions(org_features, per, fpm))


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _required_str_claim(name: str, value: object) -> str:
    """A claim JS calls ``.split`` on: falsy reads as ``''``; any other non-string is refused, as JS throws."""
    if not js_truthy(value):
        return ""
    if not isinstance(value, str):
        raise TokenVerificationError(Reason.TOKEN_INVALID, f"Invalid claim: {name} must be a string")
    return value


def _v2_org(payload: Mapping[str, Any]) -> tuple[str | None, str | None, str | None, tuple[str, ...] | None]:
    """``(org_id, org_slug, org_role, org_permissions)`` of a v2 token; all ``None`` when ``o`` is falsy."""
    o = payload.get("o")
    if not js_truthy(o):
        return None, None, None, None
    org: Mapping[str, Any] = o if isinstance(o, dict) else {}
    try:
        org_features = split_by_scope(_required_str_claim("fea", payload.get("fea"))).org
    except ValueError as exc:
        raise TokenVerificationError(Reason.TOKEN_INVALID, str(exc)) from exc
    per, fpm = org.get("per"), org.get("fpm")
    permissions = (
        _shared_org_permissions(org_features, _required_str_claim("o.per", per), _required_str_claim("o.fpm", fpm))
        if js_truthy(per) and js_truthy(fpm)
        else ()
    )
    role = org.get("rol")
    return (
        _optional_str(org.get("id")),
        _optional_str(org.get("slg")),
        sys.intern(f"org:{role}") if isinstance(role, str) and role else None,
        permissions,
    )


def _v1_permissions(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(item for item in value if isinstance(item, str))


def is_v2(payload: Mapping[str, Any]) -> bool:
    """``claims.v === 2``: the number 2 (``2.0`` too), never ``true`` or ``"2"``."""
    version = payload.get("v")
    return isinstance(version, int | float) and not isinstance(version, bool) and version == 2


def parse_session_claims(payload: dict[str, Any]) -> SessionClaims:
    """The auth-object fields of a verified session-token payload, v1 or v2 (clerk-semantics §16.1)."""
    if is_v2(payload):
        org_id, org_slug, org_role, org_permissions = _v2_org(payload)
    else:
        org_id = _optional_str(payload.get("org_id"))
        org_slug = _optional_str(payload.get("org_slug"))
        org_role = _optional_str(payload.get("org_role"))
        org_permissions = _v1_permissions(payload.get("org_permissions"))
    actor = payload.get("act")
    fva = payload.get("fva")
    features = payload.get("fea")
    plans = payload.get("pla")
    return SessionClaims(
        user_id=_optional_str(payload.get("sub")),
        session_id=_optional_str(payload.get("sid")),
        session_status=_optional_str(payload.get("sts")),
        actor=actor if isinstance(actor, dict) else None,
        factor_verification_age=tuple(fva) if isinstance(fva, list) else fva,
        org_id=org_id,
        org_slug=org_slug,
        org_role=org_role,
        org_permissions=org_permissions,
        features=features if isinstance(features, str) else "",
        plans=plans if isinstance(plans, str) else "",
        raw=payload,
    )


def session_identity(claims: SessionClaims) -> Identity:
    """A session's identity strings, computed on first use and kept with the claims, so that every signed-in
    object built on them (every hit of one cached verdict) and the verdict itself share one copy; the
    permission list is joined once and shared by the sessions of one role."""
    identity = claims.identity_memo
    if identity is None:
        actor_id = claims.actor.get("sub") if claims.actor is not None else None
        identity = Identity(
            user_id=claims.user_id or "",
            session_id=claims.session_id or "",
            session_status=claims.session_status or "",
            org_id=claims.org_id or "",
            org_slug=claims.org_slug or "",
            org_role=claims.org_role or "",
            org_permissions=sys.intern(",".join(claims.org_permissions or ())),
            actor_id=actor_id if isinstance(actor_id, str) else "",
            token_type=SESSION_TOKEN,
        )
        object.__setattr__(claims, "identity_memo", identity)  # a lazily filled slot of a frozen object
    return identity
