"""Helpers that several test modules share, written once.

``conftest.py`` holds the spec data and the fixtures every area uses; this module holds the plain helpers that
more than one area needs: Clerk's fixture instance (publishable keys, FAPI, issuer, ``mockJwt``'s claims), a
request built as Express hands it over, an authenticator that verifies networkless with a mint's key, and the
JWKS-backed key resolver the verification tests share.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clerk_authd.clerk.authenticate import Authenticator
from clerk_authd.clerk.keystore import MSG_KID_MISMATCH
from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.clerk.tokens import VerifyOptions, verify_decoded_session_now
from clerk_authd.errors import Action, TokenVerificationError
from clerk_authd.js.values import UNDEFINED
from clerk_authd.reasons import Reason
from clerk_authd.rules.jwt import DecodedJwt
from clerk_authd.rules.keys import PemKey, UnusableKeyError, VerificationKey, import_jwk
from clerk_authd.rules.request import RequestView
from clerk_authd.testing.mint import TokenMint
from tests.conftest import FIXTURES, FROZEN_NOW

PK_LIVE = FIXTURES["publishable_keys"]["pk_live"]
PK_TEST = FIXTURES["publishable_keys"]["pk_test"]
FAPI = FIXTURES["publishable_keys"]["decoded_frontend_api"]
#: the fixture instance's issuer, which is also ``mockJwtPayload``'s ``iss``
ISSUER = f"https://{FAPI}"
KID = FIXTURES["mockJwtHeader"]["kid"]
AZP = FIXTURES["mockJwtPayload"]["azp"]


def request_view(url: str = "http://example.com/dash", method: str = "GET", **headers: str) -> RequestView:
    """``RequestView.build`` with the headers as keyword arguments (``sec_fetch_dest`` is ``sec-fetch-dest``)."""
    return RequestView.build(method, url, [(name.replace("_", "-"), value) for name, value in headers.items()])


def pem_authenticator(mint: TokenMint, publishable_key: str = PK_LIVE) -> Authenticator:
    """An authenticator at Clerk's frozen clock that verifies with ``mint``'s public key and has no Backend API."""
    options = AuthenticateOptions(publishable_key=publishable_key, secret_key="sk_test_xxx")
    return Authenticator(options, keys=PemKey(mint.public_pem), client=None, clock=lambda: FROZEN_NOW)


def claims(**overrides: Any) -> dict[str, Any]:
    """``mockJwtPayload`` with some claims replaced; ``UNDEFINED`` removes a claim."""
    merged = {**FIXTURES["mockJwtPayload"], **overrides}
    return {name: value for name, value in merged.items() if value is not UNDEFINED}


class JwksResolver:
    """A loaded JWKS as the key store serves it: policy-filtered keys, exact kid lookup, Clerk's kid mismatch.

    Also records every kid it was asked for, so tests can tell whether a check ran before the key lookup.
    """

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self.keys: dict[str | None, VerificationKey] = {}
        for entry in jwks.get("keys", []):
            try:
                key = import_jwk(entry)
            except UnusableKeyError:
                continue  # a bad key is skipped, never fatal (jwt-attacks §1, JWKS)
            self.keys[key.kid] = key
        self.requested: list[str | None] = []

    def key_now(self, kid: str | None) -> VerificationKey | None:
        self.requested.append(kid)
        return self.keys.get(kid) if kid is not None else None

    async def get_key(self, kid: str | None) -> VerificationKey:
        self.requested.append(kid)
        key = self.keys.get(kid) if kid is not None else None
        if key is None:
            raise TokenVerificationError(
                Reason.JWK_KID_MISMATCH,
                MSG_KID_MISMATCH.format(kid="undefined" if kid is None else kid),
                Action.VERIFY_KEYS,
            )
        return key


def mock_jwks() -> JwksResolver:
    """Clerk's ``mockJwks``, which verifies ``mockJwt`` and every ``fixture_mint`` token."""
    return JwksResolver(FIXTURES["mockJwks"])


def assert_verified_now_refuses_alike(decoded: DecodedJwt, opts: VerifyOptions, error: TokenVerificationError) -> None:
    """``verify_decoded_session_now`` raises ``error``'s reason, message, action and check, or finds no key at
    hand where ``verify_session_token`` would have looked one up."""
    refused: TokenVerificationError | None = None
    at_once = None
    try:
        at_once = verify_decoded_session_now(decoded, opts)
    except TokenVerificationError as caught:
        refused = caught
    if refused is None:
        assert at_once is None, "verified at once a token verify_session_token refuses"
        assert error.reason.startswith("jwk-"), "no key at hand, yet the refusal was not the key source's"
        return
    assert (refused.reason, refused.message, refused.action, refused.check) == (
        error.reason,
        error.message,
        error.action,
        error.check,
    )
