"""client.sessions and client.invitations against FakeClerk."""

from __future__ import annotations

from clerk_authd.clerk.backend_api import ClerkClient, Invitation, Session
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.clerk.api.conftest import assert_clerk_headers, sent


async def test_get_session_list_asks_for_the_paginated_shape(fake: FakeClerk, client: ClerkClient) -> None:
    """GET /v1/sessions?user_id=&status=&paginated=true, as Clerk's SessionAPI sends it."""
    user = fake.store.add_user()
    session = fake.store.add_session(user["id"])
    fake.store.add_session(user["id"], status="ended")
    page = await client.sessions.get_session_list(user_id=user["id"], status="active")
    assert [s.id for s in page.data] == [session["id"]]
    assert page.total_count == 1
    request = sent(fake)
    assert (request.method, request.path) == ("GET", "/v1/sessions")
    assert request.query_pairs == (("user_id", user["id"]), ("status", "active"), ("paginated", "true"))
    assert_clerk_headers(request, fake)


async def test_get_and_revoke_session(fake: FakeClerk, client: ClerkClient) -> None:
    """GET /v1/sessions/{id}, then POST /v1/sessions/{id}/revoke without a body."""
    seeded = fake.store.add_session("user_1")
    session = await client.sessions.get_session(seeded["id"])
    assert isinstance(session, Session)
    assert (session.user_id, session.status, session.client_id) == ("user_1", "active", "client_fake")
    revoked = await client.sessions.revoke_session(seeded["id"])
    assert revoked.status == "revoked"
    assert [(r.method, r.path, r.json) for r in fake.received] == [
        ("GET", f"/v1/sessions/{seeded['id']}", None),
        ("POST", f"/v1/sessions/{seeded['id']}/revoke", None),
    ]


async def test_invitations_are_listed_created_and_revoked(fake: FakeClerk, client: ClerkClient) -> None:
    """GET /v1/invitations?paginated=true, POST /v1/invitations, POST /v1/invitations/{id}/revoke."""
    created = await client.invitations.create_invitation(
        email_address="new@example.com", public_metadata={"team": "a"}, notify=False, redirect_url="https://app/x"
    )
    assert isinstance(created, Invitation)
    assert (created.email_address, created.status, created.public_metadata) == (
        "new@example.com",
        "pending",
        {"team": "a"},
    )
    listed = await client.invitations.get_invitation_list(status="pending", query="new", limit=3)
    assert [i.id for i in listed.data] == [created.id]
    revoked = await client.invitations.revoke_invitation(created.id)
    assert (revoked.status, revoked.revoked) == ("revoked", True)
    assert [(r.method, r.path, r.json) for r in fake.received] == [
        (
            "POST",
            "/v1/invitations",
            {
                "email_address": "new@example.com",
                "public_metadata": {"team": "a"},
                "notify": False,
                "redirect_url": "https://app/x",
            },
        ),
        ("GET", "/v1/invitations", None),
        ("POST", f"/v1/invitations/{created.id}/revoke", None),
    ]
    assert fake.received[1].query_pairs == (
        ("status", "pending"),
        ("query", "new"),
        ("limit", "3"),
        ("paginated", "true"),
    )
