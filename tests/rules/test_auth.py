"""Auth objects: Clerk's shapes and key order, has(), pending sessions, accepted token types (§16, §18)."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_authd.errors import TokenVerificationError
from clerk_authd.reasons import Reason
from clerk_authd.rules.auth import (
    Auth,
    InvalidTokenAuth,
    SignedInAuth,
    SignedOutAuth,
    auth_for_accepted_token,
    pending_as_signed_out,
    signed_in_auth,
    signed_out_auth,
    unauthenticated_machine_auth,
)
from clerk_authd.rules.identity import Identity
from clerk_authd.rules.jwt import decode_jwt
from clerk_authd.rules.machine_auth import MachineAuth
from clerk_authd.rules.state import RequestState
from tests.conftest import load_conformance

REQUEST_LINES = [line for line in load_conformance() if "input" in line]


def presented_token(line: dict[str, Any]) -> str | None:
    """The session token a conformance request carries: the bearer header, else the ``__session`` cookie."""
    headers = line["input"]["headers"]
    authorization = headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        return str(authorization.removeprefix("Bearer "))
    for pair in headers.get("cookie", "").split(";"):
        name, _, value = pair.strip().partition("=")
        if name == "__session" and value:
            return value
    return None


SIGNED_IN = [line for line in REQUEST_LINES if line["status"] == "signed-in" and presented_token(line)]
SIGNED_OUT = [line for line in REQUEST_LINES if line["status"] == "signed-out"]


def in_order(obj: dict[str, Any]) -> list[tuple[str, Any]]:
    """A JSON object as its (key, value) pairs, so comparisons check the key order too."""
    return list(obj.items())


def test_the_conformance_table_has_auth_objects_of_each_kind() -> None:
    """Signed-in (v1, v2, pending) and signed-out (session, machine, invalid) lines are all present."""
    assert len(SIGNED_IN) >= 10
    assert {line["tokenType"] for line in SIGNED_OUT} >= {"session_token", "api_key", "m2m_token", None}


@pytest.mark.parametrize("line", SIGNED_IN, ids=[line["label"] for line in SIGNED_IN])
def test_recorded_signed_in_auth_objects(line: dict[str, Any]) -> None:
    """The auth object of each recorded signed-in token (pending applied) matches Clerk's, key order included."""
    token = presented_token(line)
    assert token is not None
    auth = pending_as_signed_out(signed_in_auth(decode_jwt(token).payload, token))
    assert in_order(auth.to_json(include_claims=False)) == in_order(line["auth"])


@pytest.mark.parametrize("line", SIGNED_OUT, ids=[line["label"] for line in SIGNED_OUT])
def test_recorded_signed_out_auth_objects(line: dict[str, Any]) -> None:
    """The null object for each recorded signed-out token type matches Clerk's, key order included."""
    auth = RequestState.signed_out(line["reason"], token_type=line["tokenType"]).auth
    assert auth is not None
    assert in_order(auth.to_json(include_claims=False)) == in_order(line["auth"])


PAYLOAD: dict[str, Any] = {
    "sub": "user_1",
    "sid": "sess_1",
    "sts": "active",
    "act": {"sub": "user_admin"},
    "v": 2,
    "fea": "o:dashboard",
    "o": {"id": "org_1", "rol": "admin", "slg": "acme", "per": "read,manage", "fpm": "3"},
    "fva": [3, -1],
}


def test_session_claims_are_included_on_request_right_after_actor() -> None:
    """``to_json()`` carries ``sessionClaims`` (the payload) where JS puts it; ``include_claims=False`` drops it."""
    auth = signed_in_auth(PAYLOAD, "tok")
    full = auth.to_json()
    assert list(full)[:4] == ["tokenType", "actor", "sessionClaims", "sessionId"]
    assert full["sessionClaims"] == PAYLOAD
    assert "sessionClaims" not in auth.to_json(include_claims=False)


def test_signed_out_session_claims_are_null() -> None:
    """The signed-out object has ``sessionClaims: null`` right after ``tokenType``."""
    full = signed_out_auth().to_json()
    assert list(full)[:2] == ["tokenType", "sessionClaims"]
    assert full["sessionClaims"] is None


def test_signed_in_fields_read_like_clerks() -> None:
    """The Python attributes are the snake_case of Clerk's fields."""
    auth = signed_in_auth(PAYLOAD, "tok")
    assert (auth.user_id, auth.session_id, auth.session_status) == ("user_1", "sess_1", "active")
    assert (auth.org_id, auth.org_slug, auth.org_role) == ("org_1", "acme", "org:admin")
    assert auth.org_permissions == ("org:dashboard:read", "org:dashboard:manage")
    assert (auth.actor, auth.factor_verification_age) == ({"sub": "user_admin"}, (3, -1))
    assert (auth.token, auth.token_type, auth.is_authenticated, auth.session_claims) == (
        "tok",
        "session_token",
        True,
        PAYLOAD,
    )


def test_signed_in_has_checks_the_claims() -> None:
    """``has()`` on a signed-in object is §17's check on its claims."""
    auth = signed_in_auth(PAYLOAD, "tok")
    assert auth.has(role="admin", permission="org:dashboard:manage") is True
    assert auth.has(reverification={"level": "first_factor", "afterMinutes": 3}) is False
    assert auth.has() is False


@pytest.mark.parametrize(
    "auth",
    [
        SignedOutAuth(),
        SignedOutAuth("pending"),
        unauthenticated_machine_auth("api_key"),
        MachineAuth("api_key", id="ak_1", subject="user_1", scopes=("read",), token="ak_x"),
        InvalidTokenAuth(),
    ],
    ids=lambda auth: type(auth).__name__,
)
def test_has_is_always_false_for_every_other_object(auth: Auth) -> None:
    """Signed-out, machine and invalid-token objects answer ``has()`` with False, whatever is asked."""
    assert auth.has(role="org:admin") is False
    assert auth.has() is False


def test_a_malformed_fea_makes_the_signed_in_object_fail_closed() -> None:
    """Where JS's ``toAuth()`` throws, building the object raises ``token-invalid``."""
    payload = {**PAYLOAD, "fea": "dashboard"}
    with pytest.raises(TokenVerificationError) as caught:
        signed_in_auth(payload, "tok")
    assert caught.value.reason == Reason.TOKEN_INVALID


def test_a_pending_session_is_signed_out_by_default() -> None:
    """``treatPendingAsSignedOut``: everything null except ``sessionStatus: 'pending'``."""
    pending = signed_in_auth({"sub": "user_2", "sid": "sess_2", "sts": "pending"}, "tok")
    assert pending_as_signed_out(pending) == SignedOutAuth("pending")


def test_a_pending_session_keeps_its_fields_when_pending_is_not_signed_out() -> None:
    """Without pending handling the real object stays: user_2, sess_2, 'pending', authenticated."""
    pending = signed_in_auth({"sub": "user_2", "sid": "sess_2", "sts": "pending"}, "tok")
    shown = pending.to_json(include_claims=False)
    assert (shown["userId"], shown["sessionId"], shown["sessionStatus"], shown["isAuthenticated"]) == (
        "user_2",
        "sess_2",
        "pending",
        True,
    )


@pytest.mark.parametrize(
    "auth", [signed_in_auth(PAYLOAD, "tok"), SignedOutAuth(), InvalidTokenAuth()], ids=lambda auth: type(auth).__name__
)
def test_only_pending_signed_in_objects_change(auth: Auth) -> None:
    """Active sessions and null objects pass through pending handling unchanged."""
    assert pending_as_signed_out(auth) is auth


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (
            MachineAuth("api_key", id="ak_1", subject="user_1", scopes=("a", "b"), name="ci", claims={"x": 1}),
            {
                "id": "ak_1",
                "subject": "user_1",
                "isAuthenticated": True,
                "tokenType": "api_key",
                "name": "ci",
                "claims": {"x": 1},
                "scopes": ["a", "b"],
                "userId": "user_1",
                "orgId": None,
            },
        ),
        (
            MachineAuth("api_key", id="ak_2", subject="org_1", scopes=(), name="ops"),
            {
                "id": "ak_2",
                "subject": "org_1",
                "isAuthenticated": True,
                "tokenType": "api_key",
                "name": "ops",
                "claims": None,
                "scopes": [],
                "userId": None,
                "orgId": "org_1",
            },
        ),
        (
            MachineAuth("m2m_token", id="mt_1", subject="mch_1", scopes=("svc",), claims=None),
            {
                "id": "mt_1",
                "subject": "mch_1",
                "isAuthenticated": True,
                "tokenType": "m2m_token",
                "claims": None,
                "scopes": ["svc"],
                "machineId": "mch_1",
            },
        ),
        (
            MachineAuth("oauth_token", id="oat_1", subject="user_9", scopes=("profile",), client_id="client_1"),
            {
                "id": "oat_1",
                "subject": "user_9",
                "isAuthenticated": True,
                "tokenType": "oauth_token",
                "scopes": ["profile"],
                "userId": "user_9",
                "clientId": "client_1",
            },
        ),
    ],
    ids=lambda value: value.token_type if isinstance(value, MachineAuth) else "",
)
def test_authenticated_machine_objects(auth: MachineAuth, expected: dict[str, Any]) -> None:
    """Each machine variant has its own fields, in the order JS's spread produces."""
    assert in_order(auth.to_json()) == in_order(expected)


def test_unauthenticated_oauth_object() -> None:
    """The unauthenticated OAuth variant lists ``scopes`` before ``isAuthenticated``, all null."""
    assert in_order(unauthenticated_machine_auth("oauth_token").to_json()) == [
        ("id", None),
        ("subject", None),
        ("scopes", None),
        ("isAuthenticated", False),
        ("tokenType", "oauth_token"),
        ("userId", None),
        ("clientId", None),
    ]


def test_machine_objects_refuse_a_session_token_type_or_a_missing_subject() -> None:
    """A machine object is one of the three machine types; an authenticated one has a subject."""
    with pytest.raises(ValueError, match="not a machine token type"):
        MachineAuth("session_token")  # type: ignore[arg-type]  # the wrong type is the point of the test
    with pytest.raises(ValueError, match="subject"):
        MachineAuth("api_key", id="ak_1")


def test_an_invalid_token_object_is_two_fields() -> None:
    """``{isAuthenticated: false, tokenType: null}``."""
    assert in_order(InvalidTokenAuth().to_json()) == [("isAuthenticated", False), ("tokenType", None)]


SIGNED_IN_AUTH = signed_in_auth(PAYLOAD, "tok")
API_KEY_AUTH = MachineAuth("api_key", id="ak_1", subject="user_1", scopes=("read",))


@pytest.mark.parametrize(
    ("auth", "accepts", "expected"),
    [
        (SIGNED_IN_AUTH, "any", SIGNED_IN_AUTH),
        (API_KEY_AUTH, "any", API_KEY_AUTH),
        (SIGNED_IN_AUTH, "session_token", SIGNED_IN_AUTH),
        (SIGNED_IN_AUTH, ["api_key", "session_token"], SIGNED_IN_AUTH),
        (SIGNED_IN_AUTH, ["api_key"], InvalidTokenAuth()),
        (InvalidTokenAuth(), ["session_token"], InvalidTokenAuth()),
        (SIGNED_IN_AUTH, "m2m_token", unauthenticated_machine_auth("m2m_token")),
        (API_KEY_AUTH, "session_token", SignedOutAuth()),
        (InvalidTokenAuth(), "session_token", SignedOutAuth()),
        (SignedOutAuth("pending"), "session_token", SignedOutAuth("pending")),
        (API_KEY_AUTH, "api_key", API_KEY_AUTH),
    ],
)
def test_auth_for_accepted_token(auth: Auth, accepts: str | list[str], expected: Auth) -> None:
    """getAuthObjectForAcceptedToken: as-is when accepted, else invalid (array) or the requested null object."""
    assert auth_for_accepted_token(auth, accepts) == expected


def test_the_accepted_token_defaults_to_session_tokens() -> None:
    """Without ``acceptsToken`` a machine object becomes signed-out."""
    assert auth_for_accepted_token(API_KEY_AUTH) == SignedOutAuth()


def test_signed_in_identity_strings() -> None:
    """The identity lists user, session, org, comma-joined permissions and the actor as strings."""
    assert SIGNED_IN_AUTH.identity == Identity(
        user_id="user_1",
        session_id="sess_1",
        session_status="active",
        org_id="org_1",
        org_slug="acme",
        org_role="org:admin",
        org_permissions="org:dashboard:read,org:dashboard:manage",
        actor_id="user_admin",
        token_type="session_token",
    )


def test_signed_in_identity_is_computed_once() -> None:
    """A cached verdict renders its identity from the same object every time."""
    auth = signed_in_auth({"sub": "user_1"}, "tok")
    assert auth.identity is auth.identity


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (SignedOutAuth("pending"), Identity(session_status="pending", token_type="session_token")),
        (InvalidTokenAuth(), Identity()),
        (
            MachineAuth("api_key", id="ak_1", subject="org_1", scopes=("a", "b")),
            Identity(org_id="org_1", token_type="api_key", scopes="a,b"),
        ),
        (
            MachineAuth("m2m_token", id="mt_1", subject="mch_1"),
            Identity(token_type="m2m_token", machine_id="mch_1"),
        ),
        (
            MachineAuth("oauth_token", id="oat_1", subject="user_9", client_id="c_1"),
            Identity(user_id="user_9", token_type="oauth_token", client_id="c_1"),
        ),
    ],
    ids=lambda auth: type(auth).__name__,
)
def test_other_identities(auth: Auth, expected: Identity) -> None:
    """Null objects and machine objects give their known facts, ``''`` for the rest."""
    assert auth.identity == expected


def test_reprs_never_show_the_token() -> None:
    """Logging an auth object cannot leak the raw token."""
    secret = "eyJ.secret-token-body.sig"
    assert secret not in repr(SignedInAuth(SIGNED_IN_AUTH.claims, secret))
    assert secret not in repr(MachineAuth("api_key", id="ak_1", subject="user_1", token=secret))
