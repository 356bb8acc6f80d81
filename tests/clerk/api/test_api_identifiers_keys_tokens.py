"""client.allowlist_identifiers, blocklist_identifiers, jwks and the machine-token verifiers against FakeClerk."""

from __future__ import annotations

import pytest

from clerk_authd.clerk.backend_api import (
    AllowlistIdentifier,
    APIKey,
    BlocklistIdentifier,
    ClerkClient,
    DeletedObject,
    IdPOAuthAccessToken,
    Jwks,
    M2MToken,
)
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.clerk.api.conftest import assert_clerk_headers, sent


async def test_allowlist_identifiers(fake: FakeClerk, client: ClerkClient) -> None:
    """POST with identifier and notify, GET ?paginated=true, DELETE answering a DeletedObject."""
    api = client.allowlist_identifiers
    created = await api.create_allowlist_identifier(identifier="ada@example.com", notify=False)
    assert isinstance(created, AllowlistIdentifier)
    assert (created.identifier, created.identifier_type) == ("ada@example.com", "email_address")
    listed = await api.get_allowlist_identifier_list(limit=10)
    assert [i.id for i in listed.data] == [created.id]
    assert await api.delete_allowlist_identifier(created.id) == DeletedObject(
        object="allowlist_identifier", id=created.id, deleted=True
    )
    assert [(r.method, r.path, r.json) for r in fake.received] == [
        ("POST", "/v1/allowlist_identifiers", {"identifier": "ada@example.com", "notify": False}),
        ("GET", "/v1/allowlist_identifiers", None),
        ("DELETE", f"/v1/allowlist_identifiers/{created.id}", None),
    ]
    assert fake.received[1].query_pairs == (("limit", "10"), ("paginated", "true"))


async def test_blocklist_identifiers(fake: FakeClerk, client: ClerkClient) -> None:
    """The same three endpoints under /v1/blocklist_identifiers; no paginated flag, no notify."""
    api = client.blocklist_identifiers
    created = await api.create_blocklist_identifier(identifier="+15555550100")
    assert isinstance(created, BlocklistIdentifier)
    assert created.identifier_type == "phone_number"
    listed = await api.get_blocklist_identifier_list()
    assert listed.total_count == 1
    deleted = await api.delete_blocklist_identifier(created.id)
    assert deleted.deleted
    assert [(r.method, r.path, r.json, r.query_pairs) for r in fake.received] == [
        ("POST", "/v1/blocklist_identifiers", {"identifier": "+15555550100"}, ()),
        ("GET", "/v1/blocklist_identifiers", None, ()),
        ("DELETE", f"/v1/blocklist_identifiers/{created.id}", None, ()),
    ]


async def test_jwks_is_typed(fake: FakeClerk, client: ClerkClient) -> None:
    """GET /v1/jwks as a Jwks whose keys are the JWKs FakeClerk publishes."""
    jwks = await client.jwks.get_jwks()
    assert jwks == Jwks(keys=(fake.mint.jwk,))
    request = sent(fake)
    assert (request.method, request.path) == ("GET", "/v1/jwks")
    assert_clerk_headers(request, fake)


@pytest.mark.parametrize(
    ("api", "token_type", "path", "member", "resource"),
    [
        ("api_keys", "api_key", "/api_keys/verify", "secret", APIKey),
        ("m2m_tokens", "m2m_token", "/m2m_tokens/verify", "token", M2MToken),
        (
            "oauth_access_tokens",
            "oauth_token",
            "/oauth_applications/access_tokens/verify",
            "access_token",
            IdPOAuthAccessToken,
        ),
    ],
)
async def test_machine_tokens_verify_to_their_resource(
    fake: FakeClerk, client: ClerkClient, *, api: str, token_type: str, path: str, member: str, resource: type
) -> None:
    """POST outside /v1 with the token in the endpoint's member; the typed resource back."""
    answer = fake.register_machine_token("tok_1", token_type, subject="user_1", scopes=["read"])
    verified = await getattr(client, api).verify("tok_1")
    assert isinstance(verified, resource)
    assert (verified.id, verified.subject, verified.scopes) == (answer["id"], "user_1", ("read",))
    request = sent(fake)
    assert (request.method, request.path, request.json) == ("POST", path, {member: "tok_1"})
    assert_clerk_headers(request, fake)
