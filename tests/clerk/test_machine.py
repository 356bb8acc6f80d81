"""Machine tokens, verified as Clerk's ``verifyMachineAuthToken`` does (clerk-semantics §18, §22), and
``authenticateRequest``'s machine rows of the §20 table (32–40).

Opaque ``ak_``/``mt_``/``oat_`` tokens go to a real FakeClerk on loopback; M2M and OAuth JWTs are signed with
Clerk's fixture key, which FakeClerk publishes, and checked at the fixtures' frozen clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from clerk_authd.clerk.authenticate import Authenticator
from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.keystore import KeyStore
from clerk_authd.clerk.machine import MachineAnswers, MachineVerifier
from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.clerk.preconditions import MSG_MACHINE_KEY
from clerk_authd.errors import AuthenticateRequestError
from clerk_authd.rules.auth import InvalidTokenAuth
from clerk_authd.rules.keys import KeyResolver, PemKey
from clerk_authd.rules.machine_auth import MachineAuth, MachineTokenRejectedError
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.state import RequestState
from clerk_authd.rules.tokentypes import AcceptsToken
from clerk_authd.testing.fake_clerk import MSG_INVALID_SECRET_KEY, FakeClerk, clerk_error
from clerk_authd.testing.mint import TokenMint
from tests.conftest import FIXTURES, FROZEN_NOW
from tests.support import PK_LIVE

NOW = FROZEN_NOW
MACHINE = FIXTURES["machine"]
MOCK_TOKENS: dict[str, str] = MACHINE["mockTokens"]
OAUTH_JWT = MACHINE["mockSignedOAuthAccessTokenJwt"]
OAUTH_JWT_APPLICATION_TYP = MACHINE["mockSignedOAuthAccessTokenJwtApplicationTyp"]
M2M_CATEGORY = "cl_B7d4PD333AAA"
ENDPOINTS = {
    "api_key": "/api_keys/verify",
    "m2m_token": "/m2m_tokens/verify",
    "oauth_token": "/oauth_applications/access_tokens/verify",
}


@dataclass
class Env:
    """FakeClerk serving Clerk's fixture key, with a client and a key store pointed at it."""

    fake: FakeClerk
    client: ClerkClient
    keys: KeyStore
    mint: TokenMint

    def verifier(self, **overrides: Any) -> MachineVerifier:
        base: dict[str, Any] = {"client": self.client, "keys": self.keys, "clock": lambda: NOW}
        return MachineVerifier(**{**base, **overrides})

    async def authenticate(
        self, headers: dict[str, str], accepts_token: AcceptsToken, **overrides: Any
    ) -> RequestState:
        """Clerk's ``authenticateRequest`` of a GET API request on a production instance, at the frozen clock."""
        client = overrides.pop("client", self.client)
        base: dict[str, Any] = {"publishable_key": PK_LIVE, "secret_key": self.fake.secret_key}
        options = AuthenticateOptions(**{**base, **overrides, "accepts_token": accepts_token})
        authenticator = Authenticator(options, keys=self.keys, client=client, clock=lambda: NOW)
        request = RequestView.build("GET", "http://example.com/api", {"accept": "application/json", **headers}.items())
        return await authenticator.authenticate(request)

    def m2m_jwt(self, claims: dict[str, Any] | None = None, **header: Any) -> str:
        """An M2M JWT as Clerk mints them: ``sub`` a machine, ``cat`` the M2M category, one-hour lifetime."""
        payload = {"sub": "mch_1", "jti": "mt_jwt_1", "iat": int(NOW), "exp": int(NOW) + 3600, **(claims or {})}
        return self.mint.sign(payload, header={"cat": M2M_CATEGORY, **header})

    def oauth_jwt(self, claims: dict[str, Any] | None = None, **header: Any) -> str:
        payload = {"sub": "user_1", "client_id": "client_1", "iat": int(NOW), "exp": int(NOW) + 300}
        return self.mint.sign({**payload, **(claims or {})}, header={"typ": "at+jwt", **header})


@pytest.fixture
async def env(fixture_mint: TokenMint) -> AsyncIterator[Env]:
    async with (
        FakeClerk(mint=fixture_mint, clock=lambda: NOW) as fake,
        ClerkClient(secret_key=fake.secret_key, api_url=fake.url, timeout_s=2.0) as client,
    ):
        keys = KeyStore(client)
        try:
            yield Env(fake, client, keys, fixture_mint)
        finally:
            await keys.close()


async def rejected(verifier: MachineVerifier, token: str) -> tuple[str, str, str]:
    """The (token type, code, full message) ``token`` is rejected with."""
    with pytest.raises(MachineTokenRejectedError) as caught:
        await verifier.verify(token)
    return caught.value.token_type, caught.value.code, caught.value.full_message()


# --- opaque tokens through the Backend API ----------------------------------------------------------------


async def test_an_api_key_becomes_clerks_api_key_object(env: Env) -> None:
    """§18: id, subject, scopes, name and claims from the API; userId for a user subject, orgId null."""
    token = MACHINE["mockTokens"]["api_key"]
    answer = env.fake.register_machine_token(
        token, "api_key", subject="user_1", name="ci", scopes=["read:foo"], claims={"foo": "bar"}
    )
    auth = await env.verifier().verify(token)
    assert auth.to_json() == {
        "id": answer["id"],
        "subject": "user_1",
        "isAuthenticated": True,
        "tokenType": "api_key",
        "name": "ci",
        "claims": {"foo": "bar"},
        "scopes": ["read:foo"],
        "userId": "user_1",
        "orgId": None,
    }
    assert auth.token == token
    assert env.fake.received[-1].json == {"secret": token}


def _verify_calls(env: Env, token_type: str) -> int:
    """How many verify requests of ``token_type`` FakeClerk received."""
    return sum(1 for request in env.fake.received if request.path == ENDPOINTS[token_type])


async def test_clerks_answer_is_reused_until_its_ttl_then_asked_again(env: Env) -> None:
    """The answer cache keeps Clerk's answer ``answer_ttl_s`` seconds from when it came: a check inside that
    window asks nothing, the first one at its end asks Clerk again."""
    token = MOCK_TOKENS["api_key"]
    env.fake.register_machine_token(token, "api_key", subject="user_1")
    now = [NOW]
    verifier = env.verifier(answers=MachineAnswers(10), answer_ttl_s=10.0, clock=lambda: now[0])
    await verifier.verify(token)
    now[0] = NOW + 9.9
    assert (await verifier.verify(token)).subject == "user_1"
    assert _verify_calls(env, "api_key") == 1
    now[0] = NOW + 10.0
    assert (await verifier.verify(token)).subject == "user_1"
    assert _verify_calls(env, "api_key") == 2


async def test_clerks_404_is_reused_until_its_ttl_then_asked_again(env: Env) -> None:
    """An unknown token's 404 is kept the same way, and answered as Clerk's ``token-invalid`` while kept."""
    token = MOCK_TOKENS["api_key"]
    now = [NOW]
    verifier = env.verifier(answers=MachineAnswers(10), answer_ttl_s=10.0, clock=lambda: now[0])
    first = await rejected(verifier, token)
    now[0] = NOW + 9.9
    assert await rejected(verifier, token) == first
    assert _verify_calls(env, "api_key") == 1
    now[0] = NOW + 10.0
    assert await rejected(verifier, token) == first
    assert _verify_calls(env, "api_key") == 2


async def test_an_organization_api_key_has_an_org_id_and_no_user_id(env: Env) -> None:
    """An API key whose subject is ``org_…`` is the organization's: orgId set, userId null."""
    env.fake.register_machine_token("ak_org", "api_key", subject="org_1")
    auth = await env.verifier().verify("ak_org")
    assert (auth.user_id, auth.org_id) == (None, "org_1")


async def test_an_m2m_token_becomes_clerks_m2m_object(env: Env) -> None:
    """§18: the subject is the machine (machineId); claims and scopes come from the API."""
    token = MACHINE["mockTokens"]["m2m_token"]
    answer = env.fake.register_machine_token(token, "m2m_token", subject="mch_1", scopes=["mch_2"], claims=None)
    auth = await env.verifier().verify(token)
    assert auth.to_json() == {
        "id": answer["id"],
        "subject": "mch_1",
        "isAuthenticated": True,
        "tokenType": "m2m_token",
        "claims": None,
        "scopes": ["mch_2"],
        "machineId": "mch_1",
    }
    assert env.fake.received[-1].json == {"token": token}


async def test_an_oauth_token_becomes_clerks_oauth_object(env: Env) -> None:
    """§18: the subject is the user; clientId names the OAuth application."""
    token = MACHINE["mockTokens"]["oauth_token"]
    answer = env.fake.register_machine_token(token, "oauth_token", subject="user_1", client_id="client_1")
    auth = await env.verifier().verify(token)
    assert auth.to_json() == {
        "id": answer["id"],
        "subject": "user_1",
        "isAuthenticated": True,
        "tokenType": "oauth_token",
        "scopes": [],
        "userId": "user_1",
        "clientId": "client_1",
    }
    assert env.fake.received[-1].json == {"access_token": token}


async def test_m2m_tokens_are_verified_with_the_machine_secret_key(env: Env) -> None:
    """``mt_`` tokens authenticate to the API with the machine secret key when one is set."""
    env.fake.machine_secret_key = "ak_machine"
    env.fake.register_machine_token("mt_1", "m2m_token")
    async with ClerkClient(secret_key="sk_wrong", machine_secret_key="ak_machine", api_url=env.fake.url) as client:
        auth = await env.verifier(client=client).verify("mt_1")
    assert auth.machine_id == "mch_fake"
    assert env.fake.received[-1].headers["Authorization"] == "Bearer ak_machine"


@pytest.mark.parametrize(
    ("token", "token_type", "message"),
    [
        ("ak_unknown", "api_key", "API key not found"),
        ("mt_unknown", "m2m_token", "Machine token not found"),
        ("oat_unknown", "oauth_token", "OAuth token not found"),
    ],
)
async def test_an_unknown_opaque_token_is_token_invalid_with_its_types_message(
    env: Env, token: str, token_type: str, message: str
) -> None:
    """§18 BAPI mapping: a 404 is ``token-invalid``, ``<X> not found (code=token-invalid, status=404)``."""
    assert await rejected(env.verifier(), token) == (
        token_type,
        "token-invalid",
        f"{message} (code=token-invalid, status=404)",
    )
    assert env.fake.requests == [("POST", ENDPOINTS[token_type])]


async def test_a_rejected_secret_key_is_secret_key_invalid_with_clerks_message(env: Env) -> None:
    """A 401 is ``secret-key-invalid`` with the first error's message from the API."""
    env.fake.register_machine_token("ak_1", "api_key")
    async with ClerkClient(secret_key="sk_wrong", api_url=env.fake.url) as client:
        assert await rejected(env.verifier(client=client), "ak_1") == (
            "api_key",
            "secret-key-invalid",
            f"{MSG_INVALID_SECRET_KEY} (code=secret-key-invalid, status=401)",
        )


async def test_a_401_without_an_error_message_says_invalid_secret_key(env: Env) -> None:
    """Without ``errors[0].message`` the 401 message is Clerk's default, ``Invalid secret key``."""
    env.fake.fail_with(401, errors=[clerk_error("clerk_key_invalid", "")])
    assert await rejected(env.verifier(), "mt_1") == (
        "m2m_token",
        "secret-key-invalid",
        "Invalid secret key (code=secret-key-invalid, status=401)",
    )


@pytest.mark.parametrize("status", [500, 503, 429, 422])
async def test_any_other_api_failure_is_an_unexpected_error_with_its_status(env: Env, status: int) -> None:
    """Every other status is ``unexpected-error``, ``Unexpected error``, with the status in the message."""
    env.fake.fail_with(status)
    assert await rejected(env.verifier(), "oat_1") == (
        "oauth_token",
        "unexpected-error",
        f"Unexpected error (code=unexpected-error, status={status})",
    )


async def test_an_unreachable_api_is_an_unexpected_error_without_a_status(env: Env) -> None:
    """No answer at all has no status, which Clerk's message renders as ``n/a``."""
    async with FakeClerk() as stopped:
        url = stopped.url  # nothing listens there once the block ends
    async with ClerkClient(secret_key="sk", api_url=url) as client:
        assert await rejected(env.verifier(client=client), "ak_1") == (
            "api_key",
            "unexpected-error",
            "Unexpected error (code=unexpected-error, status=n/a)",
        )


async def test_a_slow_api_is_an_unexpected_error_without_a_status(env: Env) -> None:
    """A timed-out call is unreachable too: ``status=n/a``."""
    env.fake.slow(2.0)
    async with ClerkClient(secret_key=env.fake.secret_key, api_url=env.fake.url, timeout_s=0.1) as client:
        assert (await rejected(env.verifier(client=client), "mt_1"))[2] == (
            "Unexpected error (code=unexpected-error, status=n/a)"
        )


async def test_without_a_client_opaque_tokens_fail_as_an_unexpected_error(env: Env) -> None:
    """With no Backend API client (no secret key), the call cannot be made: ``unexpected-error``, ``n/a``."""
    assert await rejected(env.verifier(client=None), "ak_1") == (
        "api_key",
        "unexpected-error",
        "Unexpected error (code=unexpected-error, status=n/a)",
    )


@pytest.mark.parametrize(
    "fields",
    [{"subject": ""}, {"subject": None}, {"scopes": "read"}, {"scopes": [1]}, {"claims": "x"}, {"name": 5}],
    ids=["empty subject", "null subject", "scopes string", "scopes numbers", "claims string", "name number"],
)
async def test_an_answer_no_auth_object_can_be_built_from_is_an_unexpected_error(
    env: Env, fields: dict[str, Any]
) -> None:
    """A 200 of the wrong shape authenticates nobody: ``unexpected-error`` with status 200."""
    env.fake.register_machine_token("ak_1", "api_key", **fields)
    assert await rejected(env.verifier(), "ak_1") == (
        "api_key",
        "unexpected-error",
        "Unexpected error (code=unexpected-error, status=200)",
    )


async def test_a_200_that_is_not_json_is_an_unexpected_error(env: Env) -> None:
    """A garbled 200 is not a verified token."""
    env.fake.register_machine_token("ak_1", "api_key")
    env.fake.serve_garbage()
    assert (await rejected(env.verifier(), "ak_1"))[1:] == (
        "unexpected-error",
        "Unexpected error (code=unexpected-error, status=200)",
    )


@pytest.mark.parametrize(
    ("aud", "audience", "message"),
    [
        ("api", ("api",), None),
        (["x", "api"], ("api", "other"), None),
        ("x", (), None),
        (
            "x",
            ("api",),
            'OAuth audience mismatch. Verification expected audience ["api"], but incoming token has aud "x".',
        ),
        (
            None,
            ("api",),
            "Invalid OAuth audience claim (aud) null. "
            "Expected a non-empty string or a non-empty array of non-empty strings.",
        ),
        (
            [],
            ("api",),
            "Invalid OAuth audience claim (aud) []. "
            "Expected a non-empty string or a non-empty array of non-empty strings.",
        ),
        (
            ["api", ""],
            ("api",),
            'Invalid OAuth audience claim (aud) ["api",""]. '
            "Expected a non-empty string or a non-empty array of non-empty strings.",
        ),
    ],
)
async def test_an_opaque_oauth_token_must_match_the_configured_audience(
    env: Env, aud: Any, audience: tuple[str, ...], message: str | None
) -> None:
    """§22 ``assertOAuthAudienceClaim`` on the API's ``aud``: checked only when an audience is configured."""
    env.fake.register_machine_token("oat_1", "oauth_token", aud=aud)
    verifier = env.verifier(audience=audience)
    if message is None:
        assert (await verifier.verify("oat_1")).token_type == "oauth_token"
    else:
        assert await rejected(verifier, "oat_1") == (
            "oauth_token",
            "token-verification-failed",
            f"{message} (code=token-verification-failed, status=n/a)",
        )


async def test_an_opaque_oauth_answer_without_aud_fails_a_configured_audience(env: Env) -> None:
    """A missing ``aud`` reads as ``undefined`` in Clerk's message."""
    env.fake.register_machine_token("oat_1", "oauth_token")
    assert (await rejected(env.verifier(audience=("api",)), "oat_1"))[2] == (
        "Invalid OAuth audience claim (aud) undefined. Expected a non-empty string or a non-empty array of "
        "non-empty strings. (code=token-verification-failed, status=n/a)"
    )


# --- M2M JWTs (sub "mch_…") -------------------------------------------------------------------------------


async def test_a_valid_m2m_jwt_becomes_the_m2m_object_from_its_payload(env: Env) -> None:
    """``M2MToken.fromJwtPayload``: jti is the id, ``scopes`` split on spaces, custom claims kept."""
    token = env.m2m_jwt({"scopes": "mch_2 mch_3", "nbf": int(NOW) - 10, "iss": "https://x", "region": "eu"})
    auth = await env.verifier().verify(token)
    assert auth.to_json() == {
        "id": "mt_jwt_1",
        "subject": "mch_1",
        "isAuthenticated": True,
        "tokenType": "m2m_token",
        "claims": {"scopes": "mch_2 mch_3", "region": "eu"},
        "scopes": ["mch_2", "mch_3"],
        "machineId": "mch_1",
    }
    assert auth.token == token
    assert env.fake.requests == [("GET", "/v1/jwks")]


@pytest.mark.parametrize(
    ("claims", "scopes", "custom"),
    [
        ({"aud": ["mch_2"]}, ("mch_2",), {"aud": ["mch_2"]}),
        ({}, (), None),
        ({"jti": None}, (), None),
    ],
    ids=["scopes from aud", "no scopes, no claims", "no jti"],
)
async def test_m2m_jwt_scopes_fall_back_to_aud_and_claims_to_null(
    env: Env, claims: dict[str, Any], scopes: tuple[str, ...], custom: dict[str, Any] | None
) -> None:
    """Without ``scopes`` the audience lists the scopes; a payload of structural claims only has null claims."""
    payload = {"sub": "mch_1", "iat": int(NOW), "exp": int(NOW) + 60, "jti": "mt_x", **claims}
    auth = await env.verifier().verify(env.mint.sign({k: v for k, v in payload.items() if v is not None}))
    assert (auth.scopes, auth.claims) == (scopes, custom)
    assert auth.id == ("" if "jti" in claims else "mt_x")


async def test_an_m2m_jwt_without_a_category_is_accepted(env: Env) -> None:
    """An absent ``cat`` still passes (Clerk's rollout window)."""
    token = env.mint.sign({"sub": "mch_1", "iat": int(NOW), "exp": int(NOW) + 60})
    assert (await env.verifier().verify(token)).machine_id == "mch_1"


@pytest.mark.parametrize("cat", ["cl_B7d4PD111AAA", "cl_B7d4PD222AAA", "cl_I7d4PD111III", None, ""])
async def test_an_m2m_jwt_of_another_category_is_token_invalid_before_any_key_lookup(env: Env, cat: Any) -> None:
    """§18: ``cat`` other than the M2M category is ``Invalid M2M JWT category.``, with no JWKS fetch."""
    header = {"alg": "RS256", "kid": env.mint.kid, "typ": "JWT", "cat": cat}  # a JSON null cat is not absent
    token = env.mint.sign_bytes(orjson.dumps(header), orjson.dumps({"sub": "mch_1", "exp": int(NOW) + 60}))
    assert await rejected(env.verifier(), token) == (
        "m2m_token",
        "token-invalid",
        "Invalid M2M JWT category. (code=token-invalid, status=n/a)",
    )
    assert env.fake.jwks_fetches == 0


async def test_an_expired_m2m_jwt_fails_with_clerks_expiry_message(env: Env) -> None:
    """Verification errors become ``token-verification-failed`` with the inner message (no action text)."""
    token = env.m2m_jwt({"exp": int(NOW) - 10})
    assert await rejected(env.verifier(), token) == (
        "m2m_token",
        "token-verification-failed",
        "JWT is expired. Expiry date: Mon, 24 Oct 2022 21:50:40 GMT, Current date: Mon, 24 Oct 2022 21:50:50 GMT."
        " (code=token-verification-failed, status=n/a)",
    )


async def test_m2m_jwt_expiry_honours_the_clock_skew(env: Env) -> None:
    """Expired by less than the skew still passes; the skew is the option's."""
    token = env.m2m_jwt({"exp": int(NOW) - 3})
    assert (await env.verifier().verify(token)).machine_id == "mch_1"
    assert (await rejected(env.verifier(clock_skew_ms=1000), token))[1] == "token-verification-failed"


async def test_a_jwt_that_does_not_decode_is_token_invalid_typed_m2m(env: Env) -> None:
    """§18: a JWT-shaped token that does not decode is ``token-invalid``, reported as an M2M token."""
    assert await rejected(env.verifier(), env.mint.sign_bytes(b'{"alg":"RS256"}', b"not json")) == (
        "m2m_token",
        "token-invalid",
        "Invalid JWT form. The header, payload, or signature could not be decoded. (code=token-invalid, status=n/a)",
    )


async def test_a_jwt_shaped_opaque_prefix_takes_the_jwt_path(env: Env) -> None:
    """``mt_a.b.c`` matches the JWT shape, so it is decoded (and fails) rather than sent to the API."""
    assert (await rejected(env.verifier(), "mt_abc.def.ghi"))[:2] == ("m2m_token", "token-invalid")
    assert env.fake.received == []


async def test_an_m2m_jwt_signed_by_another_key_has_an_invalid_signature(env: Env) -> None:
    """A forged M2M JWT under the instance's kid fails the signature check."""
    forged = TokenMint.generate(kid=env.mint.kid).sign(
        {"sub": "mch_1", "iat": int(NOW), "exp": int(NOW) + 60}, header={"cat": M2M_CATEGORY}
    )
    assert (await rejected(env.verifier(), forged))[1:] == (
        "token-verification-failed",
        "JWT signature is invalid. (code=token-verification-failed, status=n/a)",
    )


async def test_an_m2m_jwt_with_an_unknown_kid_fails_with_the_key_stores_message(env: Env) -> None:
    """Key errors (here Clerk's kid mismatch) carry their message into ``token-verification-failed``."""
    token = TokenMint.generate(kid="ins_unknown").sign({"sub": "mch_1", "exp": int(NOW) + 60})
    token_type, code, message = await rejected(env.verifier(), token)
    assert (token_type, code) == ("m2m_token", "token-verification-failed")
    assert message.startswith("Unable to find a signing key in JWKS that matches the kid='ins_unknown'")
    assert message.endswith(" (code=token-verification-failed, status=n/a)")


async def test_without_keys_a_machine_jwt_cannot_be_verified(env: Env) -> None:
    """No key source: ``Failed to resolve JWK during verification.``."""
    assert await rejected(env.verifier(keys=None), env.m2m_jwt()) == (
        "m2m_token",
        "token-verification-failed",
        "Failed to resolve JWK during verification. (code=token-verification-failed, status=n/a)",
    )


async def test_a_pem_key_verifies_machine_jwts_without_the_network(env: Env) -> None:
    """A networkless PEM key verifies M2M and OAuth JWTs alike."""
    keys: KeyResolver = PemKey(env.mint.public_pem)
    verifier = env.verifier(keys=keys, client=None)
    assert (await verifier.verify(env.m2m_jwt())).machine_id == "mch_1"
    assert (await verifier.verify(env.oauth_jwt())).client_id == "client_1"
    assert env.fake.received == []


async def test_m2m_jwts_get_the_session_audience_rule_and_no_authorized_party_check(env: Env) -> None:
    """§18: 3.25.0 passes ``audience`` to the M2M JWT check (lenient rule); ``azp`` is never checked."""
    verifier = env.verifier(audience=("api",))
    assert (await verifier.verify(env.m2m_jwt({"aud": ["api"], "azp": "https://evil.example"}))).scopes == ("api",)
    assert (await verifier.verify(env.m2m_jwt())).machine_id == "mch_1"  # no aud: lenient
    assert (await rejected(verifier, env.m2m_jwt({"aud": "x"})))[2] == (
        'Invalid JWT audience claim (aud) "x". Is not included in "["api"]". '
        "(code=token-verification-failed, status=n/a)"
    )


# --- OAuth JWTs (typ at+jwt) ------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [OAUTH_JWT, OAUTH_JWT_APPLICATION_TYP], ids=["at+jwt", "application/at+jwt"])
async def test_clerks_signed_oauth_jwts_become_the_oauth_object(env: Env, token: str) -> None:
    """Clerk's fixture OAuth JWTs verify: jti is the id, ``scope`` split on spaces, ``client_id`` the client."""
    auth = await env.verifier().verify(token)
    assert auth.to_json() == {
        "id": "oat_2xKa9Bgv7NxMRDFyQw8LpZ3cTmU1vHjE",
        "subject": "user_2vYVtestTESTtestTESTtestTESTtest",
        "isAuthenticated": True,
        "tokenType": "oauth_token",
        "scopes": ["read:foo", "write:bar"],
        "userId": "user_2vYVtestTESTtestTESTtestTESTtest",
        "clientId": "client_2VTWUzvGC5UhdJCNx6xG1D98edc",
    }


async def test_oauth_jwt_scopes_prefer_scp_and_missing_ids_are_empty(env: Env) -> None:
    """``scp`` (a list) wins over ``scope``; a missing ``jti`` or ``client_id`` reads as ``''``."""
    auth = await env.verifier().verify(env.oauth_jwt({"scp": ["a", "b"], "scope": "c", "client_id": None}))
    assert (auth.scopes, auth.id, auth.client_id) == (("a", "b"), "", "")


async def test_an_expired_oauth_jwt_fails(env: Env) -> None:
    """Clerk's fixture OAuth JWT expires at iat + 300 s; an hour later it is rejected."""
    token_type, code, message = await rejected(env.verifier(clock=lambda: NOW + 3600), OAUTH_JWT)
    assert (token_type, code) == ("oauth_token", "token-verification-failed")
    assert message.startswith("JWT is expired. Expiry date: Mon, 24 Oct 2022 21:55:50 GMT")


@pytest.mark.parametrize(
    ("header", "shown"),
    [({"typ": "JWT"}, "JWT"), ({"typ": None}, "missing"), ({"typ": "at+JWT"}, "at+JWT")],
)
async def test_a_jwt_that_is_neither_m2m_nor_oauth_is_an_invalid_jwt_type(
    env: Env, header: dict[str, Any], shown: str
) -> None:
    """§18: no ``mch_`` subject and no OAuth ``typ`` is ``token-verification-failed``, reported as OAuth."""
    token = env.mint.sign({"sub": "user_1", "exp": int(NOW) + 60}, header=header)
    assert await rejected(env.verifier(), token) == (
        "oauth_token",
        "token-verification-failed",
        f"Invalid JWT type: {shown}. Expected one of: at+jwt, application/at+jwt for OAuth, "
        "or sub starting with 'mch_' for M2M (code=token-verification-failed, status=n/a)",
    )
    assert env.fake.received == []


async def test_an_oauth_jwt_without_a_subject_fails_the_subject_check(env: Env) -> None:
    """The OAuth JWT path runs Clerk's claim checks: ``sub`` must be a string."""
    token = env.mint.sign({"exp": int(NOW) + 60}, header={"typ": "at+jwt"})
    assert (await rejected(env.verifier(), token))[2] == (
        "Subject claim (sub) is required and must be a string. Received undefined. "
        "(code=token-verification-failed, status=n/a)"
    )


async def test_oauth_jwts_get_only_the_oauth_audience_rule(env: Env) -> None:
    """§22: an OAuth JWT's ``aud`` is checked by the OAuth rule (strict) after verification, not the session one."""
    verifier = env.verifier(audience=("api",))
    assert (await verifier.verify(env.oauth_jwt({"aud": ["api", "x"]}))).subject == "user_1"
    assert (await rejected(verifier, env.oauth_jwt()))[2].startswith(
        "Invalid OAuth audience claim (aud) undefined. Expected a non-empty string"
    )
    assert (await rejected(verifier, env.oauth_jwt({"aud": "x"})))[2].startswith(
        'OAuth audience mismatch. Verification expected audience ["api"], but incoming token has aud "x".'
    )
    assert (await env.verifier().verify(env.oauth_jwt({"aud": "x"}))).subject == "user_1"


async def test_a_session_jwt_is_not_a_machine_token(env: Env) -> None:
    """``verify`` takes machine tokens only; anything else raises Clerk's ``Unknown machine token type``."""
    with pytest.raises(ValueError, match="Unknown machine token type"):
        await env.verifier().verify("sess_token")


@pytest.mark.parametrize("token_type", ["api_key", "m2m_token", "oauth_token"])
async def test_has_is_false_for_every_machine_auth(env: Env, token_type: str) -> None:
    """§18: ``has()`` is false for every machine object, authenticated or not, whatever is asked."""
    prefix = {"api_key": "ak_", "m2m_token": "mt_", "oauth_token": "oat_"}[token_type]
    env.fake.register_machine_token(f"{prefix}1", token_type, scopes=["org:admin"])
    auth = await env.verifier().verify(f"{prefix}1")
    assert isinstance(auth, MachineAuth)
    for params in ({"role": "org:admin"}, {"permission": "org:a:b"}, {"feature": "x"}, {"plan": "y"}, {}):
        assert auth.has(**params) is False
    assert MachineAuth(auth.token_type, is_authenticated=False).has(role="org:admin") is False


# --- authenticateRequest with machine tokens (clerk-semantics §3, §18; §20 rows 32–40) ---------------------


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize("token_type", ["api_key", "m2m_token", "oauth_token"])
@pytest.mark.parametrize(
    "accepts", ["single", "any", "array"], ids=["accepts that type", "accepts any", "accepts [type, session]"]
)
async def test_row_32_a_verified_opaque_token_is_signed_in_as_the_machine(
    env: Env, token_type: str, accepts: str
) -> None:
    """Row 32: the Backend API's 200 signs the request in, with the machine's auth object and no debug headers."""
    token = MOCK_TOKENS[token_type]
    answer = env.fake.register_machine_token(
        token, token_type, subject="user_1" if token_type != "m2m_token" else "mch_1"
    )
    accepts_token: AcceptsToken = {"single": token_type, "any": "any", "array": (token_type, "session_token")}[accepts]
    state = await env.authenticate(bearer(token), accepts_token)
    assert (state.status, state.reason, state.message, state.token_type) == ("signed-in", None, None, token_type)
    assert (state.token, state.headers, state.set_cookies) == (token, (), ())
    auth = state.to_auth()
    assert isinstance(auth, MachineAuth)
    assert (auth.is_authenticated, auth.id, auth.subject, auth.token) == (True, answer["id"], answer["subject"], token)
    assert auth.has(role="org:admin") is False


@pytest.mark.parametrize(
    ("token_type", "message"),
    [
        ("api_key", "API key not found"),
        ("m2m_token", "Machine token not found"),
        ("oauth_token", "OAuth token not found"),
    ],
)
async def test_row_33_an_unknown_opaque_token_is_signed_out_token_invalid(
    env: Env, token_type: str, message: str
) -> None:
    """Row 33: the API's 404 is ``token-invalid`` with ``<X> not found (code=token-invalid, status=404)``."""
    state = await env.authenticate(bearer(MOCK_TOKENS[token_type]), token_type)
    full = f"{message} (code=token-invalid, status=404)"
    assert state == RequestState.signed_out("token-invalid", full, token_type=token_type)
    assert dict(state.headers) == {
        "x-clerk-auth-status": "signed-out",
        "x-clerk-auth-reason": "token-invalid",
        "x-clerk-auth-message": full,
    }
    auth = state.to_auth()
    assert isinstance(auth, MachineAuth)
    assert (auth.is_authenticated, auth.token_type, auth.subject) == (False, token_type, None)


async def test_row_34_an_api_key_where_oauth_tokens_are_accepted_is_a_type_mismatch(env: Env) -> None:
    """Row 34: ``token-type-mismatch``, typed as the accepted ``oauth_token``; the API is never asked."""
    state = await env.authenticate(bearer(MOCK_TOKENS["api_key"]), "oauth_token")
    assert (state.status, state.reason, state.message, state.token_type) == (
        "signed-out",
        "token-type-mismatch",
        "",
        "oauth_token",
    )
    assert env.fake.received == []


async def test_row_35_a_session_token_where_m2m_tokens_are_accepted_is_a_type_mismatch(env: Env) -> None:
    """Row 35: ``Bearer mockJwt`` with ``m2m_token`` is ``token-type-mismatch``, tokenType ``m2m_token``."""
    state = await env.authenticate(bearer(FIXTURES["mockJwt"]), "m2m_token")
    assert (state.reason, state.token_type) == ("token-type-mismatch", "m2m_token")
    assert env.fake.received == []


async def test_row_36_an_oauth_jwt_where_sessions_are_accepted_is_a_type_mismatch(env: Env) -> None:
    """Row 36: Clerk's signed OAuth JWT is never verified as a session token."""
    state = await env.authenticate(bearer(OAUTH_JWT), "session_token")
    assert (state.status, state.reason, state.message, state.token_type) == (
        "signed-out",
        "token-type-mismatch",
        "",
        "session_token",
    )
    assert env.fake.received == []


async def test_row_37_an_m2m_token_outside_an_accepted_list_is_an_invalid_token(env: Env) -> None:
    """Row 37: ``Bearer mt_…`` with ``['api_key', 'oauth_token']`` is ``token-type-mismatch``, tokenType null."""
    state = await env.authenticate(bearer(MOCK_TOKENS["m2m_token"]), ("api_key", "oauth_token"))
    assert state == RequestState.signed_out_invalid_token()
    assert isinstance(state.to_auth(), InvalidTokenAuth)
    assert env.fake.received == []


async def test_row_38_cookies_only_with_machine_types_accepted_are_an_invalid_token(env: Env) -> None:
    """Row 38: without a header token the request is a session request, not in ``['api_key', 'm2m_token']``."""
    headers = {"cookie": f"__session={FIXTURES['mockJwt']}; __client_uat=1"}
    assert await env.authenticate(headers, ("api_key", "m2m_token")) == RequestState.signed_out_invalid_token()


@pytest.mark.parametrize("token_type", ["api_key", "m2m_token", "oauth_token"])
async def test_row_39_a_machine_token_in_the_session_cookie_is_no_token_in_header(env: Env, token_type: str) -> None:
    """Row 39: machine tokens are read from the Authorization header only."""
    token = MOCK_TOKENS[token_type]
    env.fake.register_machine_token(token, token_type)
    state = await env.authenticate({"cookie": f"__session={token}"}, token_type)
    assert (state.status, state.reason, state.message, state.token_type) == (
        "signed-out",
        "No token in header",
        "",
        token_type,
    )
    assert env.fake.received == []


async def test_row_40_m2m_authentication_without_any_secret_key_throws(env: Env) -> None:
    """Row 40: ``m2m_token`` with neither a machine secret key nor a secret key throws Clerk's message."""
    with pytest.raises(AuthenticateRequestError) as caught:
        await env.authenticate(bearer(MOCK_TOKENS["m2m_token"]), "m2m_token", secret_key="")
    assert str(caught.value) == MSG_MACHINE_KEY


async def test_a_machine_secret_key_alone_authenticates_m2m_tokens(env: Env) -> None:
    """With only a machine secret key (no secret key), ``mt_`` tokens are verified with it (Clerk's test)."""
    env.fake.machine_secret_key = "ak_machine"
    env.fake.register_machine_token("mt_1", "m2m_token")
    async with ClerkClient(secret_key="", machine_secret_key="ak_machine", api_url=env.fake.url) as client:
        state = await env.authenticate(
            bearer("mt_1"), "m2m_token", secret_key="", machine_secret_key="ak_machine", client=client
        )
    assert (state.status, state.token_type) == ("signed-in", "m2m_token")


@pytest.mark.parametrize(
    ("break_api", "reason", "message"),
    [
        (
            lambda fake: fake.fail_with(401, [clerk_error("clerk_key_invalid", MSG_INVALID_SECRET_KEY)]),
            "secret-key-invalid",
            f"{MSG_INVALID_SECRET_KEY} (code=secret-key-invalid, status=401)",
        ),
        (lambda fake: fake.fail_with(500), "unexpected-error", "Unexpected error (code=unexpected-error, status=500)"),
        (lambda fake: fake.slow(2.0), "unexpected-error", "Unexpected error (code=unexpected-error, status=n/a)"),
    ],
    ids=["401", "500", "unreachable"],
)
async def test_backend_api_failures_are_signed_out_with_clerks_machine_codes(
    env: Env, break_api: Any, reason: str, message: str
) -> None:
    """§18 BAPI mapping through ``authenticateRequest``: the code is the reason, the full message the message."""
    env.fake.register_machine_token("ak_1", "api_key")
    break_api(env.fake)
    async with ClerkClient(secret_key=env.fake.secret_key, api_url=env.fake.url, timeout_s=0.2) as client:
        state = await env.authenticate(bearer("ak_1"), "api_key", client=client)
    assert (state.status, state.reason, state.message, state.token_type) == ("signed-out", reason, message, "api_key")
    assert state.header("x-clerk-auth-message") == message


@pytest.mark.parametrize("accepts", ["m2m_token", "any", ("m2m_token",)])
async def test_a_valid_m2m_jwt_is_signed_in_without_the_backend_api(env: Env, accepts: AcceptsToken) -> None:
    """An M2M JWT is verified locally (JWKS only), and ``authorizedParties`` does not apply to it (3.25.0)."""
    token = env.m2m_jwt({"azp": "https://elsewhere.example"})
    state = await env.authenticate(bearer(token), accepts, authorized_parties=("https://app.example",))
    assert (state.status, state.token_type) == ("signed-in", "m2m_token")
    auth = state.to_auth()
    assert isinstance(auth, MachineAuth)
    assert (auth.machine_id, auth.id) == ("mch_1", "mt_jwt_1")
    assert env.fake.requests == [("GET", "/v1/jwks")]


@pytest.mark.parametrize(
    ("claims", "header", "reason", "message"),
    [
        (
            {"exp": int(NOW) - 60},
            {},
            "token-verification-failed",
            "JWT is expired. Expiry date: Mon, 24 Oct 2022 21:49:50 GMT, Current date: Mon, 24 Oct 2022 21:50:50 GMT."
            " (code=token-verification-failed, status=n/a)",
        ),
        (
            {},
            {"cat": "cl_B7d4PD222AAA"},
            "token-invalid",
            "Invalid M2M JWT category. (code=token-invalid, status=n/a)",
        ),
        (
            {},
            {"typ": "at+jwt"},
            "token-verification-failed",
            'Invalid JWT type "at+jwt". Expected "JWT". (code=token-verification-failed, status=n/a)',
        ),
    ],
    ids=["expired", "wrong cat", "wrong typ"],
)
async def test_a_bad_m2m_jwt_is_signed_out_with_its_machine_code(
    env: Env, claims: dict[str, Any], header: dict[str, Any], reason: str, message: str
) -> None:
    """An expired M2M JWT does not hand-shake or refresh: it is signed out like any machine failure."""
    state = await env.authenticate(bearer(env.m2m_jwt(claims, **header)), "m2m_token")
    assert (state.status, state.reason, state.message, state.token_type) == ("signed-out", reason, message, "m2m_token")


async def test_clerks_oauth_jwt_is_signed_in_as_the_oauth_client_user(env: Env) -> None:
    """Clerk's signed OAuth JWT, accepted as ``oauth_token``, signs in its user through its client."""
    state = await env.authenticate(bearer(OAUTH_JWT), "oauth_token")
    auth = state.to_auth()
    assert isinstance(auth, MachineAuth)
    assert (state.status, auth.user_id, auth.client_id) == (
        "signed-in",
        "user_2vYVtestTESTtestTESTtestTESTtest",
        "client_2VTWUzvGC5UhdJCNx6xG1D98edc",
    )


@pytest.mark.parametrize(
    ("now", "header", "reason", "message_start"),
    [
        (NOW + 3600, {}, "token-verification-failed", "JWT is expired."),
        (NOW, {"typ": "application/jwt"}, "token-type-mismatch", ""),
    ],
    ids=["expired", "wrong typ"],
)
async def test_a_bad_oauth_jwt_is_signed_out(
    env: Env, now: float, header: dict[str, Any], reason: str, message_start: str
) -> None:
    """An expired OAuth JWT fails verification; one whose ``typ`` is not OAuth's is not an OAuth token at all."""
    token = env.oauth_jwt({"exp": int(NOW) + 300}, **header)
    options = AuthenticateOptions(publishable_key=PK_LIVE, secret_key=env.fake.secret_key, accepts_token="oauth_token")
    authenticator = Authenticator(options, keys=env.keys, client=env.client, clock=lambda: now)
    state = await authenticator.authenticate(RequestView.build("GET", "http://example.com/api", bearer(token).items()))
    assert (state.status, state.reason, state.token_type) == ("signed-out", reason, "oauth_token")
    assert (state.message or "").startswith(message_start)


async def test_the_audience_option_applies_the_oauth_rule_to_oauth_tokens(env: Env) -> None:
    """§22: a configured audience the OAuth token's ``aud`` misses is ``token-verification-failed``."""
    env.fake.register_machine_token("oat_1", "oauth_token", aud=["other"])
    state = await env.authenticate(bearer("oat_1"), "oauth_token", audience=("api",))
    assert (state.reason, state.message) == (
        "token-verification-failed",
        'OAuth audience mismatch. Verification expected audience ["api"], but incoming token has aud ["other"]. '
        "(code=token-verification-failed, status=n/a)",
    )


async def test_machine_verdicts_are_not_cached(env: Env) -> None:
    """Every request asks the Backend API again: a token revoked in between stops working at once."""
    options = AuthenticateOptions(publishable_key=PK_LIVE, secret_key=env.fake.secret_key, accepts_token="api_key")
    authenticator = Authenticator(options, keys=env.keys, client=env.client, clock=lambda: NOW)
    request = RequestView.build("GET", "http://example.com/api", bearer("ak_1").items())
    env.fake.register_machine_token("ak_1", "api_key")
    assert (await authenticator.authenticate(request)).status == "signed-in"
    env.fake.fail_with(404, [clerk_error("resource_not_found", "not found")])
    assert (await authenticator.authenticate(request)).reason == "token-invalid"
    assert env.fake.requests == [("POST", "/api_keys/verify")] * 2
