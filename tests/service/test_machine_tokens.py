"""Machine tokens (API keys, M2M tokens, OAuth tokens) through the service, verified by FakeClerk's Backend API.

A verified machine token is signed in as the machine: ``X-Clerk-Token-Type`` names the type, the machine's
facts fill their headers (``X-Clerk-Machine-Id`` for M2M, ``X-Clerk-Client-Id`` for OAuth, ``X-Clerk-User-Id``
/ ``X-Clerk-Org-Id`` for the owner of an API key, ``X-Clerk-Scopes``), and every other identity header is
present and empty, so nothing a client sent can pass through.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import Answer, Running, assert_identity_headers, bearer

API_KEY = "ak_service_test_key"
M2M_TOKEN = "mt_service_test_token"
OAUTH_TOKEN = "oat_service_test_token"
TOKENS = {"api_key": API_KEY, "m2m_token": M2M_TOKEN, "oauth_token": OAUTH_TOKEN}
#: the headers a machine answer fills in, per case; every other identity header must be empty
_MACHINE_HEADERS = (
    "X-Clerk-Token-Type",
    "X-Clerk-User-Id",
    "X-Clerk-Org-Id",
    "X-Clerk-Machine-Id",
    "X-Clerk-Client-Id",
    "X-Clerk-Scopes",
)
_SESSION_HEADERS = (
    "X-Clerk-Auth-Reason",
    "X-Clerk-Auth-Message",
    "X-Clerk-Session-Id",
    "X-Clerk-Session-Status",
    "X-Clerk-Org-Slug",
    "X-Clerk-Org-Role",
    "X-Clerk-Org-Permissions",
    "X-Clerk-Actor-Id",
)


def assert_machine_identity(answer: Answer, expected: Mapping[str, str]) -> None:
    """Signed in, ``expected`` machine headers as given, the other machine headers and all session headers empty."""
    assert_identity_headers(answer)
    assert answer.headers["X-Clerk-Auth-Status"] == "signed-in"
    for name in _MACHINE_HEADERS:
        assert answer.headers[name] == expected.get(name, ""), name
    for name in _SESSION_HEADERS:
        assert answer.headers[name] == "", name


@pytest.mark.parametrize(
    ("token_type", "fields", "expected"),
    [
        (
            "api_key",
            {"subject": "user_1", "scopes": ["read", "write"]},
            {"X-Clerk-Token-Type": "api_key", "X-Clerk-User-Id": "user_1", "X-Clerk-Scopes": "read,write"},
        ),
        (
            "api_key",
            {"subject": "org_1", "scopes": ["billing:read"]},
            {"X-Clerk-Token-Type": "api_key", "X-Clerk-Org-Id": "org_1", "X-Clerk-Scopes": "billing:read"},
        ),
        (
            "m2m_token",
            {"subject": "mch_1", "scopes": ["mch_2", "mch_3"]},
            {"X-Clerk-Token-Type": "m2m_token", "X-Clerk-Machine-Id": "mch_1", "X-Clerk-Scopes": "mch_2,mch_3"},
        ),
        (
            "oauth_token",
            {"subject": "user_1", "client_id": "client_1", "scopes": ["profile", "email"]},
            {
                "X-Clerk-Token-Type": "oauth_token",
                "X-Clerk-User-Id": "user_1",
                "X-Clerk-Client-Id": "client_1",
                "X-Clerk-Scopes": "profile,email",
            },
        ),
    ],
    ids=["user-api-key", "org-api-key", "m2m-token", "oauth-token"],
)
async def test_verify_signs_a_verified_machine_token_in_with_its_identity(
    service: Running,
    live_clerk: FakeClerk,
    token_type: str,
    fields: dict[str, object],
    expected: dict[str, str],
) -> None:
    """``/verify?accepts=<type>`` is 200 with the machine's identity headers, the rest present and empty, uncacheable
    by the proxy (a machine token has no ``exp`` the service read); the same holds when asked again."""
    token = TOKENS[token_type]
    live_clerk.register_machine_token(token, token_type, **fields)
    for _ in range(2):
        answer = await service.call(f"/verify?accepts={token_type}", headers=bearer(token))
        assert answer.status == 200
        assert answer.body == b""
        assert_machine_identity(answer, expected)
        assert answer.headers["Cache-Control"] == "private, max-age=0"


async def test_a_machine_token_passes_where_its_type_is_one_of_several_accepted(
    service: Running, live_clerk: FakeClerk
) -> None:
    """``accepts=session_token,api_key`` and ``accepts=any`` take an API key too."""
    live_clerk.register_machine_token(API_KEY, "api_key", subject="user_1")
    for accepts in ("session_token,api_key", "any"):
        answer = await service.call(f"/verify?accepts={accepts}", headers=bearer(API_KEY))
        assert answer.status == 200, accepts
        assert_machine_identity(answer, {"X-Clerk-Token-Type": "api_key", "X-Clerk-User-Id": "user_1"})


async def test_an_api_key_where_only_session_tokens_are_accepted_is_not_a_session_token(
    service: Running, live_clerk: FakeClerk
) -> None:
    """With the default ``session_token``, Clerk reads a valid API key as a malformed session JWT (401
    ``token-invalid``); where a list of other types is accepted it is ``token-type-mismatch``. The API is never
    asked."""
    live_clerk.register_machine_token(API_KEY, "api_key", subject="user_1")
    for query, reason in (("", "token-invalid"), ("?accepts=session_token,oauth_token", "token-type-mismatch")):
        answer = await service.call(f"/verify{query}", headers=bearer(API_KEY))
        assert answer.status == 401
        assert_identity_headers(answer)
        assert answer.headers["X-Clerk-Auth-Reason"] == reason
        assert answer.headers["X-Clerk-User-Id"] == ""
    assert not any(path.endswith("/api_keys/verify") for _, path in live_clerk.requests)


@pytest.mark.parametrize(
    ("token_type", "message"),
    [
        ("api_key", "API key not found"),
        ("m2m_token", "Machine token not found"),
        ("oauth_token", "OAuth token not found"),
    ],
)
async def test_a_machine_token_clerk_does_not_know_is_401_token_invalid_with_clerks_message(
    service: Running, token_type: str, message: str
) -> None:
    """FakeClerk's 404 is 401 ``token-invalid`` with Clerk's message, an invalid-token challenge and no identity."""
    answer = await service.call(f"/verify?accepts={token_type}", headers=bearer(TOKENS[token_type]))
    assert answer.status == 401
    assert_identity_headers(answer)
    assert answer.headers["X-Clerk-Auth-Status"] == "signed-out"
    assert answer.headers["X-Clerk-Auth-Reason"] == "token-invalid"
    assert answer.headers["X-Clerk-Auth-Message"] == f"{message} (code=token-invalid, status=404)"
    assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert answer.headers["Cache-Control"] == "no-store"
    for name in ("X-Clerk-User-Id", "X-Clerk-Org-Id", "X-Clerk-Machine-Id", "X-Clerk-Client-Id", "X-Clerk-Scopes"):
        assert answer.headers[name] == "", name


async def test_auth_is_the_machine_auth_object(service: Running, live_clerk: FakeClerk) -> None:
    """``/auth?accepts=m2m_token`` is Clerk's machine auth object in camelCase, never the token itself."""
    registered = live_clerk.register_machine_token(
        M2M_TOKEN, "m2m_token", subject="mch_1", scopes=["mch_2"], claims={"tier": "gold"}
    )
    answer = await service.call("/auth?accepts=m2m_token", headers=bearer(M2M_TOKEN))
    assert answer.status == 200
    assert_machine_identity(answer, {"X-Clerk-Token-Type": "m2m_token", "X-Clerk-Machine-Id": "mch_1",
                                     "X-Clerk-Scopes": "mch_2"})  # fmt: skip
    assert answer.json() == {
        "status": "signed-in",
        "reason": None,
        "message": None,
        "auth": {
            "id": registered["id"],
            "subject": "mch_1",
            "isAuthenticated": True,
            "tokenType": "m2m_token",
            "claims": {"tier": "gold"},
            "scopes": ["mch_2"],
            "machineId": "mch_1",
        },
    }
    assert M2M_TOKEN.encode() not in answer.body


async def test_auth_for_a_rejected_machine_token_is_200_signed_out_with_clerks_reason(service: Running) -> None:
    """``/auth`` answers a rejected API key 200 with ``token-invalid``, Clerk's message and an unauthenticated
    machine object."""
    answer = await service.call("/auth?accepts=api_key", headers=bearer(API_KEY))
    assert answer.status == 200
    body = answer.json()
    assert (body["status"], body["reason"], body["message"]) == (
        "signed-out",
        "token-invalid",
        "API key not found (code=token-invalid, status=404)",
    )
    assert body["auth"]["isAuthenticated"] is False
    assert body["auth"]["tokenType"] == "api_key"
