"""The resource endpoints FakeClerk serves from its ``ResourceStore``, as one table: method, path, handler.

Lists filter, order and page as ``listing`` does. ``GET /users`` answers a bare array and ``/users/count``
the count, as Clerk's do; the other lists answer ``{"data": [...], "total_count": n}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Final

from clerk_authd.testing.fake_clerk.listing import Query, contains, listed, matches
from clerk_authd.testing.fake_clerk.store import JSON, ResourceStore, StoreError, get_or_404, merge_metadata

Handler = Callable[[ResourceStore, dict[str, str], Query, JSON], Any]
_USER_METADATA: Final = ("public_metadata", "private_metadata", "unsafe_metadata")
_ORG_METADATA: Final = ("public_metadata", "private_metadata")


def _users(store: ResourceStore, query: Query) -> list[JSON]:
    def member_of(user: JSON) -> Iterable[str]:
        return (
            m["organization"]["id"]
            for m in store.memberships.values()
            if m["public_user_data"]["user_id"] == user["id"]
        )

    return [
        user
        for user in store.users.values()
        if matches(query, "user_id", [user["id"]])
        and matches(query, "email_address", [e["email_address"] for e in user["email_addresses"]])
        and matches(query, "phone_number", [p["phone_number"] for p in user["phone_numbers"]])
        and matches(query, "username", [user["username"]])
        and matches(query, "external_id", [user["external_id"]])
        and matches(query, "organization_id", member_of(user))
        and contains(
            query,
            [
                user["id"],
                user["username"],
                user["first_name"],
                user["last_name"],
                *(e["email_address"] for e in user["email_addresses"]),
            ],
        )
    ]


def _user_memberships(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> Any:
    user = get_or_404(store.users, p["id"], "user")
    return listed([m for m in store.memberships.values() if m["public_user_data"]["user_id"] == user["id"]], q)


def _organizations(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> Any:
    found = [
        org
        for org in store.organizations.values()
        if matches(q, "organization_id", [org["id"]]) and contains(q, [org["name"], org["slug"]])
    ]
    return listed(found, q)


def _user_update(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> JSON:
    user = get_or_404(store.users, p["id"], "user")
    user.update({key: value for key, value in body.items() if key in user and key not in _USER_METADATA})
    return store.touch(user)


def _user_metadata(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> JSON:
    user = get_or_404(store.users, p["id"], "user")
    merge_metadata(user, body, _USER_METADATA)
    return store.touch(user)


def _user_flag(member: str, value: bool) -> Handler:
    def handle(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> JSON:
        user = get_or_404(store.users, p["id"], "user")
        user[member] = value
        return store.touch(user)

    return handle


def _deleted(listing: Callable[[ResourceStore], dict[str, JSON]], what: str) -> Handler:
    def handle(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> JSON:
        resources = listing(store)
        resource = get_or_404(resources, p["id"], what)
        del resources[p["id"]]
        return {"object": resource["object"], "id": resource["id"], "slug": resource.get("slug"), "deleted": True}

    return handle


def _organization(store: ResourceStore, key: str) -> JSON:
    """By id or by slug, as ``GET /organizations/{id_or_slug}``."""
    found = store.organizations.get(key) or next((o for o in store.organizations.values() if o["slug"] == key), None)
    if found is None:
        raise StoreError(404, "resource_not_found", "organization not found")
    return found


def _get_organization(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> JSON:
    org = _organization(store, p["id"])
    if q.get("include_members_count") != "true":
        return org
    return {**org, "members_count": sum(m["organization"]["id"] == org["id"] for m in store.memberships.values())}


def _org_update(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> JSON:
    org = get_or_404(store.organizations, p["id"], "organization")
    org.update({key: value for key, value in body.items() if key in org and key not in _ORG_METADATA})
    return store.touch(org)


def _org_metadata(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> JSON:
    org = get_or_404(store.organizations, p["id"], "organization")
    merge_metadata(org, body, _ORG_METADATA)
    return store.touch(org)


def _memberships(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> Any:
    org = get_or_404(store.organizations, p["id"], "organization")
    found = [
        m
        for m in store.memberships.values()
        if m["organization"]["id"] == org["id"]
        and matches(q, "user_id", [m["public_user_data"]["user_id"]])
        and matches(q, "role", [m["role"]])
        and contains(q, [m["public_user_data"]["identifier"], m["public_user_data"]["first_name"]])
    ]
    return listed(found, q)


def _membership(store: ResourceStore, p: dict[str, str]) -> JSON:
    get_or_404(store.organizations, p["id"], "organization")
    membership = store.membership_of(p["id"], p["user_id"])
    if membership is None:
        raise StoreError(404, "resource_not_found", "membership not found")
    return membership


def _membership_update(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> JSON:
    membership = _membership(store, p)
    membership["role"] = body.get("role") or membership["role"]
    return store.touch(membership)


def _membership_delete(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> JSON:
    membership = _membership(store, p)
    del store.memberships[membership["id"]]
    return membership


def _sessions(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> Any:
    found = [
        s
        for s in store.sessions.values()
        if matches(q, "user_id", [s["user_id"]])
        and matches(q, "client_id", [s["client_id"]])
        and matches(q, "status", [s["status"]])
    ]
    return listed(found, q, bare=q.get("paginated") != "true")


def _revoked(listing: Callable[[ResourceStore], dict[str, JSON]], what: str) -> Handler:
    def handle(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> JSON:
        resource = get_or_404(listing(store), p["id"], what)
        resource["status"] = "revoked"
        if "revoked" in resource:
            resource["revoked"] = True
        return store.touch(resource)

    return handle


def _invitations(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> Any:
    found = [
        i
        for i in store.invitations.values()
        if matches(q, "status", [i["status"]]) and contains(q, [i["email_address"]])
    ]
    return listed(found, q, bare=q.get("paginated") != "true")


def _identifiers(listing: Callable[[ResourceStore], dict[str, JSON]]) -> Handler:
    def handle(store: ResourceStore, p: dict[str, str], q: Query, body: JSON) -> Any:
        return listed(listing(store).values(), q)

    return handle


_ID = r"(?P<id>[^/]+)"
#: (method, path under /v1, handler); the first match answers
ROUTES: Final[list[tuple[str, re.Pattern[str], Handler]]] = [
    (method, re.compile(f"/v1{path}"), handler)
    for method, path, handler in [
        ("GET", "/users", lambda s, p, q, b: listed(_users(s, q), q, bare=True)),
        ("GET", "/users/count", lambda s, p, q, b: {"object": "total_count", "total_count": len(_users(s, q))}),
        ("POST", "/users", lambda s, p, q, b: s.add_user(**b)),
        ("GET", f"/users/{_ID}", lambda s, p, q, b: get_or_404(s.users, p["id"], "user")),
        ("PATCH", f"/users/{_ID}", _user_update),
        ("DELETE", f"/users/{_ID}", _deleted(lambda s: s.users, "user")),
        ("PATCH", f"/users/{_ID}/metadata", _user_metadata),
        ("POST", f"/users/{_ID}/ban", _user_flag("banned", True)),
        ("POST", f"/users/{_ID}/unban", _user_flag("banned", False)),
        ("POST", f"/users/{_ID}/lock", _user_flag("locked", True)),
        ("POST", f"/users/{_ID}/unlock", _user_flag("locked", False)),
        ("GET", f"/users/{_ID}/organization_memberships", _user_memberships),
        ("GET", "/organizations", _organizations),
        ("POST", "/organizations", lambda s, p, q, b: s.add_organization(**b)),
        ("GET", f"/organizations/{_ID}", _get_organization),
        ("PATCH", f"/organizations/{_ID}", _org_update),
        ("DELETE", f"/organizations/{_ID}", _deleted(lambda s: s.organizations, "organization")),
        ("PATCH", f"/organizations/{_ID}/metadata", _org_metadata),
        ("GET", f"/organizations/{_ID}/memberships", _memberships),
        ("POST", f"/organizations/{_ID}/memberships", lambda s, p, q, b: s.add_membership(p["id"], **b)),
        ("PATCH", f"/organizations/{_ID}/memberships/(?P<user_id>[^/]+)", _membership_update),
        ("DELETE", f"/organizations/{_ID}/memberships/(?P<user_id>[^/]+)", _membership_delete),
        ("GET", "/sessions", _sessions),
        ("GET", f"/sessions/{_ID}", lambda s, p, q, b: get_or_404(s.sessions, p["id"], "session")),
        ("POST", f"/sessions/{_ID}/revoke", _revoked(lambda s: s.sessions, "session")),
        ("GET", "/invitations", _invitations),
        ("POST", "/invitations", lambda s, p, q, b: s.add_invitation(**b)),
        ("POST", f"/invitations/{_ID}/revoke", _revoked(lambda s: s.invitations, "invitation")),
        ("GET", "/allowlist_identifiers", _identifiers(lambda s: s.allowlist)),
        (
            "POST",
            "/allowlist_identifiers",
            lambda s, p, q, b: s.add_identifier(s.allowlist, "alid", "allowlist_identifier", b),
        ),
        ("DELETE", f"/allowlist_identifiers/{_ID}", _deleted(lambda s: s.allowlist, "allowlist identifier")),
        ("GET", "/blocklist_identifiers", _identifiers(lambda s: s.blocklist)),
        (
            "POST",
            "/blocklist_identifiers",
            lambda s, p, q, b: s.add_identifier(s.blocklist, "blid", "blocklist_identifier", b),
        ),
        ("DELETE", f"/blocklist_identifiers/{_ID}", _deleted(lambda s: s.blocklist, "blocklist identifier")),
    ]
]


def route(store: ResourceStore, method: str, path: str, query: Query, body: Any) -> Any:
    """The JSON a resource endpoint answers; ``StoreError`` for Clerk's error answers, a 404 when nothing matches."""
    for route_method, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match is not None and method == route_method:
            return handler(store, match.groupdict(), query, body if isinstance(body, dict) else {})
    raise StoreError(404, "resource_not_found", "not found")
