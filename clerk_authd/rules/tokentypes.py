"""What kind of token a string is, by Clerk's rules (clerk-semantics §18 "Classification", §4 step 1).

Classification only: it decides which path a token takes (session verification, machine verification, or a
``token-type-mismatch``), never whether it is valid. Opaque machine tokens are recognised by prefix; machine
JWTs by their header ``typ`` (OAuth) or ``sub`` (M2M); a JWT's ``cat`` header names its category. Clerk reads
them with its lenient ``decodeJwt``, so do we: a padded M2M JWT is Clerk's ``token-type-mismatch`` here too.
"""

from __future__ import annotations

from typing import Final, Literal, TypeGuard

from clerk_authd.rules.jwt import DecodedJwt, decode_jwt_loosely, looks_like_jwt

TokenType = Literal["session_token", "api_key", "m2m_token", "oauth_token"]
MachineTokenType = Literal["api_key", "m2m_token", "oauth_token"]
SESSION_TOKEN: Final = "session_token"
#: every token type, in Clerk's ``TokenType`` order
TOKEN_TYPES: Final = ("session_token", "api_key", "m2m_token", "oauth_token")
MACHINE_TOKEN_TYPES: Final = frozenset({"api_key", "m2m_token", "oauth_token"})
#: ``acceptsToken`` as Clerk takes it: ``'any'``, one type, or a tuple (JS's array)
AcceptsToken = str | tuple[str, ...]

M2M_TOKEN_PREFIX: Final = "mt_"
OAUTH_TOKEN_PREFIX: Final = "oat_"
API_KEY_PREFIX: Final = "ak_"
#: the header types of an OAuth access-token JWT, in Clerk's order (``OAUTH_ACCESS_TOKEN_TYPES``)
OAUTH_JWT_TYPES: Final = ("at+jwt", "application/at+jwt")
M2M_SUBJECT_PREFIX: Final = "mch_"
#: ``tokens/jwtCategories.ts``: the categories a session token may carry in its ``cat`` header
SESSION_CATEGORY: Final = "cl_B7d4PD111AAA"
IGNORE_CATEGORY: Final = "cl_I7d4PD111III"
M2M_CATEGORY: Final = "cl_B7d4PD333AAA"


def is_machine_token_type(value: object) -> TypeGuard[MachineTokenType]:
    """True for ``api_key``, ``m2m_token`` and ``oauth_token``."""
    return value in MACHINE_TOKEN_TYPES


def parse_accepts_token(raw: str) -> tuple[str, ...]:
    """An accepted-token list (``any`` or token types, comma-separated), as ``CLERK_AUTHD_ACCEPTS_TOKEN`` and
    ``?accepts=`` give it; ``ValueError`` naming the choices otherwise."""
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    if items == ("any",):
        return items
    unknown = [item for item in items if item not in TOKEN_TYPES]
    if unknown or not items:
        raise ValueError(f"expected 'any' or a comma list of {', '.join(TOKEN_TYPES)}")
    return tuple(dict.fromkeys(items))


def accepts_option(accepts: tuple[str, ...]) -> AcceptsToken:
    """A configured list as Clerk's ``acceptsToken``: one name as itself (``'any'`` included), more as a list."""
    return accepts[0] if len(accepts) == 1 else accepts


def is_token_type_accepted(token_type: str, accepts: AcceptsToken) -> bool:
    """Clerk's ``isTokenTypeAccepted``."""
    return accepts == "any" or (token_type in accepts if isinstance(accepts, tuple) else token_type == accepts)


def is_oauth_jwt(token: str, decoded: DecodedJwt | None = None) -> bool:
    """A JWT whose header ``typ`` is ``at+jwt`` or ``application/at+jwt``.

    ``decoded``: the token's strict ``decode_jwt``, when the caller has it; else Clerk's lenient decoding is read
    (``clerks_decoding``).
    """
    return looks_like_jwt(token) and _is_oauth(clerks_decoding(token, decoded))


def is_m2m_jwt(token: str, decoded: DecodedJwt | None = None) -> bool:
    """A JWT whose payload ``sub`` is a string starting with ``mch_`` (``decoded`` as for ``is_oauth_jwt``)."""
    return looks_like_jwt(token) and _is_m2m(clerks_decoding(token, decoded))


def is_machine_jwt(token: str, decoded: DecodedJwt | None = None) -> bool:
    """Clerk's ``isMachineJwt``: an OAuth access-token JWT or an M2M JWT (``decoded`` as for ``is_oauth_jwt``)."""
    if not looks_like_jwt(token):
        return False
    decoding = clerks_decoding(token, decoded)
    return _is_oauth(decoding) or _is_m2m(decoding)


def clerks_decoding(token: str, decoded: DecodedJwt | None) -> DecodedJwt | None:
    """What Clerk's classifiers read of ``token``: ``decoded`` (its strict decoding) when given, else the lenient one.

    Where the strict ``decode_jwt`` succeeds, Clerk's lenient ``decodeJwt`` reads the same header and payload, so a
    verification miss decodes once and classifies on that; only a token the strict decoding refuses is decoded
    again, leniently, as Clerk would.
    """
    return decoded if decoded is not None else decode_jwt_loosely(token)


def _is_oauth(decoded: DecodedJwt | None) -> bool:
    return decoded is not None and decoded.header.get("typ") in OAUTH_JWT_TYPES


def _is_m2m(decoded: DecodedJwt | None) -> bool:
    subject = decoded.payload.get("sub") if decoded is not None else None
    return isinstance(subject, str) and subject.startswith(M2M_SUBJECT_PREFIX)


def is_machine_token(token: str) -> bool:
    """Clerk's ``isMachineToken``: an ``mt_``/``oat_``/``ak_`` token (case-sensitive) or a machine JWT."""
    return token.startswith((M2M_TOKEN_PREFIX, OAUTH_TOKEN_PREFIX, API_KEY_PREFIX)) or is_machine_jwt(token)


def get_machine_token_type(token: str) -> MachineTokenType:
    """Clerk's ``getMachineTokenType``; raises ``ValueError('Unknown machine token type')`` for anything else."""
    if token.startswith(M2M_TOKEN_PREFIX) or is_m2m_jwt(token):
        return "m2m_token"
    if token.startswith(OAUTH_TOKEN_PREFIX) or is_oauth_jwt(token):
        return "oauth_token"
    if token.startswith(API_KEY_PREFIX):
        return "api_key"
    raise ValueError("Unknown machine token type")


def has_non_session_jwt_category(token: str, decoded: DecodedJwt | None = None) -> bool:
    """Clerk's ``hasNonSessionJwtCategory``: the header has a ``cat`` that is neither session nor ignore
    (``decoded`` as for ``is_oauth_jwt``)."""
    decoded = clerks_decoding(token, decoded)
    if decoded is None or "cat" not in decoded.header:
        return False
    return decoded.header["cat"] not in (SESSION_CATEGORY, IGNORE_CATEGORY)
