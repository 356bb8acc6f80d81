"""Clerk's ``verifyToken``: one session token, checked in Clerk's order, failing with Clerk's reason and message.

Order (clerk-semantics §14.1; the first failure wins)::

    decode → category guard → header policy → key → typ → alg → signature
           → sub → aud → azp → iss → exp → nbf → iat → (sid, lifetime: opt-in policy)

The signature is checked before any claim, as Clerk does, so a forged token learns nothing from the claim
checks. Where Clerk is lenient with hostile input, jwt-attacks §1 decides, with Clerk's closest reason:

* header members ``crit``, ``b64``, ``zip``, ``enc``, ``cty``, ``jku``, ``x5u``, ``jwk``, ``x5c`` are refused
  before any key is looked up (``token-invalid``);
* ``sub`` must be a non-empty string; ``exp``/``nbf``/``iat`` must be numbers that are real JavaScript dates
  (not ``true``, not infinite, not beyond year 275760, where Clerk's comparisons silently pass);
* RS256 is the only algorithm that can succeed: RS384/RS512 pass Clerk's ``alg`` check but always fail its
  signature step against Clerk's RS256-tagged keys, and we reproduce that failure exactly;
* a token the strict decoding refuses (an empty signature, padding, duplicate members, an oversized header) is never
  accepted, but where Clerk's lenient ``decodeJwt`` reads it and Clerk's checks refuse it, the error is Clerk's
  (``alg: none`` with an empty signature is ``token-invalid-algorithm``), so the refresh and handshake flows and the
  reason a client sees are Clerk's; only a token Clerk would accept gets the strict ``token-invalid``.

Our additions that Clerk has no rule for at all (``sid`` required, a lifetime cap) are options, off by default,
and run after Clerk's checks, so whenever Clerk rejects a token we reject it with Clerk's reason, which drives
the refresh and handshake flows. ``sid`` is not required by default because Clerk's ``verifyToken`` also
verifies JWT-template tokens, which carry none; the service turns it on (``from_settings``).

joserfc imports and checks the keys (``rules/keys.py``); the RSA arithmetic is ``cryptography``'s, on the key
object joserfc checked, and its exceptions are translated here and nowhere else. Messages are rendered as
JavaScript renders them (``JSON.stringify``, ``Date.toUTCString``) because Clerk's messages are part of the
contract: debug headers, logs and the conformance table compare them byte for byte.

This module is longer than most on purpose: it is one check sequence, and splitting it would hide the order
that decides which failure a token reports.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from clerk_authd.errors import Action, TokenVerificationError
from clerk_authd.js.values import MAX_DATE_MS, UNDEFINED, js_json, js_time_ms, js_truthy
from clerk_authd.reasons import Reason
from clerk_authd.rules.jwt import DecodedJwt, decode_jwt, decode_jwt_loosely
from clerk_authd.rules.keys import KeyResolver, VerificationKey

#: Clerk's ``DEFAULT_CLOCK_SKEW_IN_MS``, also used when the configured skew is not a finite number.
DEFAULT_CLOCK_SKEW_MS: Final = 5000.0
#: The ``cat`` header value of machine-to-machine tokens, which ``verifyToken`` refuses as session tokens.
M2M_TOKEN_CATEGORY: Final = "cl_B7d4PD333AAA"
#: The algorithms Clerk's ``alg`` check lets through (``jwt/algorithms.ts``); only RS256 can then succeed.
CLERK_ALGORITHMS: Final = ("RS256", "RS384", "RS512")
#: What WebCrypto answers when a JWK tagged ``alg: RS256`` is imported for RS384/RS512, as Clerk stringifies it.
#: The handshake-token path, which wraps it in its own message, uses it too.
KEY_ALGORITHM_MISMATCH: Final = 'Error: JWK "alg" does not match the requested algorithm'
#: Header members a session token must not carry (jwt-attacks §1, "Header"): extensions we do not implement,
#: JWE and nesting markers, and keys or key URLs that a token must never choose for itself.
FORBIDDEN_HEADER_MEMBERS: Final = ("crit", "b64", "zip", "enc", "cty", "jku", "x5u", "jwk", "x5c")

_PKCS1V15: Final = padding.PKCS1v15()
_SHA256: Final = hashes.SHA256()


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    """Clerk's ``VerifyTokenOptions`` in snake_case, plus our opt-in policies.

    ``issuers`` ``None`` means no ``iss`` check (Clerk's default); an empty tuple accepts no issuer.
    ``require_sid`` and ``max_lifetime_s`` (seconds from now to ``exp``) have no Clerk counterpart.
    """

    keys: KeyResolver | None = None
    authorized_parties: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    issuers: tuple[str, ...] | None = None
    clock_skew_ms: float = DEFAULT_CLOCK_SKEW_MS
    header_type: tuple[str, ...] | None = None
    clock: Callable[[], float] = time.time
    require_sid: bool = False
    max_lifetime_s: float | None = None


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token that passed every check; ``kid`` names the key that verified it (``None`` for a PEM key)."""

    payload: dict[str, Any]
    kid: str | None


async def verify_token(token: str, options: VerifyOptions) -> dict[str, Any]:
    """Clerk's public ``verifyToken``: the verified payload, or the first ``TokenVerificationError``."""
    return (await verify_session_token(token, options)).payload


async def verify_session_token(token: str, options: VerifyOptions, decoded: DecodedJwt | None = None) -> VerifiedToken:
    """Verify ``token`` exactly as Clerk's ``verifyToken`` does, with our stricter policy for hostile input.

    ``decoded``: ``decode_jwt(token)``, when the caller already has it (a verification miss decodes once).
    """
    if decoded is None:
        try:
            decoded = decode_jwt(token)
        except TokenVerificationError as strict:
            raise await clerks_refusal(
                token, strict, lambda lenient: _verify_decoded_session(lenient, options)
            ) from None
    return await _verify_decoded_session(decoded, options)


async def clerks_refusal(
    token: str, strict: TokenVerificationError, clerks_checks: Callable[[DecodedJwt], Awaitable[object]]
) -> TokenVerificationError:
    """The error for a token our strict decoding refuses: Clerk's own where Clerk, decoding it leniently, refuses it
    too in ``clerks_checks`` (``alg: none`` with an empty signature is ``token-invalid-algorithm`` there), else the
    strict one.

    The lenient decoding only ever names Clerk's reason; a token is never accepted on it.
    """
    lenient = decode_jwt_loosely(token)
    if lenient is None:
        return strict
    try:
        await clerks_checks(lenient)
    except TokenVerificationError as clerk:
        return clerk
    return strict


async def _verify_decoded_session(decoded: DecodedJwt, options: VerifyOptions) -> VerifiedToken:
    """``verifyToken`` after its decoding: the machine-category guard, then ``verify_decoded_jwt``."""
    _check_session_category(decoded)
    return await verify_decoded_jwt(decoded, options)


def verify_decoded_session_now(decoded: DecodedJwt, options: VerifyOptions) -> VerifiedToken | None:
    """``verify_session_token`` of a token that decoded strictly (``decoded``), when the key it names is at hand
    (``KeyResolver.key_now``): the same checks in the same order, the same result or error, with nothing
    awaited. ``None`` when the key is not at hand, and only then: ``verify_session_token`` would wait for it."""
    _check_session_category(decoded)
    _check_header_members(decoded.header)
    kid = decoded.header.get("kid")
    keys = options.keys
    key = keys.key_now(kid if isinstance(kid, str) and kid else None) if keys is not None else None
    return _verify_with_key(decoded, key, options) if key is not None else None


def _check_session_category(decoded: DecodedJwt) -> None:
    if decoded.header.get("cat") == M2M_TOKEN_CATEGORY:
        raise TokenVerificationError(
            Reason.TOKEN_INVALID, "Invalid session token category.", Action.ENSURE_CLERK_JWT, check="header"
        )


async def verify_decoded_jwt(decoded: DecodedJwt, options: VerifyOptions) -> VerifiedToken:
    """Everything ``verify_session_token`` checks after its category guard: header policy, key, typ, alg,
    signature, claims. Machine JWTs (``machine.py``) come here after their own category guard, as Clerk's
    ``verifyMachineJwt`` resolves the key and calls the same ``verifyJwt``."""
    _check_header_members(decoded.header)
    key = await _resolve_key(decoded.header.get("kid"), options.keys)
    return _verify_with_key(decoded, key, options)


def _check_header_members(header: Mapping[str, Any]) -> None:
    for name in FORBIDDEN_HEADER_MEMBERS:
        if name in header:
            raise TokenVerificationError(
                Reason.TOKEN_INVALID,
                f"Unsupported JWT header parameter {js_json(name)}.",
                Action.ENSURE_CLERK_JWT,
                check="header",
            )


def _verify_with_key(decoded: DecodedJwt, key: VerificationKey, options: VerifyOptions) -> VerifiedToken:
    """The checks after the key is resolved: typ, alg, signature, claims."""
    header = decoded.header
    check_header_type(header.get("typ", UNDEFINED), options.header_type)
    alg = header.get("alg", UNDEFINED)
    check_algorithm(alg)
    if alg != "RS256":
        raise TokenVerificationError(
            Reason.TOKEN_VERIFICATION_FAILED,
            f"Error verifying JWT signature. {KEY_ALGORITHM_MISMATCH}",
            Action.ENSURE_CLERK_JWT,
            check="alg",
        )
    if not rs256_signature_is_valid(decoded, key):
        raise TokenVerificationError(Reason.TOKEN_INVALID_SIGNATURE, "JWT signature is invalid.", check="signature")
    _check_claims(decoded.payload, options)
    return VerifiedToken(payload=decoded.payload, kid=key.kid)


def rs256_signature_is_valid(decoded: DecodedJwt, key: VerificationKey) -> bool:
    """Whether ``decoded`` carries a valid RSASSA-PKCS1-v1_5 SHA-256 signature by ``key``.

    The arithmetic is ``cryptography``'s, on the public key joserfc imported and checked
    (``VerificationKey.public_key``): what joserfc's RS256 does, without its per-call key-operation checks. A key
    joserfc cannot use proves nothing, so it and any library error count as an invalid signature (fail closed).
    """
    public_key = key.public_key
    if public_key is None:
        return False
    try:
        public_key.verify(decoded.signature, decoded.signing_input, _PKCS1V15, _SHA256)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


async def _resolve_key(kid: object, keys: KeyResolver | None) -> VerificationKey:
    """Clerk's key step; the resolver sees the ``kid`` only when it is a non-empty string."""
    if keys is None:
        raise TokenVerificationError(
            Reason.JWK_FAILED_TO_RESOLVE,
            "Failed to resolve JWK during verification.",
            Action.SET_CLERK_JWT_KEY,
            check="key",
        )
    return await keys.get_key(kid if isinstance(kid, str) and kid else None)


def check_header_type(typ: object, header_type: tuple[str, ...] | None) -> None:
    """Clerk's ``assertHeaderType``: no ``typ`` (``UNDEFINED``) passes only when no ``header_type`` was asked
    for; otherwise ``typ`` must be one of ``header_type`` (default ``JWT``). The handshake token passes ``None``."""
    if typ is UNDEFINED and header_type is None:
        return
    allowed = header_type if header_type is not None else ("JWT",)
    if not (isinstance(typ, str) and typ in allowed):
        raise TokenVerificationError(
            Reason.TOKEN_INVALID,
            f'Invalid JWT type {js_json(typ)}. Expected "{", ".join(allowed)}".',
            Action.ENSURE_CLERK_JWT,
            check="typ",
        )


def check_algorithm(alg: object) -> None:
    """Clerk's ``assertHeaderAlgorithm``: ``alg`` must be one of ``CLERK_ALGORITHMS`` (only RS256 can then verify)."""
    if not (isinstance(alg, str) and alg in CLERK_ALGORITHMS):
        raise TokenVerificationError(
            Reason.TOKEN_INVALID_ALGORITHM,
            f"Invalid JWT algorithm {js_json(alg)}. Supported: {','.join(CLERK_ALGORITHMS)}.",
            Action.ENSURE_CLERK_JWT,
            check="alg",
        )


def _check_claims(payload: Mapping[str, Any], options: VerifyOptions) -> None:
    """Clerk's claim assertions in Clerk's order, then our opt-in policies."""
    sub = payload.get("sub", UNDEFINED)
    if not (isinstance(sub, str) and sub):
        raise TokenVerificationError(
            Reason.TOKEN_VERIFICATION_FAILED,
            f"Subject claim (sub) is required and must be a string. Received {js_json(sub)}.",
            Action.ENSURE_CLERK_JWT,
            check="sub",
        )
    _check_audience(payload.get("aud", UNDEFINED), options.audience)
    if options.authorized_parties:
        azp = payload.get("azp", UNDEFINED)
        if not (isinstance(azp, str) and azp and azp in options.authorized_parties):
            expected = ",".join(options.authorized_parties)
            raise TokenVerificationError(
                Reason.TOKEN_INVALID_AUTHORIZED_PARTIES,
                f'Invalid JWT Authorized party claim (azp) {js_json(azp)}. Expected "{expected}".',
                check="azp",
            )
    if options.issuers is not None:
        iss = payload.get("iss", UNDEFINED)
        if not (isinstance(iss, str) and iss in options.issuers):
            raise TokenVerificationError(
                Reason.TOKEN_INVALID_ISSUER,
                f'Invalid JWT issuer claim (iss) {js_json(iss)}. Expected "{", ".join(options.issuers)}".',
                Action.ENSURE_CLERK_JWT,
                check="iss",
            )
    now_ms = float(math.floor(options.clock() * 1000))
    skew = clock_skew_ms(options.clock_skew_ms)
    exp_ms = _time_claim_ms(payload, "exp", "expiry date")
    if exp_ms is None:  # required: a missing exp reads as undefined and fails the number check
        raise _not_a_number("exp", "expiry date", UNDEFINED)
    if exp_ms <= now_ms - skew:
        raise TokenVerificationError(
            Reason.TOKEN_EXPIRED,
            f"JWT is expired. Expiry date: {js_time_ms(exp_ms)}, Current date: {js_time_ms(now_ms)}.",
            check="exp",
        )
    nbf_ms = _time_claim_ms(payload, "nbf", "not before date")
    if nbf_ms is not None and nbf_ms > now_ms + skew:
        raise TokenVerificationError(
            Reason.TOKEN_NOT_ACTIVE_YET,
            "JWT cannot be used prior to not before date claim (nbf). "
            f"Not before date: {js_time_ms(nbf_ms)}; Current date: {js_time_ms(now_ms)};",
            check="nbf",
        )
    iat_ms = _time_claim_ms(payload, "iat", "issued at date")
    if iat_ms is not None and iat_ms > now_ms + skew:
        raise TokenVerificationError(
            Reason.TOKEN_IAT_IN_THE_FUTURE,
            "JWT issued at date claim (iat) is in the future. "
            f"Issued at date: {js_time_ms(iat_ms)}; Current date: {js_time_ms(now_ms)};",
            check="iat",
        )
    _check_policy(payload, options, exp_ms=exp_ms, now_ms=now_ms)


def _check_audience(aud: object, audience: tuple[str, ...]) -> None:
    """Clerk's lenient ``assertAudienceClaim``: checked only when both sides are non-empty once falsy values go."""
    wanted = [item for item in audience if item]
    present = [item for item in (aud if isinstance(aud, list) else [aud]) if js_truthy(item)]
    if not wanted or not present:
        return
    if isinstance(aud, str) and aud not in wanted:
        raise TokenVerificationError(
            Reason.TOKEN_VERIFICATION_FAILED,
            f'Invalid JWT audience claim (aud) {js_json(aud)}. Is not included in "{js_json(wanted)}".',
            Action.ENSURE_CLERK_JWT,
            check="aud",
        )
    strings = isinstance(aud, list) and all(isinstance(item, str) for item in aud)
    if strings and not any(item in wanted for item in present):  # any other type of aud passes, as in Clerk
        raise TokenVerificationError(
            Reason.TOKEN_VERIFICATION_FAILED,
            f'Invalid JWT audience claim array (aud) {js_json(aud)}. Is not included in "{js_json(wanted)}".',
            Action.ENSURE_CLERK_JWT,
            check="aud",
        )


def _check_policy(payload: Mapping[str, Any], options: VerifyOptions, *, exp_ms: float, now_ms: float) -> None:
    """Our opt-in checks, which Clerk has no rule for (jwt-attacks §3.11 lifetime, §3.12 ``sid``)."""
    if options.require_sid:
        sid = payload.get("sid", UNDEFINED)
        if not (isinstance(sid, str) and sid):
            raise TokenVerificationError(
                Reason.TOKEN_VERIFICATION_FAILED,
                f"Session claim (sid) is required and must be a string. Received {js_json(sid)}.",
                Action.ENSURE_CLERK_JWT,
                check="sid",
            )
    if options.max_lifetime_s is not None and exp_ms - now_ms > options.max_lifetime_s * 1000:
        raise TokenVerificationError(
            Reason.TOKEN_VERIFICATION_FAILED,
            f"JWT expiry date claim (exp) is too far in the future. Expiry date: {js_time_ms(exp_ms)}, "
            f"Current date: {js_time_ms(now_ms)}.",
            Action.ENSURE_CLERK_JWT,
            check="exp",
        )


def _time_claim_ms(payload: Mapping[str, Any], name: str, label: str) -> float | None:
    """The claim as JS ``new Date(0).setUTCSeconds(value)`` milliseconds; ``None`` when absent.

    Clerk only asks ``typeof value === 'number'``; we also refuse ``true`` (a Python ``int``), infinities and
    values past JavaScript's date range, for which every one of Clerk's comparisons is silently false.
    """
    if name not in payload:
        return None
    value = payload[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _not_a_number(name, label, value)
    ms = math.trunc(value) * 1000  # setUTCSeconds drops the fraction
    if abs(ms) > MAX_DATE_MS:
        raise _not_a_number(name, label, value)
    return float(ms)


def _not_a_number(name: str, label: str, value: object) -> TokenVerificationError:
    return TokenVerificationError(
        Reason.TOKEN_VERIFICATION_FAILED,
        f"Invalid JWT {label} claim ({name}) {js_json(value)}. Expected number.",
        Action.ENSURE_CLERK_JWT,
        check=name,
    )


def clock_skew_ms(value: object) -> float:
    """Clerk's skew: the option when it is a finite number, else 5000 ms (NaN and Infinity included).

    ``authenticate`` bounds its cached verdicts with the same skew, so both read the option through this."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return DEFAULT_CLOCK_SKEW_MS
