"""Clerk's ``verifyToken`` (clerk-semantics §14.1–§14.4, §20), checked with Clerk's fixtures at Clerk's frozen clock.

Every message is compared byte for byte: Clerk's messages reach clients in debug headers and are pinned by the
conformance table, which is loaded and replayed here for every Authorization-header session token it holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import pytest

from clerk_authd.clerk.keystore import MSG_KID_MISMATCH
from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.clerk.tokens import (
    VerifiedToken,
    VerifyOptions,
    rs256_signature_is_valid,
    verify_decoded_session_now,
    verify_session_token,
    verify_token,
)
from clerk_authd.config import Settings
from clerk_authd.errors import Action, TokenVerificationError
from clerk_authd.js.values import UNDEFINED
from clerk_authd.reasons import Reason
from clerk_authd.rules.jwt import MSG_NOT_THREE_PARTS, MSG_UNDECODABLE, decode_jwt, peek_jwt
from clerk_authd.rules.keys import PemKey, VerificationKey
from clerk_authd.testing.mint import TokenMint, b64url
from tests.conftest import FIXTURES, FROZEN_NOW, load_conformance
from tests.support import AZP, ISSUER, KID, assert_verified_now_refuses_alike, claims, mock_jwks

NOW_UTC = "Mon, 24 Oct 2022 21:50:50 GMT"  # FROZEN_NOW as JS's toUTCString renders it
IN_A_MINUTE_UTC = "Mon, 24 Oct 2022 21:51:50 GMT"
ENSURE = Action.ENSURE_CLERK_JWT


class FixedKey:
    """A resolver that always answers one key (like ``PemKey``) and records the kid it was given."""

    def __init__(self, key: VerificationKey) -> None:
        self.key = key
        self.requested: list[str | None] = []

    async def get_key(self, kid: str | None) -> VerificationKey:
        self.requested.append(kid)
        return self.key

    def key_now(self, kid: str | None) -> VerificationKey:
        self.requested.append(kid)
        return self.key


def options(**overrides: Any) -> VerifyOptions:
    """Verification at Clerk's frozen clock against ``mockJwks`` unless overridden."""
    settings: dict[str, Any] = {"keys": mock_jwks(), "clock": lambda: FROZEN_NOW}
    settings.update(overrides)
    return VerifyOptions(**settings)


def at(offset_s: float) -> Callable[[], float]:
    """A clock frozen ``offset_s`` seconds after Clerk's frozen instant."""
    return lambda: FROZEN_NOW + offset_s


async def rejection(token: str, opts: VerifyOptions) -> TokenVerificationError:
    """The error ``verify_session_token`` raises (and the test fails if it raises nothing or anything else).

    Where the token decodes strictly, ``verify_decoded_session_now`` (the service's lanes) must raise the same
    error, or, only when the key is not at hand, give ``None``: so every rejection here holds the two equal.
    """
    with pytest.raises(TokenVerificationError) as caught:
        await verify_session_token(token, opts)
    error = caught.value
    decoded = peek_jwt(token)
    if decoded is not None:
        assert_verified_now_refuses_alike(decoded, opts, error)
    return error


# --- Clerk's fixtures (§14.8) ------------------------------------------------------------------------------------


async def test_mock_jwt_verifies_against_mock_jwks_at_the_frozen_clock() -> None:
    """``mockJwt`` verifies against ``mockJwks`` with Clerk's authorized party; the payload is returned unchanged."""
    verified = await verify_session_token(FIXTURES["mockJwt"], options(authorized_parties=(AZP,)))
    assert verified == VerifiedToken(payload=FIXTURES["mockJwtPayload"], kid=KID)


async def test_with_its_key_at_hand_a_token_verifies_at_once_as_it_verifies_awaited(fixture_mint: TokenMint) -> None:
    """``verify_decoded_session_now`` gives ``verify_session_token``'s result when the key is loaded, and ``None``
    (nothing refused, nothing fetched) when it is not; a PEM key is always at hand."""
    opts = options(authorized_parties=(AZP,))
    mock = decode_jwt(FIXTURES["mockJwt"])
    assert verify_decoded_session_now(mock, opts) == await verify_session_token(FIXTURES["mockJwt"], opts)
    unknown_kid = decode_jwt(fixture_mint.sign(claims(), header={"kid": "ins_unknown"}))
    assert verify_decoded_session_now(unknown_kid, opts) is None
    assert verify_decoded_session_now(mock, options(keys=None)) is None
    pem = options(keys=PemKey(fixture_mint.public_pem))
    minted = fixture_mint.sign(claims())
    assert verify_decoded_session_now(decode_jwt(minted), pem) == await verify_session_token(minted, pem)


async def test_verify_token_returns_only_the_payload() -> None:
    """The public ``verify_token`` is Clerk's: it returns the payload or raises the first error."""
    assert await verify_token(FIXTURES["mockJwt"], options()) == FIXTURES["mockJwtPayload"]


async def test_a_pem_key_verifies_networklessly_and_ignores_the_kid(fixture_mint: TokenMint) -> None:
    """With ``jwtKey`` the token's kid is not consulted, even when absent, and the result carries no kid."""
    pem = PemKey(FIXTURES["signing_public_key_spki_pem"])
    for header in ({"kid": "whatever"}, {"kid": None}):
        verified = await verify_session_token(fixture_mint.sign(claims(), header=header), options(keys=pem))
        assert verified.kid is None


async def test_an_expired_token_with_a_bad_signature_reports_the_signature() -> None:
    """``mockInvalidSignatureJwt`` an hour later fails on its signature, never on its expiry (§14.8)."""
    error = await rejection(FIXTURES["mockInvalidSignatureJwt"], options(clock=at(3600)))
    assert (error.reason, error.message, error.action) == (
        Reason.TOKEN_INVALID_SIGNATURE,
        "JWT signature is invalid.",
        None,
    )


async def test_the_m2m_category_is_refused_before_any_key_lookup(fixture_mint: TokenMint) -> None:
    """A ``cat: cl_B7d4PD333AAA`` token fails as an invalid category and the resolver is never asked (§14.8)."""
    keys = mock_jwks()
    error = await rejection(fixture_mint.sign(claims(), header={"cat": "cl_B7d4PD333AAA"}), options(keys=keys))
    assert (error.reason, error.message, error.action) == (
        Reason.TOKEN_INVALID,
        "Invalid session token category.",
        ENSURE,
    )
    assert keys.requested == []


async def test_a_forbidden_header_member_is_refused_before_any_key_lookup(fixture_mint: TokenMint) -> None:
    """Our header policy runs before the key lookup, so a hostile header never causes a JWKS fetch."""
    keys = mock_jwks()
    error = await rejection(fixture_mint.sign(claims(), header={"jku": "http://127.0.0.1:9/jwks"}), options(keys=keys))
    assert error.reason == Reason.TOKEN_INVALID
    assert keys.requested == []


# --- The conformance table, replayed -----------------------------------------------------------------------------

_KNOWN_OPTIONS = {"publishableKey", "authorizedParties", "audience", "issuer", "clockSkewInMs", "jwtKey"}


def _as_tuple(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _header_token_cases() -> list[Any]:
    """Every conformance entry whose session token arrives as a Bearer token and reaches ``verifyToken``.

    Entries Clerk settles before verification (``token-type-mismatch``: a machine JWT, a non-session ``cat``,
    ``typ: at+jwt``) belong to the request layer and are left out here.
    """
    cases = []
    for entry in load_conformance():
        request = entry.get("input")
        if request is None or not request["headers"].get("authorization", "").startswith("Bearer "):
            continue
        if request["options"].get("acceptsToken", "session_token") != "session_token":
            continue
        if entry["reason"] == "token-type-mismatch":
            continue
        cases.append(pytest.param(entry, id=entry["label"]))
    return cases


@pytest.mark.parametrize("entry", _header_token_cases())
async def test_each_header_token_of_the_conformance_table(entry: dict[str, Any]) -> None:
    """Signed-in entries verify; otherwise the full message (carrier ``header``) is Clerk's, byte for byte."""
    request = entry["input"]
    settings = request["options"]
    assert set(settings) <= _KNOWN_OPTIONS, f"unmapped Clerk options {set(settings) - _KNOWN_OPTIONS}"
    opts = VerifyOptions(
        keys=PemKey(settings["jwtKey"]) if "jwtKey" in settings else mock_jwks(),
        authorized_parties=_as_tuple(settings.get("authorizedParties")),
        audience=_as_tuple(settings.get("audience")),
        issuers=_as_tuple(settings["issuer"]) if "issuer" in settings else None,
        clock_skew_ms=settings.get("clockSkewInMs", 5000),
        clock=lambda: float(request["now"]),
    )
    token = request["headers"]["authorization"].removeprefix("Bearer ")
    if entry["status"] == "signed-in":
        await verify_session_token(token, opts)
        return
    error = await rejection(token, opts)
    error.token_carrier = "header"
    assert error.full_message() == entry["message"]
    assert entry["message"].endswith(f"(reason={error.reason}, token-carrier=header)")


# --- Order of checks (§14.1) -------------------------------------------------------------------------------------

ORDER_CASES: list[Any] = [
    pytest.param(
        lambda mint: "a.b",
        {"keys": None},
        Reason.TOKEN_INVALID,
        MSG_NOT_THREE_PARTS,
        id="three parts before anything",
    ),
    pytest.param(
        lambda mint: mint.sign_segments(b64url(b'{"alg":"RS256","cat":"cl_B7d4PD333AAA"}'), "bm90LWpzb24"),
        {},
        Reason.TOKEN_INVALID,
        MSG_UNDECODABLE,
        id="decode before the category",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(), header={"cat": "cl_B7d4PD333AAA", "crit": ["exp"]}),
        {"keys": None},
        Reason.TOKEN_INVALID,
        "Invalid session token category.",
        id="category before header policy and keys",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(), header={"crit": ["exp"], "kid": "ins_unknown"}),
        {},
        Reason.TOKEN_INVALID,
        'Unsupported JWT header parameter "crit".',
        id="header policy before the key",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(), header={"typ": "JWS"}),
        {"keys": None},
        Reason.JWK_FAILED_TO_RESOLVE,
        "Failed to resolve JWK during verification.",
        id="missing keys before typ",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(), header={"typ": "JWS", "kid": "ins_unknown"}),
        {},
        Reason.JWK_KID_MISMATCH,
        MSG_KID_MISMATCH.format(kid="ins_unknown"),
        id="key before typ",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(), header={"typ": "JWS", "alg": "none"}),
        {},
        Reason.TOKEN_INVALID,
        'Invalid JWT type "JWS". Expected "JWT".',
        id="typ before alg",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(), header={"alg": "HS256"})[:-4] + "AAAA",
        {},
        Reason.TOKEN_INVALID_ALGORITHM,
        'Invalid JWT algorithm "HS256". Supported: RS256,RS384,RS512.',
        id="alg before signature",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(sub=UNDEFINED, exp=0))[:-4] + "AAAA",
        {},
        Reason.TOKEN_INVALID_SIGNATURE,
        "JWT signature is invalid.",
        id="signature before claims",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(sub=UNDEFINED, aud="y")),
        {"audience": ("x",)},
        Reason.TOKEN_VERIFICATION_FAILED,
        "Subject claim (sub) is required and must be a string. Received undefined.",
        id="sub before aud",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(aud="y")),
        {"audience": ("x",), "authorized_parties": ("whatever",)},
        Reason.TOKEN_VERIFICATION_FAILED,
        'Invalid JWT audience claim (aud) "y". Is not included in "["x"]".',
        id="aud before azp",
    ),
    pytest.param(
        lambda mint: mint.sign(claims()),
        {"authorized_parties": ("whatever",), "issuers": ("https://clerk.other.dev",)},
        Reason.TOKEN_INVALID_AUTHORIZED_PARTIES,
        f'Invalid JWT Authorized party claim (azp) "{AZP}". Expected "whatever".',
        id="azp before iss",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(exp=FROZEN_NOW - 3600)),
        {"issuers": ("https://clerk.other.dev",)},
        Reason.TOKEN_INVALID_ISSUER,
        f'Invalid JWT issuer claim (iss) "{ISSUER}". Expected "https://clerk.other.dev".',
        id="iss before exp",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(exp=FROZEN_NOW - 3600, nbf=FROZEN_NOW + 3600)),
        {},
        Reason.TOKEN_EXPIRED,
        None,
        id="exp before nbf",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(nbf=FROZEN_NOW + 3600, iat=FROZEN_NOW + 3600)),
        {},
        Reason.TOKEN_NOT_ACTIVE_YET,
        None,
        id="nbf before iat",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(sid=UNDEFINED, iat=FROZEN_NOW + 3600)),
        {"require_sid": True, "max_lifetime_s": 1},
        Reason.TOKEN_IAT_IN_THE_FUTURE,
        None,
        id="Clerk's checks before our opt-in policy",
    ),
    pytest.param(
        lambda mint: mint.sign(claims(sid=UNDEFINED)),
        {"require_sid": True, "max_lifetime_s": 1},
        Reason.TOKEN_VERIFICATION_FAILED,
        "Session claim (sid) is required and must be a string. Received undefined.",
        id="sid before lifetime",
    ),
]


@pytest.mark.parametrize(("build", "overrides", "reason", "message"), ORDER_CASES)
async def test_the_first_failing_check_in_clerks_order_wins(
    fixture_mint: TokenMint,
    build: Callable[[TokenMint], str],
    overrides: dict[str, Any],
    reason: str,
    message: str | None,
) -> None:
    """A token with two defects is rejected for the one Clerk checks first."""
    error = await rejection(build(fixture_mint), options(**overrides))
    assert error.reason == reason
    if message is not None:
        assert error.message == message


# --- Every message, byte for byte -------------------------------------------------------------------------------


def _raw_header(header_json: bytes) -> Callable[[TokenMint], str]:
    return lambda mint: mint.sign_bytes(header_json, _payload_json())


def _payload_json(**overrides: Any) -> bytes:
    return orjson.dumps(claims(**overrides))


def _signed(header: Mapping[str, Any] | None = None, **overrides: Any) -> Callable[[TokenMint], str]:
    return lambda mint: mint.sign(claims(**overrides), header=header)


def failure(
    build: Callable[[TokenMint], str],
    overrides: dict[str, Any],
    reason: str,
    message: str,
    action: str | None,
    *,
    id: str,
) -> Any:
    """One row of the message table: how to build the token, the options, and Clerk's (reason, message, action)."""
    return pytest.param(build, overrides, (reason, message, action), id=id)


MESSAGE_CASES: list[Any] = [
    failure(
        _signed(),
        {"keys": None},
        Reason.JWK_FAILED_TO_RESOLVE,
        "Failed to resolve JWK during verification.",
        Action.SET_CLERK_JWT_KEY,
        id="no keys",
    ),
    failure(
        _signed({"cat": "cl_B7d4PD333AAA"}),
        {},
        Reason.TOKEN_INVALID,
        "Invalid session token category.",
        ENSURE,
        id="m2m category",
    ),
    failure(
        _signed({"typ": "JWS"}),
        {},
        Reason.TOKEN_INVALID,
        'Invalid JWT type "JWS". Expected "JWT".',
        ENSURE,
        id="typ JWS",
    ),
    failure(
        _raw_header(b'{"alg":"RS256","kid":"' + KID.encode() + b'","typ":null}'),
        {},
        Reason.TOKEN_INVALID,
        'Invalid JWT type null. Expected "JWT".',
        ENSURE,
        id="typ null",
    ),
    failure(
        _signed({"typ": None}),
        {"header_type": ("JWT", "at+jwt")},
        Reason.TOKEN_INVALID,
        'Invalid JWT type undefined. Expected "JWT, at+jwt".',
        ENSURE,
        id="typ absent with header_type",
    ),
    failure(
        _signed({"alg": "none"}),
        {},
        Reason.TOKEN_INVALID_ALGORITHM,
        'Invalid JWT algorithm "none". Supported: RS256,RS384,RS512.',
        ENSURE,
        id="alg none",
    ),
    failure(
        _raw_header(b'{"kid":"' + KID.encode() + b'","typ":"JWT"}'),
        {},
        Reason.TOKEN_INVALID_ALGORITHM,
        "Invalid JWT algorithm undefined. Supported: RS256,RS384,RS512.",
        ENSURE,
        id="alg absent",
    ),
    failure(
        _raw_header(b'{"alg":256,"kid":"' + KID.encode() + b'"}'),
        {},
        Reason.TOKEN_INVALID_ALGORITHM,
        "Invalid JWT algorithm 256. Supported: RS256,RS384,RS512.",
        ENSURE,
        id="alg number",
    ),
    failure(
        lambda mint: mint.sign(claims(), alg="RS384"),
        {},
        Reason.TOKEN_VERIFICATION_FAILED,
        'Error verifying JWT signature. Error: JWK "alg" does not match the requested algorithm',
        ENSURE,
        id="RS384 against an RS256 key",
    ),
    failure(
        lambda mint: mint.sign(claims(), alg="RS512"),
        {},
        Reason.TOKEN_VERIFICATION_FAILED,
        'Error verifying JWT signature. Error: JWK "alg" does not match the requested algorithm',
        ENSURE,
        id="RS512 against an RS256 key",
    ),
    failure(
        lambda mint: FIXTURES["mockInvalidSignatureJwt"],
        {},
        Reason.TOKEN_INVALID_SIGNATURE,
        "JWT signature is invalid.",
        None,
        id="bad signature",
    ),
    failure(
        _signed({"crit": ["exp"]}),
        {},
        Reason.TOKEN_INVALID,
        'Unsupported JWT header parameter "crit".',
        ENSURE,
        id="crit",
    ),
    *(
        failure(
            _signed(sub=value),
            {},
            Reason.TOKEN_VERIFICATION_FAILED,
            f"Subject claim (sub) is required and must be a string. Received {shown}.",
            ENSURE,
            id=f"sub {shown}",
        )
        for value, shown in ((UNDEFINED, "undefined"), (123, "123"), (None, "null"), (["u"], '["u"]'), ("", '""'))
    ),
    failure(
        _signed(aud="y"),
        {"audience": ("x",)},
        Reason.TOKEN_VERIFICATION_FAILED,
        'Invalid JWT audience claim (aud) "y". Is not included in "["x"]".',
        ENSURE,
        id="aud string",
    ),
    failure(
        _signed(aud=["a", "b"]),
        {"audience": ("x", "", "y")},
        Reason.TOKEN_VERIFICATION_FAILED,
        'Invalid JWT audience claim array (aud) ["a","b"]. Is not included in "["x","y"]".',
        ENSURE,
        id="aud array",
    ),
    failure(
        _signed(),
        {"authorized_parties": ("whatever",)},
        Reason.TOKEN_INVALID_AUTHORIZED_PARTIES,
        f'Invalid JWT Authorized party claim (azp) "{AZP}". Expected "whatever".',
        None,
        id="azp mismatch",
    ),
    failure(
        _signed(azp=UNDEFINED),
        {"authorized_parties": ("https://a.example", "https://b.example")},
        Reason.TOKEN_INVALID_AUTHORIZED_PARTIES,
        'Invalid JWT Authorized party claim (azp) undefined. Expected "https://a.example,https://b.example".',
        None,
        id="azp missing",
    ),
    failure(
        _signed(),
        {"issuers": ("https://clerk.other.dev", "https://clerk.third.dev")},
        Reason.TOKEN_INVALID_ISSUER,
        f'Invalid JWT issuer claim (iss) "{ISSUER}". Expected "https://clerk.other.dev, https://clerk.third.dev".',
        ENSURE,
        id="iss mismatch",
    ),
    failure(
        _signed(iss=UNDEFINED),
        {"issuers": (ISSUER,)},
        Reason.TOKEN_INVALID_ISSUER,
        f'Invalid JWT issuer claim (iss) undefined. Expected "{ISSUER}".',
        ENSURE,
        id="iss missing",
    ),
    *(
        failure(
            _signed(exp=value),
            {},
            Reason.TOKEN_VERIFICATION_FAILED,
            f"Invalid JWT expiry date claim (exp) {shown}. Expected number.",
            ENSURE,
            id=f"exp {shown}",
        )
        for value, shown in (
            (UNDEFINED, "undefined"),
            ("1666648310", '"1666648310"'),
            (True, "true"),
            (None, "null"),
            (1e30, "1e+30"),
        )
    ),
    failure(
        _signed(nbf="x"),
        {},
        Reason.TOKEN_VERIFICATION_FAILED,
        'Invalid JWT not before date claim (nbf) "x". Expected number.',
        ENSURE,
        id="nbf string",
    ),
    failure(
        _signed(iat=[1]),
        {},
        Reason.TOKEN_VERIFICATION_FAILED,
        "Invalid JWT issued at date claim (iat) [1]. Expected number.",
        ENSURE,
        id="iat array",
    ),
    failure(
        _signed(exp=FROZEN_NOW - 10),
        {},
        Reason.TOKEN_EXPIRED,
        f"JWT is expired. Expiry date: Mon, 24 Oct 2022 21:50:40 GMT, Current date: {NOW_UTC}.",
        None,
        id="expired",
    ),
    failure(
        _signed(nbf=FROZEN_NOW + 60),
        {},
        Reason.TOKEN_NOT_ACTIVE_YET,
        "JWT cannot be used prior to not before date claim (nbf). "
        f"Not before date: {IN_A_MINUTE_UTC}; Current date: {NOW_UTC};",
        None,
        id="nbf in the future",
    ),
    failure(
        _signed(iat=FROZEN_NOW + 60),
        {},
        Reason.TOKEN_IAT_IN_THE_FUTURE,
        f"JWT issued at date claim (iat) is in the future. Issued at date: {IN_A_MINUTE_UTC}; Current date: {NOW_UTC};",
        None,
        id="iat in the future",
    ),
    failure(
        _signed(sid=1),
        {"require_sid": True},
        Reason.TOKEN_VERIFICATION_FAILED,
        "Session claim (sid) is required and must be a string. Received 1.",
        ENSURE,
        id="sid required",
    ),
    failure(
        _signed(),
        {"max_lifetime_s": 30},
        Reason.TOKEN_VERIFICATION_FAILED,
        "JWT expiry date claim (exp) is too far in the future. "
        f"Expiry date: {IN_A_MINUTE_UTC}, Current date: {NOW_UTC}.",
        ENSURE,
        id="lifetime cap",
    ),
]


@pytest.mark.parametrize(("build", "overrides", "expected"), MESSAGE_CASES)
async def test_each_failure_has_clerks_reason_message_and_action(
    fixture_mint: TokenMint,
    build: Callable[[TokenMint], str],
    overrides: dict[str, Any],
    expected: tuple[str, str, str | None],
) -> None:
    """Reason, message and action are Clerk's strings, with values rendered as JSON.stringify renders them."""
    error = await rejection(build(fixture_mint), options(**overrides))
    assert (error.reason, error.message, error.action) == expected


async def test_a_resolver_error_is_raised_unchanged(fixture_mint: TokenMint) -> None:
    """Whatever the key source raises (reason, message, action) reaches the caller as it was raised."""
    error = await rejection(fixture_mint.sign(claims(), header={"kid": "ins_unknown"}), options())
    assert (error.reason, error.message, error.action) == (
        Reason.JWK_KID_MISMATCH,
        MSG_KID_MISMATCH.format(kid="ins_unknown"),
        Action.VERIFY_KEYS,
    )


# --- Time claims (§14.2, assertions.test.ts, jwt-attacks §3.11) --------------------------------------------------

TIME_BOUNDARIES: list[Any] = [
    # assertions.test.ts, without skew
    pytest.param("exp", 0, 0, Reason.TOKEN_EXPIRED, id="exp == now fails without skew"),
    pytest.param("nbf", 0, 0, None, id="nbf == now passes"),
    pytest.param("iat", 0, 0, None, id="iat == now passes"),
    # jwt-attacks §3.11 boundary table, leeway L = 5 s
    pytest.param("exp", 1, 5000, None, id="exp now+1"),
    pytest.param("exp", 0, 5000, None, id="exp now, L>0"),
    pytest.param("exp", -5, 5000, Reason.TOKEN_EXPIRED, id="exp now-L"),
    pytest.param("exp", -4, 5000, None, id="exp now-L+1"),
    pytest.param("exp", 60.5, 5000, None, id="exp now+60.5 (float)"),
    pytest.param("exp", -2.5, 5000, None, id="exp now-L/2"),
    pytest.param("nbf", 5, 5000, None, id="nbf now+L"),
    pytest.param("nbf", 6, 5000, Reason.TOKEN_NOT_ACTIVE_YET, id="nbf now+L+1"),
    pytest.param("nbf", 2.5, 5000, None, id="nbf now+L/2"),
    pytest.param("iat", 5, 5000, None, id="iat now+L"),
    pytest.param("iat", 6, 5000, Reason.TOKEN_IAT_IN_THE_FUTURE, id="iat now+L+1"),
]


@pytest.mark.parametrize(("claim", "offset_s", "skew_ms", "reason"), TIME_BOUNDARIES)
async def test_time_claim_boundaries(
    fixture_mint: TokenMint, claim: str, offset_s: float, skew_ms: float, reason: str | None
) -> None:
    """``exp`` fails when ``exp <= now - skew``; ``nbf`` and ``iat`` fail only when later than ``now + skew``."""
    token = fixture_mint.sign(claims(**{claim: FROZEN_NOW + offset_s}))
    opts = options(clock_skew_ms=skew_ms)
    if reason is None:
        await verify_session_token(token, opts)
    else:
        assert (await rejection(token, opts)).reason == reason


async def test_comparisons_are_in_whole_milliseconds_of_the_clock(fixture_mint: TokenMint) -> None:
    """Like ``Date.now()``, the clock is floored to a millisecond: 0.9995 s before ``exp`` is still 1 ms before."""
    token = fixture_mint.sign(claims(exp=FROZEN_NOW + 1))
    await verify_session_token(token, options(clock_skew_ms=0, clock=at(0.9995)))
    assert (await rejection(token, options(clock_skew_ms=0, clock=at(1)))).reason == Reason.TOKEN_EXPIRED


async def test_a_fractional_time_claim_is_truncated_to_whole_seconds(fixture_mint: TokenMint) -> None:
    """``setUTCSeconds`` drops the fraction: ``exp = now + 0.9`` is ``now``, expired without skew."""
    error = await rejection(fixture_mint.sign(claims(exp=FROZEN_NOW + 0.9)), options(clock_skew_ms=0))
    assert error.message == f"JWT is expired. Expiry date: {NOW_UTC}, Current date: {NOW_UTC}."


@pytest.mark.parametrize("skew", [math.nan, math.inf, -math.inf])
async def test_a_skew_that_is_not_finite_falls_back_to_5000_ms(fixture_mint: TokenMint, skew: float) -> None:
    """NaN and ±Infinity act as the 5000 ms default (verifyJwt.test.ts), never as "no expiry"."""
    await verify_session_token(fixture_mint.sign(claims(exp=FROZEN_NOW - 4)), options(clock_skew_ms=skew))
    error = await rejection(fixture_mint.sign(claims(exp=FROZEN_NOW - 5)), options(clock_skew_ms=skew))
    assert error.reason == Reason.TOKEN_EXPIRED


async def test_a_zero_skew_is_used_as_given(fixture_mint: TokenMint) -> None:
    """A skew of 0 is finite, so it is not replaced by the default."""
    error = await rejection(fixture_mint.sign(claims(exp=FROZEN_NOW - 4)), options(clock_skew_ms=0))
    assert error.reason == Reason.TOKEN_EXPIRED


async def test_absent_nbf_and_iat_are_not_required(fixture_mint: TokenMint) -> None:
    """Only ``exp`` is required among the time claims."""
    await verify_session_token(fixture_mint.sign(claims(nbf=UNDEFINED, iat=UNDEFINED)), options())


# --- typ, aud, azp, iss, sid (§14.1 step 4, §14.3, §22) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("typ", "header_type", "accepted"),
    [
        pytest.param(None, None, True, id="absent without header_type"),
        pytest.param("JWT", None, True, id="JWT by default"),
        pytest.param("jwt", None, False, id="case-sensitive"),
        pytest.param("at+jwt", ("JWT", "at+jwt"), True, id="listed in header_type"),
        pytest.param(None, ("JWT",), False, id="absent with header_type"),
    ],
)
async def test_typ_against_header_type(
    fixture_mint: TokenMint, typ: str | None, header_type: tuple[str, ...] | None, accepted: bool
) -> None:
    """An absent ``typ`` passes only when no header type was asked for; otherwise it must be listed exactly."""
    token = fixture_mint.sign(claims(), header={"typ": typ})
    opts = options(header_type=header_type)
    if accepted:
        await verify_session_token(token, opts)
    else:
        assert (await rejection(token, opts)).reason == Reason.TOKEN_INVALID


@pytest.mark.parametrize(
    ("aud", "audience", "accepted"),
    [
        pytest.param("x", (), True, id="aud without audience option"),
        pytest.param(UNDEFINED, ("x",), True, id="audience option without aud"),
        pytest.param("", ("x",), True, id="empty aud is dropped"),
        pytest.param(["", ""], ("x",), True, id="array of empty strings is dropped"),
        pytest.param("x", ("",), True, id="empty audience is dropped"),
        pytest.param("x", ("w", "x"), True, id="member"),
        pytest.param(["a", "x"], ("x",), True, id="intersecting array"),
        pytest.param(123, ("x",), True, id="other types pass"),
        pytest.param([1, 2], ("x",), True, id="array of non-strings passes"),
        pytest.param({"x": 1}, ("x",), True, id="object passes"),
        pytest.param("y", ("", "x"), False, id="non-member"),
        pytest.param(["y"], ("x",), False, id="disjoint array"),
    ],
)
async def test_clerks_lenient_audience_rule(
    fixture_mint: TokenMint, aud: object, audience: tuple[str, ...], accepted: bool
) -> None:
    """``aud`` is checked only when both it and the audience option are non-empty, and only strings can fail."""
    token = fixture_mint.sign(claims(aud=aud))
    if accepted:
        await verify_session_token(token, options(audience=audience))
    else:
        assert (await rejection(token, options(audience=audience))).reason == Reason.TOKEN_VERIFICATION_FAILED


@pytest.mark.parametrize(
    ("azp", "parties", "accepted"),
    [
        pytest.param(AZP, (AZP,), True, id="exact member"),
        pytest.param(AZP, ("", AZP), True, id="empty string is just a non-matching member"),
        pytest.param("", ("", AZP), False, id="empty azp never matches"),
        pytest.param(123, (), True, id="no parties, no check"),
        pytest.param(UNDEFINED, (), True, id="no parties, azp may be absent"),
        pytest.param([AZP], (AZP,), False, id="array is not a member"),
        pytest.param(AZP + "/", (AZP,), False, id="trailing slash"),
    ],
)
async def test_authorized_parties_are_exact_members(
    fixture_mint: TokenMint, azp: object, parties: tuple[str, ...], accepted: bool
) -> None:
    """Once authorized parties are configured, ``azp`` must be present and exactly one of them (2026-07 rule)."""
    token = fixture_mint.sign(claims(azp=azp))
    if accepted:
        await verify_session_token(token, options(authorized_parties=parties))
    else:
        error = await rejection(token, options(authorized_parties=parties))
        assert error.reason == Reason.TOKEN_INVALID_AUTHORIZED_PARTIES


async def test_issuer_is_checked_only_when_configured(fixture_mint: TokenMint) -> None:
    """``issuers`` None checks nothing (Clerk's default); a tuple demands exact equality; an empty one accepts none."""
    await verify_session_token(fixture_mint.sign(claims(iss=UNDEFINED)), options())
    await verify_session_token(fixture_mint.sign(claims()), options(issuers=("https://x.example", ISSUER)))
    error = await rejection(fixture_mint.sign(claims()), options(issuers=()))
    assert (error.reason, error.message) == (
        Reason.TOKEN_INVALID_ISSUER,
        f'Invalid JWT issuer claim (iss) "{ISSUER}". Expected "".',
    )


async def test_sid_is_not_checked_unless_asked(fixture_mint: TokenMint) -> None:
    """Clerk's verifyToken ignores ``sid`` (JWT templates carry none); ``require_sid`` demands a non-empty string."""
    token = fixture_mint.sign(claims(sid=UNDEFINED))
    assert "sid" not in (await verify_token(token, options()))
    assert (await rejection(token, options(require_sid=True))).reason == Reason.TOKEN_VERIFICATION_FAILED
    await verify_session_token(fixture_mint.sign(claims()), options(require_sid=True))


async def test_the_lifetime_cap_is_off_by_default(fixture_mint: TokenMint) -> None:
    """Clerk has no lifetime limit, so a token valid for 30 days verifies unless ``max_lifetime_s`` is set."""
    token = fixture_mint.sign(claims(exp=FROZEN_NOW + 30 * 86400))
    await verify_session_token(token, options())
    await verify_session_token(token, options(max_lifetime_s=30 * 86400))
    assert (await rejection(token, options(max_lifetime_s=3600))).reason == Reason.TOKEN_VERIFICATION_FAILED


# --- Key resolution ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kid", "asked"),
    [
        pytest.param(KID, KID, id="string"),
        pytest.param(None, None, id="absent"),
        pytest.param("", None, id="empty"),
        pytest.param(0, None, id="number"),
        pytest.param(["k"], None, id="array"),
        pytest.param({"kid": KID}, None, id="object"),
    ],
)
async def test_the_resolver_sees_the_kid_only_when_it_is_a_non_empty_string(
    fixture_mint: TokenMint, kid: object, asked: str | None
) -> None:
    """Any other ``kid`` reaches the key source as ``None``, so an unhashable kid can never crash a lookup."""
    keys = FixedKey(await PemKey(FIXTURES["signing_public_key_spki_pem"]).get_key(None))
    await verify_session_token(fixture_mint.sign(claims(), header={"kid": kid}), options(keys=keys))
    assert keys.requested == [asked]


async def test_rs256_signature_is_valid_only_for_the_signing_key() -> None:
    """The handshake path's check: true for ``mockJwt`` under ``mockJwks``; false when tampered or keyed wrongly."""
    key = mock_jwks().keys[KID]
    other = await PemKey(FIXTURES["unrelated_public_key_pem"]).get_key(None)
    assert rs256_signature_is_valid(decode_jwt(FIXTURES["mockJwt"]), key)
    assert not rs256_signature_is_valid(decode_jwt(FIXTURES["mockInvalidSignatureJwt"]), key)
    assert not rs256_signature_is_valid(decode_jwt(FIXTURES["mockJwt"]), other)


def test_options_from_settings_map_clerks_checks_and_require_sid() -> None:
    """The service's options carry the configured parties, audience, issuers and skew, and require ``sid``."""
    settings = Settings(
        authorized_parties=("https://app.example",),
        audience=("api",),
        issuers=(ISSUER,),
        clock_skew_ms=1234,
    )
    keys = mock_jwks()
    opts = AuthenticateOptions.from_settings(settings).verify_options(keys, at(0))
    assert opts.keys is keys
    assert (opts.authorized_parties, opts.audience, opts.issuers, opts.clock_skew_ms) == (
        ("https://app.example",),
        ("api",),
        (ISSUER,),
        1234,
    )
    assert opts.require_sid
    assert opts.header_type is None
    assert opts.max_lifetime_s is None
    assert opts.clock() == FROZEN_NOW
