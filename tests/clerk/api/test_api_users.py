"""client.users against FakeClerk: the request each method sends and the typed User it returns."""

from __future__ import annotations

import pytest

from clerk_authd.clerk.backend_api import ClerkClient, DeletedObject, EmailAddress, OrganizationMembership, User
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.clerk.api.conftest import assert_clerk_headers, sent


async def test_get_user_list_sends_clerks_filters_and_counts_with_the_count_filters(
    fake: FakeClerk, client: ClerkClient
) -> None:
    """GET /v1/users with every filter (lists repeated, falsy dropped) and GET /v1/users/count without the page."""
    ada = fake.store.add_user(email_address=["ada@example.com"], first_name="Ada")
    fake.store.add_user(email_address=["bob@example.com"])
    page = await client.users.get_user_list(
        email_address=["ada@example.com", "bob@example.com"],
        query="ada",
        order_by="-created_at",
        limit=5,
        offset=0,
    )
    assert [user.id for user in page.data] == [ada["id"]]
    assert page.total_count == 1
    by_path = {request.path: request for request in fake.received}
    assert by_path.keys() == {"/v1/users", "/v1/users/count"}
    assert by_path["/v1/users"].query_pairs == (
        ("email_address", "ada@example.com"),
        ("email_address", "bob@example.com"),
        ("query", "ada"),
        ("order_by", "-created_at"),
        ("limit", "5"),
    )
    assert by_path["/v1/users/count"].query_pairs == (
        ("email_address", "ada@example.com"),
        ("email_address", "bob@example.com"),
        ("query", "ada"),
    )
    for request in fake.received:
        assert (request.method, request.json) == ("GET", None)
        assert_clerk_headers(request, fake)


async def test_get_count(fake: FakeClerk, client: ClerkClient) -> None:
    """GET /v1/users/count?user_id=... answers Clerk's total_count object, returned as an int."""
    user = fake.store.add_user()
    fake.store.add_user()
    assert await client.users.get_count(user_id=[user["id"]]) == 1
    request = sent(fake)
    assert (request.method, request.path, request.query_pairs) == ("GET", "/v1/users/count", (("user_id", user["id"]),))


async def test_get_user_types_the_user_and_its_email_addresses(fake: FakeClerk, client: ClerkClient) -> None:
    """GET /v1/users/{id}: a frozen User, nested EmailAddress, the primary address resolved."""
    seeded = fake.store.add_user(email_address=["ada@example.com"], username="ada", public_metadata={"plan": "pro"})
    user = await client.users.get_user(seeded["id"])
    assert isinstance(user, User)
    assert (user.id, user.username, user.public_metadata) == (seeded["id"], "ada", {"plan": "pro"})
    assert isinstance(user.email_addresses[0], EmailAddress)
    assert user.primary_email_address is not None
    assert user.primary_email_address.email_address == "ada@example.com"
    assert user.primary_email_address.verification is not None
    assert user.primary_email_address.verification.status == "verified"
    assert user.extra["enterprise_accounts"] == []
    request = sent(fake)
    assert (request.method, request.path, request.query, request.json) == ("GET", f"/v1/users/{seeded['id']}", {}, None)
    assert_clerk_headers(request, fake)


async def test_create_user_posts_the_body_as_given(fake: FakeClerk, client: ClerkClient) -> None:
    """POST /v1/users with Clerk's CreateUserParams members, snake_case, nothing added."""
    user = await client.users.create_user(
        email_address=["new@example.com"], first_name="New", password="correct horse", skip_password_checks=True
    )
    assert (user.first_name, user.password_enabled) == ("New", True)
    assert user.email_addresses[0].email_address == "new@example.com"
    request = sent(fake)
    assert (request.method, request.path) == ("POST", "/v1/users")
    assert request.json == {
        "email_address": ["new@example.com"],
        "first_name": "New",
        "password": "correct horse",
        "skip_password_checks": True,
    }
    assert_clerk_headers(request, fake)


async def test_update_user_patches(fake: FakeClerk, client: ClerkClient) -> None:
    """PATCH /v1/users/{id} with the given members."""
    seeded = fake.store.add_user(first_name="Old")
    user = await client.users.update_user(seeded["id"], first_name="New", last_name="Name")
    assert (user.first_name, user.last_name) == ("New", "Name")
    request = sent(fake)
    assert (request.method, request.path, request.json) == (
        "PATCH",
        f"/v1/users/{seeded['id']}",
        {"first_name": "New", "last_name": "Name"},
    )


async def test_update_user_metadata_merges(fake: FakeClerk, client: ClerkClient) -> None:
    """PATCH /v1/users/{id}/metadata: members replace, a None member removes the key (Clerk's merge)."""
    seeded = fake.store.add_user(public_metadata={"keep": 1, "drop": 2})
    user = await client.users.update_user_metadata(
        seeded["id"], public_metadata={"drop": None, "add": 3}, private_metadata={"secret": "s"}
    )
    assert (user.public_metadata, user.private_metadata) == ({"keep": 1, "add": 3}, {"secret": "s"})
    request = sent(fake)
    assert (request.method, request.path, request.json) == (
        "PATCH",
        f"/v1/users/{seeded['id']}/metadata",
        {"public_metadata": {"drop": None, "add": 3}, "private_metadata": {"secret": "s"}},
    )


async def test_delete_user_answers_a_deleted_object(fake: FakeClerk, client: ClerkClient) -> None:
    """DELETE /v1/users/{id} without a body; Clerk answers a DeletedObject."""
    seeded = fake.store.add_user()
    deleted = await client.users.delete_user(seeded["id"])
    assert deleted == DeletedObject(object="user", id=seeded["id"], slug=None, deleted=True)
    request = sent(fake)
    assert (request.method, request.path, request.json) == ("DELETE", f"/v1/users/{seeded['id']}", None)
    assert seeded["id"] not in fake.store.users


@pytest.mark.parametrize(
    ("method", "action", "member", "value"),
    [
        ("ban_user", "ban", "banned", True),
        ("unban_user", "unban", "banned", False),
        ("lock_user", "lock", "locked", True),
        ("unlock_user", "unlock", "locked", False),
    ],
)
async def test_ban_unban_lock_unlock(
    fake: FakeClerk, client: ClerkClient, *, method: str, action: str, member: str, value: bool
) -> None:
    """POST /v1/users/{id}/{action} without a body, the updated User back."""
    seeded = fake.store.add_user(banned=not value, locked=not value)
    user = await getattr(client.users, method)(seeded["id"])
    assert getattr(user, member) is value
    request = sent(fake)
    assert (request.method, request.path, request.json) == ("POST", f"/v1/users/{seeded['id']}/{action}", None)
    assert_clerk_headers(request, fake)


async def test_get_organization_membership_list_of_a_user(fake: FakeClerk, client: ClerkClient) -> None:
    """GET /v1/users/{id}/organization_memberships?limit=&offset=: typed memberships with their organization."""
    user = fake.store.add_user(email_address=["ada@example.com"])
    org = fake.store.add_organization(name="Acme")
    fake.store.add_membership(org["id"], user_id=user["id"], role="org:admin")
    page = await client.users.get_organization_membership_list(user_id=user["id"], limit=20, offset=0)
    assert page.total_count == 1
    membership = page.data[0]
    assert isinstance(membership, OrganizationMembership)
    assert membership.role == "org:admin"
    assert membership.organization is not None
    assert membership.organization.name == "Acme"
    assert membership.public_user_data is not None
    assert membership.public_user_data.identifier == "ada@example.com"
    request = sent(fake)
    assert (request.method, request.path, request.query_pairs) == (
        "GET",
        f"/v1/users/{user['id']}/organization_memberships",
        (("limit", "20"),),
    )
