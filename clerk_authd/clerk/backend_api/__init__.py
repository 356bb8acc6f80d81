"""Clerk's Backend API: ``ClerkClient`` and its typed results, the only place the package talks to Clerk.

::

    client.py           ClerkClient: the sub-APIs, request(), and the verifier's raw calls
    transport.py        one aiohttp session, headers, timeouts, retries, errors (the aiohttp boundary)
    retry.py            RetryPolicy, Retry-After
    resource.py         Resource (typed results, unknown fields kept), PaginatedResourceResponse, DeletedObject
    subapi.py           what every sub-API shares: ids in paths, paging
    users.py            client.users                       organizations.py    client.organizations
    sessions.py         client.sessions                    invitations.py      client.invitations
    identifiers.py      client.allowlist_identifiers, client.blocklist_identifiers
    jwks.py             client.jwks                        machine_tokens.py   client.api_keys, .m2m_tokens,
                                                                               .oauth_access_tokens
"""

from clerk_authd.clerk.backend_api.client import ClerkClient
from clerk_authd.clerk.backend_api.identifiers import AllowlistIdentifier, BlocklistIdentifier
from clerk_authd.clerk.backend_api.invitations import Invitation
from clerk_authd.clerk.backend_api.jwks import Jwks
from clerk_authd.clerk.backend_api.machine_tokens import APIKey, IdPOAuthAccessToken, M2MToken
from clerk_authd.clerk.backend_api.organizations import (
    Organization,
    OrganizationMembership,
    OrganizationMembershipPublicUserData,
)
from clerk_authd.clerk.backend_api.resource import DeletedObject, PaginatedResourceResponse, Resource
from clerk_authd.clerk.backend_api.retry import RetryPolicy
from clerk_authd.clerk.backend_api.sessions import Session, SessionActivity
from clerk_authd.clerk.backend_api.subapi import ident
from clerk_authd.clerk.backend_api.transport import USER_AGENT, ClientState, join_paths
from clerk_authd.clerk.backend_api.users import EmailAddress, PhoneNumber, User, Verification, Web3Wallet

__all__ = [
    "USER_AGENT",
    "APIKey",
    "AllowlistIdentifier",
    "BlocklistIdentifier",
    "ClerkClient",
    "ClientState",
    "DeletedObject",
    "EmailAddress",
    "IdPOAuthAccessToken",
    "Invitation",
    "Jwks",
    "M2MToken",
    "Organization",
    "OrganizationMembership",
    "OrganizationMembershipPublicUserData",
    "PaginatedResourceResponse",
    "PhoneNumber",
    "Resource",
    "RetryPolicy",
    "Session",
    "SessionActivity",
    "User",
    "Verification",
    "Web3Wallet",
    "ident",
    "join_paths",
]
