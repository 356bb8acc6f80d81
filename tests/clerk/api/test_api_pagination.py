"""Every list's async iterator walks all pages (limit/offset), and stops at total_count or an empty page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.testing.fake_clerk import FakeClerk, ResourceStore

Seed = Callable[[ResourceStore], list[str]]


def seven(add: Callable[[ResourceStore, int], dict[str, Any]]) -> Seed:
    return lambda store: [add(store, n)["id"] for n in range(7)]


def _org_with_members(store: ResourceStore) -> list[str]:
    org = store.add_organization(name="Paged")
    return [store.add_membership(org["id"], user_id=store.add_user()["id"], role="org:member")["id"] for _ in range(7)]


def _user_with_memberships(store: ResourceStore) -> list[str]:
    user = store.add_user()
    return [
        store.add_membership(store.add_organization(name=f"org {n}")["id"], user_id=user["id"], role="org:member")["id"]
        for n in range(7)
    ]


# (name, seed, the iterator given the client and the seeded store, the list path)
CASES: list[tuple[str, Seed, Callable[[ClerkClient, ResourceStore], AsyncIterator[Any]], str]] = [
    ("users", seven(lambda s, n: s.add_user()), lambda c, s: c.users.iter_user_list(limit=3), "/v1/users"),
    (
        "organizations",
        seven(lambda s, n: s.add_organization(name=f"org {n}")),
        lambda c, s: c.organizations.iter_organization_list(limit=3),
        "/v1/organizations",
    ),
    (
        "organization memberships",
        _org_with_members,
        lambda c, s: c.organizations.iter_organization_membership_list(
            organization_id=next(iter(s.organizations)), limit=3
        ),
        "/memberships",
    ),
    (
        "user memberships",
        _user_with_memberships,
        lambda c, s: c.users.iter_organization_membership_list(user_id=next(iter(s.users)), limit=3),
        "/organization_memberships",
    ),
    (
        "sessions",
        seven(lambda s, n: s.add_session("user_1")),
        lambda c, s: c.sessions.iter_session_list(user_id="user_1", limit=3),
        "/v1/sessions",
    ),
    (
        "invitations",
        seven(lambda s, n: s.add_invitation(email_address=f"u{n}@example.com")),
        lambda c, s: c.invitations.iter_invitation_list(limit=3),
        "/v1/invitations",
    ),
    (
        "allowlist",
        seven(lambda s, n: s.add_identifier(s.allowlist, "alid", "allowlist_identifier", {"identifier": f"d{n}.com"})),
        lambda c, s: c.allowlist_identifiers.iter_allowlist_identifier_list(limit=3),
        "/v1/allowlist_identifiers",
    ),
    (
        "blocklist",
        seven(lambda s, n: s.add_identifier(s.blocklist, "blid", "blocklist_identifier", {"identifier": f"d{n}.com"})),
        lambda c, s: c.blocklist_identifiers.iter_blocklist_identifier_list(limit=3),
        "/v1/blocklist_identifiers",
    ),
]


@pytest.mark.parametrize(("seed", "iterate", "path"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
async def test_iterators_walk_every_page(
    fake: FakeClerk, client: ClerkClient, seed: Seed, iterate: Callable[..., AsyncIterator[Any]], path: str
) -> None:
    """Seven items, three a page: three requests (offsets 0, 3, 6), every item once, newest first."""
    ids = seed(fake.store)
    fake.received.clear()
    seen = [item.id async for item in iterate(client, fake.store)]
    assert seen == list(reversed(ids))
    pages = [r for r in fake.received if r.path.endswith(path)]
    assert [(r.query.get("limit"), r.query.get("offset")) for r in pages] == [("3", None), ("3", "3"), ("3", "6")]


async def test_the_iterator_starts_at_the_callers_offset_and_defaults_the_page_size(
    fake: FakeClerk, client: ClerkClient
) -> None:
    """offset=5 of seven: two items in one page of 100 (the default), then no second request."""
    for n in range(7):
        fake.store.add_organization(name=f"org {n}")
    seen = [org async for org in client.organizations.iter_organization_list(offset=5)]
    assert len(seen) == 2
    assert [(r.query.get("limit"), r.query.get("offset")) for r in fake.received] == [("100", "5")]


async def test_the_iterator_of_an_empty_list_asks_once(fake: FakeClerk, client: ClerkClient) -> None:
    """No items: one request, nothing yielded."""
    assert [s async for s in client.sessions.iter_session_list(user_id="nobody")] == []
    assert len(fake.received) == 1


async def test_a_page_that_comes_back_empty_ends_the_walk(fake: FakeClerk, client: ClerkClient) -> None:
    """A total_count that promises more than exists (a deletion mid-walk) still ends, at the empty page."""
    for n in range(3):
        fake.store.add_invitation(email_address=f"u{n}@example.com")
    walk = client.invitations.iter_invitation_list(limit=2)
    first = [await anext(walk), await anext(walk)]
    fake.store.invitations.clear()
    rest = [i async for i in walk]
    assert (len(first), rest) == (2, [])
    assert len(fake.received) == 2
