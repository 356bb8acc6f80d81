"""The public Backend API client as a user writes it, checked by ``mypy --strict`` (test_api_typing.py).

Every result is annotated with the type the client promises, so a wrong promise fails the type check; the
``type: ignore`` lines are mistakes the types must catch (``--strict`` reports an ignore that is not needed).
``main`` also runs against FakeClerk, so the sample stays true at runtime.
"""

from __future__ import annotations

from clerk_authd.clerk.backend_api import (
    AllowlistIdentifier,
    ClerkClient,
    DeletedObject,
    Invitation,
    Jwks,
    Organization,
    OrganizationMembership,
    PaginatedResourceResponse,
    RetryPolicy,
    Session,
    User,
)
from clerk_authd.errors import BackendAPIError, ClerkAPIError, ClerkAPIResponseError, ClerkTransportError


async def main(api_url: str, secret_key: str) -> list[str]:
    """Use every sub-API once; returns what happened, line by line."""
    log: list[str] = []
    retry = RetryPolicy(max_retries=2, deadline_s=10.0)
    async with ClerkClient(secret_key=secret_key, api_url=api_url, retry=retry) as client:
        ada: User = await client.users.create_user(email_address=["ada@example.com"], first_name="Ada")
        page: PaginatedResourceResponse[User] = await client.users.get_user_list(
            email_address=["ada@example.com"], order_by="-created_at", limit=10
        )
        count: int = await client.users.get_count(query="ada")
        log.append(f"{page.total_count} user(s), count {count}, first {page.data[0].first_name}")
        ada = await client.users.update_user_metadata(ada.id, public_metadata={"plan": "pro"})
        banned: bool = (await client.users.ban_user(ada.id)).banned
        log.append(f"banned={banned} plan={ada.public_metadata['plan']}")

        org: Organization = await client.organizations.create_organization(name="Acme", created_by=ada.id)
        member: OrganizationMembership = await client.organizations.create_organization_membership(
            organization_id=org.id, user_id=ada.id, role="org:admin"
        )
        async for membership in client.users.iter_organization_membership_list(user_id=ada.id):
            name: str = membership.organization.name if membership.organization else "?"
            log.append(f"member of {name} as {member.role}")

        sessions: PaginatedResourceResponse[Session] = await client.sessions.get_session_list(user_id=ada.id)
        invitation: Invitation = await client.invitations.create_invitation(email_address="bob@example.com")
        allowed: AllowlistIdentifier = await client.allowlist_identifiers.create_allowlist_identifier(
            identifier="example.com", notify=False
        )
        jwks: Jwks = await client.jwks.get_jwks()
        log.append(
            f"{sessions.total_count} sessions, {invitation.status}, {allowed.identifier_type}, {len(jwks.keys)} key"
        )

        raw: object = await client.request("GET", "/users/count")
        typed: User = await client.request("GET", f"/users/{ada.id}", into=User)
        gone: DeletedObject = await client.users.delete_user(typed.id)
        log.append(f"raw {raw}, deleted={gone.deleted}")

        try:
            await client.users.get_user(ada.id)
        except ClerkAPIResponseError as error:
            first: ClerkAPIError = error.errors[0]
            trace: str | None = error.clerk_trace_id
            log.append(f"{error.status} {first.code} trace={trace}")
        except ClerkTransportError as error:
            log.append(f"unreachable: {error.message}")
        except BackendAPIError as error:
            log.append(f"malformed: {error.status}")
    return log


async def mistakes_the_types_catch(client: ClerkClient) -> None:
    """Never run: each line is wrong, and the type checker says so."""
    await client.users.get_user_list(emailaddress=["typo@example.com"])  # type: ignore[call-arg]
    await client.users.get_user_list(limit="10")  # type: ignore[arg-type]
    await client.organizations.create_organization(slug="no-name")  # type: ignore[call-arg]
    await client.sessions.get_session_list(status="sleeping")  # type: ignore[arg-type]
    user: Organization = await client.users.get_user("user_1")  # type: ignore[assignment]
    print(user)
