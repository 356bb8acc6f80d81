"""The machine-token verify endpoints FakeClerk serves (clerk-semantics §18), and the JSON each answers.

Each endpoint lives outside ``/v1`` and reads the token from its own body member; a registered token answers
Clerk's resource JSON for its type (``api/resources/JSON.ts``), any other token 404, a body without the member
422, as Clerk's do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from clerk_authd.testing.fake_clerk.responses import clerk_error, errors_response, json_response

#: machine-token verify path → (token type, the JSON body member carrying the token), clerk-semantics §18
MACHINE_VERIFY_ENDPOINTS: Final[Mapping[str, tuple[str, str]]] = {
    "/api_keys/verify": ("api_key", "secret"),
    "/m2m_tokens/verify": ("m2m_token", "token"),
    "/oauth_applications/access_tokens/verify": ("oauth_token", "access_token"),
}

#: Clerk's resource JSON per machine token type, less ``id`` and the timestamps (``api/resources/JSON.ts``)
MACHINE_DEFAULTS: Final[Mapping[str, Mapping[str, Any]]] = {
    "api_key": {
        "object": "api_key",
        "type": "api_key",
        "name": "fake-api-key",
        "subject": "user_fake",
        "scopes": [],
        "claims": None,
        "revoked": False,
        "revocation_reason": None,
        "expired": False,
        "expiration": None,
        "created_by": None,
        "description": None,
        "last_used_at": None,
    },
    "m2m_token": {
        "object": "machine_to_machine_token",
        "subject": "mch_fake",
        "scopes": [],
        "claims": None,
        "revoked": False,
        "revocation_reason": None,
        "expired": False,
        "expiration": None,
    },
    "oauth_token": {
        "object": "clerk_idp_oauth_access_token",
        "client_id": "client_fake",
        "type": "oauth:access_token",
        "subject": "user_fake",
        "scopes": [],
        "revoked": False,
        "revocation_reason": None,
        "expired": False,
        "expiration": None,
    },
}
MACHINE_ID_PREFIXES: Final[Mapping[str, str]] = {"api_key": "ak_", "m2m_token": "mt_", "oauth_token": "oat_"}


def verify_response(
    tokens: Mapping[tuple[str, str], dict[str, Any]], token_type: str, member: str, body: Any
) -> web.Response:
    """A registered token's resource JSON; 404 for any other token, 422 without the body member."""
    token = body.get(member) if isinstance(body, dict) else None
    if not isinstance(token, str):
        return errors_response(422, [clerk_error("form_param_missing", f"{member} must be included")])
    answer = tokens.get((token_type, token))
    if answer is None:
        return errors_response(404, [clerk_error("resource_not_found", "not found")])
    return json_response(answer)
