"""FakeClerk itself: the instance it pretends to be, its endpoints, its failure switches, and the thread runner."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from joserfc import jws

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.errors import BackendAPIError
from clerk_authd.rules.instance import Instance
from clerk_authd.rules.jwt import decode_jwt
from clerk_authd.rules.keys import import_jwk
from clerk_authd.testing.fake_clerk import (
    DEFAULT_PUBLISHABLE_KEY,
    MSG_INVALID_SECRET_KEY,
    FakeClerk,
    FakeClerkThread,
)
from clerk_authd.testing.mint import TokenMint


def assert_verifies(token: str, jwks: dict[str, list[dict[str, Any]]]) -> None:
    """``token`` is RS256-signed by the JWKS entry its kid names (joserfc raises otherwise)."""
    kid = decode_jwt(token).header["kid"]
    entry = next(jwk for jwk in jwks["keys"] if jwk["kid"] == kid)
    jws.deserialize_compact(token, import_jwk(entry).key, algorithms=["RS256"])


async def call_every_endpoint(client: ClerkClient, fake: FakeClerk) -> list[BackendAPIError]:
    """Call every endpoint and collect the BackendAPIError each one raises."""
    calls = [
        client.get_jwks(),
        client.get_handshake_payload("n"),
        client.refresh_session(
            "sess_1",
            expired_token=fake.session_token(session_id="sess_1"),
            refresh_token="rt",
            request_origin="https://app.example.com",
            request_headers={},
            suffixed_cookies=True,
        ),
        client.verify_api_key("ak_unregistered"),
        client.verify_m2m_token("mt_unregistered"),
        client.verify_oauth_token("oat_unregistered"),
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, BackendAPIError) for r in results)
    return [r for r in results if isinstance(r, BackendAPIError)]


def test_the_default_instance_is_a_development_instance_on_its_own_host() -> None:
    """pk_test_ of "clerk.authd.localhost$" (unpadded base64); tokens are issued by https://clerk.authd.localhost."""
    fake = FakeClerk()
    instance = Instance.from_publishable_key(DEFAULT_PUBLISHABLE_KEY)
    assert DEFAULT_PUBLISHABLE_KEY == "pk_test_Y2xlcmsuYXV0aGQubG9jYWxob3N0JA"
    assert (instance.frontend_api, instance.instance_type) == ("clerk.authd.localhost", "development")
    assert (fake.frontend_api, fake.issuer) == ("clerk.authd.localhost", "https://clerk.authd.localhost")
    assert fake.cookie_suffix == instance.cookie_suffix


def test_session_tokens_are_clerk_shaped_and_stamped_by_the_clock() -> None:
    """session_token() takes session_claims arguments; iss and iat default to the instance and its clock."""
    fake = FakeClerk(clock=lambda: 1_700_000_000.0)
    payload = decode_jwt(fake.session_token(user_id="user_1", org_id="org_1", org_role="admin")).payload
    assert payload["iss"] == "https://clerk.authd.localhost"
    assert (payload["sub"], payload["iat"], payload["exp"]) == ("user_1", 1_700_000_000, 1_700_000_060)
    assert payload["o"]["id"] == "org_1"


async def test_tokens_verify_against_the_served_jwks(fake_clerk: FakeClerk, clerk_client: ClerkClient) -> None:
    """The signing key is published, so a minted token verifies against GET /v1/jwks."""
    assert_verifies(fake_clerk.session_token(), await clerk_client.get_jwks())


async def test_rotation_publishes_a_new_signing_key_and_retiring_removes_the_old(
    fake_clerk: FakeClerk, clerk_client: ClerkClient
) -> None:
    """rotate() adds a key and signs with it; retire_key() unpublishes; add_key() takes a mint or a raw JWK."""
    old = fake_clerk.mint
    new = fake_clerk.rotate()
    assert fake_clerk.mint is new
    assert [k["kid"] for k in (await clerk_client.get_jwks())["keys"]] == [old.kid, new.kid]
    assert decode_jwt(fake_clerk.session_token()).header["kid"] == new.kid
    fake_clerk.retire_key(old.kid)
    fake_clerk.add_key({"kty": "oct", "kid": "raw", "k": "c2VjcmV0"})
    fake_clerk.add_key(TokenMint.generate(kid="extra"))
    assert [k["kid"] for k in (await clerk_client.get_jwks())["keys"]] == [new.kid, "raw", "extra"]


async def test_every_endpoint_checks_the_bearer(fake_clerk: FakeClerk) -> None:
    """A wrong secret is Clerk's 401 clerk_key_invalid on every endpoint."""
    async with ClerkClient(secret_key="sk_test_wrong", api_url=fake_clerk.url) as client:
        errors = await call_every_endpoint(client, fake_clerk)
    assert [(e.status, e.code, e.first_message) for e in errors] == [
        (401, "clerk_key_invalid", MSG_INVALID_SECRET_KEY)
    ] * 6


@pytest.mark.parametrize(
    ("switch", "status"),
    [
        (lambda fake: fake.go_down(), 503),
        (lambda fake: fake.fail_with(429), 429),
        (lambda fake: fake.serve_garbage(), 200),
    ],
    ids=["down", "fail_with", "garbage"],
)
async def test_failure_switches_apply_to_every_endpoint_until_healed(
    fake_clerk: FakeClerk, clerk_client: ClerkClient, switch: Any, status: int
) -> None:
    """Each switch breaks every endpoint; heal() restores them."""
    fake_clerk.register_handshake_nonce("n", ["__session=x"])
    switch(fake_clerk)
    assert [e.status for e in await call_every_endpoint(clerk_client, fake_clerk)] == [status] * 6
    fake_clerk.heal()
    assert await clerk_client.get_handshake_payload("n") == ["__session=x"]


async def test_serve_empty_keys_empties_only_the_key_set(fake_clerk: FakeClerk, clerk_client: ClerkClient) -> None:
    """The JWKS becomes {"keys": []} until healed."""
    fake_clerk.serve_empty_keys()
    assert await clerk_client.get_jwks() == {"keys": []}
    fake_clerk.heal()
    assert await clerk_client.get_jwks() == {"keys": [fake_clerk.mint.jwk]}


async def test_slow_delays_every_answer(fake_clerk: FakeClerk) -> None:
    """slow(seconds) holds answers back long enough to trip a client timeout."""
    fake_clerk.slow(2.0)
    async with ClerkClient(secret_key=fake_clerk.secret_key, api_url=fake_clerk.url, timeout_s=0.1) as client:
        with pytest.raises(BackendAPIError, match="timed out"):
            await client.get_jwks()


async def test_refresh_mints_a_fresh_token_from_the_expired_claims() -> None:
    """The new token keeps the expired token's claims, gets new iat/nbf/exp, and is signed by the current key."""
    now = [1_700_000_000.0]
    async with FakeClerk(clock=lambda: now[0]) as fake:
        expired = fake.session_token(session_id="sess_1", user_id="user_1", ttl_s=60)
        fake.register_refresh_token("sess_1", "rt_1")
        now[0] += 3600
        async with ClerkClient(secret_key=fake.secret_key, api_url=fake.url) as client:
            suffixed = await client.refresh_session(
                "sess_1",
                expired_token=expired,
                refresh_token="rt_1",
                request_origin="https://app.example.com",
                request_headers={"Accept": ["text/html"]},
                suffixed_cookies=True,
            )
            plain = await client.refresh_session(
                "sess_1",
                expired_token=expired,
                refresh_token="rt_1",
                request_origin="https://app.example.com",
                request_headers={},
                suffixed_cookies=False,
            )
            jwks = await client.get_jwks()
    name, rest = suffixed[0].split("=", 1)
    token, attributes = rest.split("; ", 1)
    assert name == f"__session_{fake.cookie_suffix}"
    assert attributes == "Path=/; Secure; SameSite=Lax"
    assert plain[0].startswith("__session=")
    old, new = decode_jwt(expired).payload, decode_jwt(token).payload
    assert {k: v for k, v in new.items() if k not in ("iat", "nbf", "exp")} == {
        k: v for k, v in old.items() if k not in ("iat", "nbf", "exp")
    }
    assert (new["iat"], new["nbf"], new["exp"]) == (1_700_003_600, 1_700_003_590, 1_700_003_660)
    assert_verifies(token, jwks)
    assert fake.received[-2].json["request_headers"] == {}
    assert fake.received[-3].json["request_headers"] == {"Accept": ["text/html"]}


@pytest.mark.parametrize(
    ("refresh_token", "token_sid", "expected"),
    [
        ("rt_wrong", "sess_1", (404, "resource_not_found")),
        ("rt_1", "sess_other", (422, "form_param_value_invalid")),
    ],
)
async def test_refresh_refuses_unknown_pairs_with_clerk_shaped_errors(
    fake_clerk: FakeClerk, clerk_client: ClerkClient, refresh_token: str, token_sid: str, expected: tuple[int, str]
) -> None:
    """An unregistered refresh token, or an expired token of another session, is a 4xx with errors[]."""
    fake_clerk.register_refresh_token("sess_1", "rt_1")
    with pytest.raises(BackendAPIError) as caught:
        await clerk_client.refresh_session(
            "sess_1",
            expired_token=fake_clerk.session_token(session_id=token_sid),
            refresh_token=refresh_token,
            request_origin="https://app.example.com",
            request_headers={},
            suffixed_cookies=True,
        )
    assert (caught.value.status, caught.value.code) == expected


@pytest.mark.parametrize(
    ("token_type", "verify", "shape"),
    [
        (
            "api_key",
            ClerkClient.verify_api_key,
            {"object": "api_key", "type": "api_key", "name": "fake-api-key", "subject": "user_fake"},
        ),
        ("m2m_token", ClerkClient.verify_m2m_token, {"object": "machine_to_machine_token", "subject": "mch_fake"}),
        (
            "oauth_token",
            ClerkClient.verify_oauth_token,
            {"object": "clerk_idp_oauth_access_token", "client_id": "client_fake", "subject": "user_fake"},
        ),
    ],
)
async def test_registered_machine_tokens_verify_to_clerk_shaped_resources(
    token_type: str, verify: Any, shape: dict[str, str]
) -> None:
    """register_machine_token makes its endpoint answer Clerk's resource JSON, defaults filled, fields applied."""
    fake = FakeClerk(clock=lambda: 1_700_000_000.5)
    async with fake, ClerkClient(secret_key=fake.secret_key, api_url=fake.url) as client:
        answer = fake.register_machine_token("tok_1", token_type, scopes=["read"], extra="kept")
        assert await verify(client, "tok_1") == answer
    assert answer.items() >= {**shape, "scopes": ["read"], "extra": "kept", "revoked": False}.items()
    assert answer["id"].startswith(("ak_", "mt_", "oat_"))
    assert (answer["created_at"], answer["updated_at"], answer["expiration"]) == (1_700_000_000_500,) * 2 + (None,)


async def test_a_machine_token_verifies_only_at_its_own_endpoint(
    fake_clerk: FakeClerk, clerk_client: ClerkClient
) -> None:
    """An unknown token, or one registered for another type, is Clerk's 404 resource_not_found."""
    fake_clerk.register_machine_token("ak_1", "api_key")
    with pytest.raises(BackendAPIError) as caught:
        await clerk_client.verify_m2m_token("ak_1")
    assert (caught.value.status, caught.value.code) == (404, "resource_not_found")
    with pytest.raises(ValueError, match="not a machine token type"):
        fake_clerk.register_machine_token("x", "session_token")


async def test_a_verify_body_without_its_member_is_a_422(fake_clerk: FakeClerk) -> None:
    """The token travels in the endpoint's own member (secret, token, access_token); without it, 422."""
    request = urllib.request.Request(
        f"{fake_clerk.url}/api_keys/verify",
        data=b'{"token": "ak_1"}',
        headers={"Authorization": f"Bearer {fake_clerk.secret_key}", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        await asyncio.to_thread(urllib.request.urlopen, request, timeout=5)
    assert caught.value.code == 422


async def test_the_m2m_endpoint_also_takes_the_machine_secret_key() -> None:
    """/m2m_tokens/verify accepts the machine secret key as well as the secret key; the others do not."""
    async with FakeClerk(machine_secret_key="ak_machine") as fake:
        fake.register_machine_token("mt_1", "m2m_token")
        fake.register_machine_token("ak_1", "api_key")
        async with ClerkClient(secret_key="ak_machine", api_url=fake.url) as client:
            assert (await client.verify_m2m_token("mt_1"))["subject"] == "mch_fake"
            with pytest.raises(BackendAPIError) as caught:
                await client.verify_api_key("ak_1")
    assert caught.value.status == 401


async def test_requests_are_recorded_in_order(fake_clerk: FakeClerk, clerk_client: ClerkClient) -> None:
    """requests lists (method, path); jwks_fetches counts JWKS calls, failed ones included."""
    await clerk_client.get_jwks()
    fake_clerk.go_down()
    with pytest.raises(BackendAPIError):
        await clerk_client.get_handshake_payload("n")
    with pytest.raises(BackendAPIError):
        await clerk_client.get_jwks()
    assert fake_clerk.requests == [
        ("GET", "/v1/jwks"),
        ("GET", "/v1/clients/handshake_payload"),
        ("GET", "/v1/jwks"),
    ]
    assert fake_clerk.jwks_fetches == 2


def test_the_thread_runner_serves_from_its_own_loop() -> None:
    """FakeClerkThread listens from a background thread until stopped."""
    runner = FakeClerkThread()
    url = runner.start()
    try:
        request = urllib.request.Request(
            f"{url}/v1/jwks", headers={"Authorization": f"Bearer {runner.fake.secret_key}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response) == runner.fake.jwks
    finally:
        runner.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/v1/jwks", timeout=5)
