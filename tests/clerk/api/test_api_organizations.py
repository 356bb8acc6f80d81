"""client.organizations against FakeClerk: organizations and their memberships, request and typed result."""

from __future__ import annotations

import pytest

from clerk_authd.clerk.backend_api import ClerkClient, DeletedObject, Organization, OrganizationMembership
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.clerk.api.conftest import assert_clerk_headers, sent


async def test_get_organization_list_filters_and_pages(fake: FakeClerk, client: ClerkClient) -> None:
    """GET /v1/organizations with Clerk's filters; {data, total_count} becomes a typed page."""
    acme = fake.store.add_organization(name="Acme")
    fake.store.add_organization(name="Globex")
    page = await client.organizations.get_organization_list(
        query="acme", include_members_count=True, organization_id=[acme["id"]], order_by="name", limit=10
    )
    assert [org.name for org in page.data] == ["Acme"]
    assert page.total_count == 1
    request = sent(fake)
    assert (request.method, request.path) == ("GET", "/v1/organizations")
    assert request.query_pairs == (
        ("query", "acme"),
        ("include_members_count", "true"),
        ("organization_id", acme["id"]),
        ("order_by", "name"),
        ("limit", "10"),
    )
    assert_clerk_headers(request, fake)


@pytest.mark.parametrize("by", ["organization_id", "slug"])
async def test_get_organization_by_id_or_slug(fake: FakeClerk, client: ClerkClient, by: str) -> None:
    """GET /v1/organizations/{id or slug}; include_members_count=true asks for members_count."""
    org = fake.store.add_organization(name="Acme Inc")
    key = org["id"] if by == "organization_id" else "acme-inc"
    found = await client.organizations.get_organization(**{by: key}, include_members_count=True)
    assert isinstance(found, Organization)
    assert (found.id, found.slug, found.members_count) == (org["id"], "acme-inc", 0)
    request = sent(fake)
    assert (request.method, request.path, request.query) == (
        "GET",
        f"/v1/organizations/{key}",
        {"include_members_count": "true"},
    )


async def test_create_update_metadata_and_delete_organization(fake: FakeClerk, client: ClerkClient) -> None:
    """POST, PATCH, PATCH .../metadata and DELETE, each with Clerk's body."""
    created = await client.organizations.create_organization(name="Acme", slug="acme", max_allowed_memberships=5)
    assert (created.name, created.slug, created.max_allowed_memberships) == ("Acme", "acme", 5)
    updated = await client.organizations.update_organization(created.id, name="Acme 2")
    assert updated.name == "Acme 2"
    merged = await client.organizations.update_organization_metadata(created.id, public_metadata={"tier": "gold"})
    assert merged.public_metadata == {"tier": "gold"}
    deleted = await client.organizations.delete_organization(created.id)
    assert deleted == DeletedObject(object="organization", id=created.id, slug="acme", deleted=True)
    assert [(r.method, r.path, r.json) for r in fake.received] == [
        ("POST", "/v1/organizations", {"name": "Acme", "slug": "acme", "max_allowed_memberships": 5}),
        ("PATCH", f"/v1/organizations/{created.id}", {"name": "Acme 2"}),
        ("PATCH", f"/v1/organizations/{created.id}/metadata", {"public_metadata": {"tier": "gold"}}),
        ("DELETE", f"/v1/organizations/{created.id}", None),
    ]


async def test_memberships_are_created_listed_updated_and_deleted(fake: FakeClerk, client: ClerkClient) -> None:
    """The membership endpoints under /v1/organizations/{id}/memberships, typed OrganizationMembership back."""
    org = fake.store.add_organization(name="Acme")
    user = fake.store.add_user(email_address=["ada@example.com"], first_name="Ada")
    created = await client.organizations.create_organization_membership(
        organization_id=org["id"], user_id=user["id"], role="org:member"
    )
    assert isinstance(created, OrganizationMembership)
    assert created.public_user_data is not None
    assert (created.role, created.public_user_data.user_id) == ("org:member", user["id"])
    listed = await client.organizations.get_organization_membership_list(
        organization_id=org["id"], role=["org:member"], query="ada", limit=5
    )
    assert [m.id for m in listed.data] == [created.id]
    updated = await client.organizations.update_organization_membership(
        organization_id=org["id"], user_id=user["id"], role="org:admin"
    )
    assert updated.role == "org:admin"
    removed = await client.organizations.delete_organization_membership(organization_id=org["id"], user_id=user["id"])
    assert removed.id == created.id
    base = f"/v1/organizations/{org['id']}/memberships"
    assert [(r.method, r.path, r.json) for r in fake.received] == [
        ("POST", base, {"user_id": user["id"], "role": "org:member"}),
        ("GET", base, None),
        ("PATCH", f"{base}/{user['id']}", {"role": "org:admin"}),
        ("DELETE", f"{base}/{user['id']}", None),
    ]
    assert fake.received[1].query_pairs == (("role", "org:member"), ("query", "ada"), ("limit", "5"))


@pytest.mark.parametrize("keys", [{}, {"organization_id": "org_1", "slug": "acme"}])
async def test_get_organization_takes_exactly_one_key(
    fake: FakeClerk, client: ClerkClient, keys: dict[str, str]
) -> None:
    """Clerk's union type (organizationId | slug) as a TypeError before anything is sent."""
    with pytest.raises(TypeError, match="exactly one"):
        await client.organizations.get_organization(**keys)  # type: ignore[arg-type]
    assert fake.received == []
