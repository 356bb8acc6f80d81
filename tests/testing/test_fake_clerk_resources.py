"""FakeClerk's resource endpoints answer like Clerk's: filters, order, pages, and Clerk's error for each refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from clerk_authd.clerk.backend_api import ClerkClient, RetryPolicy
from clerk_authd.errors import ClerkAPIResponseError
from clerk_authd.testing.fake_clerk import FakeClerk, StoreError


@pytest.fixture
def fake(fake_clerk: FakeClerk) -> FakeClerk:
    """The plugin's running FakeClerk, by the shorter name these tests use."""
    return fake_clerk


@pytest.fixture
async def client(fake: FakeClerk) -> AsyncIterator[ClerkClient]:
    async with ClerkClient(secret_key=fake.secret_key, api_url=fake.url, retry=RetryPolicy(max_retries=0)) as clerk:
        yield clerk


async def test_user_filters_combine_and_each_takes_several_values(fake: FakeClerk, client: ClerkClient) -> None:
    """Every filter must hold; a repeated filter matches any of its values; query searches names and emails."""
    ada = fake.store.add_user(email_address=["ada@example.com"], username="ada", external_id="ext-1")
    bob = fake.store.add_user(email_address=["bob@example.com"], phone_number=["+15555550100"], first_name="Bob")
    org = fake.store.add_organization(name="Acme")
    fake.store.add_membership(org["id"], user_id=bob["id"], role="org:member")

    async def ids(**filters: Any) -> list[str]:
        return [user.id for user in (await client.users.get_user_list(**filters)).data]

    assert await ids(email_address=["ada@example.com", "bob@example.com"]) == [bob["id"], ada["id"]]
    assert await ids(phone_number=["+15555550100"]) == [bob["id"]]
    assert await ids(username=["ada"], external_id=["ext-1"]) == [ada["id"]]
    assert await ids(username=["ada"], external_id=["ext-2"]) == []
    assert await ids(organization_id=[org["id"]]) == [bob["id"]]
    assert await ids(query="BOB") == [bob["id"]]
    assert await ids(user_id=[ada["id"]], order_by="+created_at") == [ada["id"]]
    assert await ids(order_by="+created_at", limit=1, offset=1) == [bob["id"]]


async def test_orgs_sessions_and_invitations_filter(fake: FakeClerk, client: ClerkClient) -> None:
    """Organization query and ids, session client and status, invitation status and query."""
    acme = fake.store.add_organization(name="Acme")
    fake.store.add_organization(name="Globex")
    assert [o.id for o in (await client.organizations.get_organization_list(query="acm")).data] == [acme["id"]]
    mine = fake.store.add_session("user_1", client_id="client_a")
    fake.store.add_session("user_1", client_id="client_b", status="ended")
    found = await client.sessions.get_session_list(client_id="client_a", status="active")
    assert [s.id for s in found.data] == [mine["id"]]
    kept = fake.store.add_invitation(email_address="a@example.com")
    gone = fake.store.add_invitation(email_address="b@example.com")
    await client.invitations.revoke_invitation(gone["id"])
    pending = await client.invitations.get_invitation_list(status="pending")
    assert [i.id for i in pending.data] == [kept["id"]]
    assert (await client.invitations.get_invitation_list(query="b@")).data[0].status == "revoked"


async def test_default_order_is_newest_first_and_the_default_page_is_ten(fake: FakeClerk, client: ClerkClient) -> None:
    """Twelve organizations made in the same millisecond: ten come back, the last made first."""
    made = [fake.store.add_organization(name=f"org {n}")["id"] for n in range(12)]
    page = await client.organizations.get_organization_list()
    assert ([o.id for o in page.data], page.total_count) == (list(reversed(made))[:10], 12)


async def test_list_endpoints_without_paginated_answer_a_bare_array(fake: FakeClerk, client: ClerkClient) -> None:
    """GET /v1/sessions without paginated=true is an array, as Clerk's; the client counts it itself."""
    fake.store.add_session("user_1")
    page = await client.request("GET", "/sessions", query={"user_id": "user_1"})
    assert isinstance(page, list)
    assert len(page) == 1


Call = Callable[[ClerkClient, dict[str, Any]], Awaitable[object]]
REFUSALS: list[tuple[str, Call, int, str]] = [
    ("unknown user", lambda c, s: c.users.get_user("user_missing"), 404, "resource_not_found"),
    ("taken email", lambda c, s: c.users.create_user(email_address=["ada@example.com"]), 422, "form_identifier_exists"),
    (
        "taken slug",
        lambda c, s: c.organizations.create_organization(name="x", slug="acme"),
        422,
        "form_identifier_exists",
    ),
    ("unknown slug", lambda c, s: c.organizations.get_organization(slug="nope"), 404, "resource_not_found"),
    (
        "member twice",
        lambda c, s: c.organizations.create_organization_membership(
            organization_id=s["org"], user_id=s["user"], role="org:member"
        ),
        422,
        "already_a_member_in_organization",
    ),
    (
        "not a member",
        lambda c, s: c.organizations.delete_organization_membership(organization_id=s["org"], user_id="user_x"),
        404,
        "resource_not_found",
    ),
    (
        "membership of an unknown organization",
        lambda c, s: c.organizations.update_organization_membership(
            organization_id="org_x", user_id=s["user"], role="org:admin"
        ),
        404,
        "resource_not_found",
    ),
    (
        "duplicate invitation",
        lambda c, s: c.invitations.create_invitation(email_address="ada@example.com"),
        422,
        "duplicate_record",
    ),
    (
        "identifier missing",
        lambda c, s: c.request("POST", "/blocklist_identifiers", body={"x": 1}),
        422,
        "form_param_missing",
    ),
    (
        "bad limit",
        lambda c, s: c.request("GET", "/organizations", query={"limit": "ten"}),
        400,
        "form_param_format_invalid",
    ),
    ("unknown endpoint", lambda c, s: c.request("GET", "/no_such_resource"), 404, "resource_not_found"),
    ("unknown session", lambda c, s: c.sessions.revoke_session("sess_missing"), 404, "resource_not_found"),
]


@pytest.mark.parametrize(("call", "status", "code"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
async def test_each_refusal_is_clerks_error(
    fake: FakeClerk, client: ClerkClient, call: Call, status: int, code: str
) -> None:
    """The status and code Clerk answers each mistake with."""
    user = fake.store.add_user(email_address=["ada@example.com"])
    org = fake.store.add_organization(name="Acme")
    fake.store.add_membership(org["id"], user_id=user["id"], role="org:admin")
    fake.store.add_invitation(email_address="ada@example.com")
    with pytest.raises(ClerkAPIResponseError) as caught:
        await call(client, {"user": user["id"], "org": org["id"]})
    assert (caught.value.status, caught.value.code) == (status, code)


def test_seeding_refuses_what_the_api_would() -> None:
    """The store's own methods raise StoreError, the error an endpoint answers with."""
    with pytest.raises(StoreError, match="name must be included") as caught:
        FakeClerk().store.add_organization()
    assert (caught.value.status, caught.value.meta) == (422, {"param_name": "name"})


async def test_a_limited_failure_counts_down_then_heals_itself(fake: FakeClerk, client: ClerkClient) -> None:
    """fail_with(times=2): two failures, then normal answers."""
    fake.fail_with(500, times=2)
    statuses = []
    for _ in range(3):
        try:
            await client.jwks.get_jwks()
            statuses.append(200)
        except ClerkAPIResponseError as error:
            statuses.append(error.status)
    assert statuses == [500, 500, 200]
