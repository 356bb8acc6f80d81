"""The request state: status, debug headers, and its auth object (clerk-semantics §12, §16.5)."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_authd.rules.auth import InvalidTokenAuth, SignedOutAuth, signed_in_auth, unauthenticated_machine_auth
from clerk_authd.rules.machine_auth import MachineAuth
from clerk_authd.rules.state import RequestState, header_value
from tests.conftest import load_conformance

REQUEST_LINES = [line for line in load_conformance() if "input" in line]
DEBUG_HEADERS = ("x-clerk-auth-status", "x-clerk-auth-reason", "x-clerk-auth-message")


def state_like(line: dict[str, Any]) -> RequestState:
    """A state built from a recorded line's outcome, given only the headers that are not debug headers."""
    other = [(name, value) for name, value in line["headers"].items() if name not in DEBUG_HEADERS]
    if line["status"] == "handshake":
        return RequestState.handshake(line["reason"], line["message"], headers=other, set_cookies=line["setCookie"])
    if line["status"] == "signed-out":
        return RequestState.signed_out(
            line["reason"], line["message"], token_type=line["tokenType"], headers=other, set_cookies=line["setCookie"]
        )
    auth = signed_in_auth({"sub": "user_1", "sid": "sess_1"}, "tok")
    return RequestState.signed_in(auth, "tok", headers=other, set_cookies=line["setCookie"])


def test_the_conformance_table_has_every_status() -> None:
    """Signed-in, signed-out and handshake lines are all recorded."""
    assert {line["status"] for line in REQUEST_LINES} == {"signed-in", "signed-out", "handshake"}


@pytest.mark.parametrize("line", REQUEST_LINES, ids=[line["label"] for line in REQUEST_LINES])
def test_recorded_response_headers(line: dict[str, Any]) -> None:
    """Debug headers appear exactly where Clerk sent them: signed-out and handshake, message only if non-empty."""
    state = state_like(line)
    assert dict(state.headers) == line["headers"]
    assert len(state.headers) == len(line["headers"])
    assert (state.status, state.reason, state.message, state.token_type) == (
        line["status"],
        line["reason"],
        line["message"],
        line["tokenType"],
    )


@pytest.mark.parametrize(
    "line", [line for line in REQUEST_LINES if line["status"] != "signed-in"], ids=lambda line: line["label"]
)
def test_recorded_auth_of_signed_out_and_handshake_states(line: dict[str, Any]) -> None:
    """``toAuth()`` gives the recorded null object for signed-out states, and nothing for a handshake."""
    auth = state_like(line).to_auth()
    shown = auth.to_json(include_claims=False) if auth is not None else None
    assert shown == line["auth"]


def test_a_signed_in_state_has_no_debug_headers() -> None:
    """Signed-in: no reason, no message, no ``x-clerk-auth-*`` headers; the token and its type are kept."""
    auth = signed_in_auth({"sub": "user_1"}, "tok")
    state = RequestState.signed_in(auth, "tok", headers=[("cache-control", "no-store")], set_cookies=["a=b"])
    assert (state.reason, state.message, state.token, state.token_type) == (None, None, "tok", "session_token")
    assert state.headers == (("cache-control", "no-store"),)
    assert state.set_cookies == ("a=b",)
    assert state.is_authenticated is True
    assert state.to_auth() is auth


def test_a_machine_token_signs_in_with_its_type() -> None:
    """The state's ``token_type`` is the authenticated object's."""
    auth = MachineAuth("m2m_token", id="mt_1", subject="mch_1", token="mt_x")
    assert RequestState.signed_in(auth, "mt_x").token_type == "m2m_token"


def test_signing_in_needs_an_authenticated_object() -> None:
    """A null object cannot make a signed-in state."""
    with pytest.raises(ValueError, match="authenticated"):
        RequestState.signed_in(SignedOutAuth(), "tok")


def test_a_pending_session_is_signed_in_with_a_signed_out_auth() -> None:
    """§16.5: the state stays signed-in; ``to_auth()`` is signed-out pending unless told otherwise."""
    auth = signed_in_auth({"sub": "user_2", "sid": "sess_2", "sts": "pending"}, "tok")
    state = RequestState.signed_in(auth, "tok")
    assert state.is_authenticated is True
    assert state.auth is auth
    assert state.to_auth() == SignedOutAuth("pending")
    assert state.to_auth(treat_pending_as_signed_out=False) is auth


def test_the_invalid_token_state() -> None:
    """signedOutInvalidToken: ``tokenType`` null, reason token-type-mismatch, an invalid-token auth object."""
    state = RequestState.signed_out_invalid_token()
    assert (state.status, state.reason, state.message, state.token_type) == (
        "signed-out",
        "token-type-mismatch",
        "",
        None,
    )
    assert state.to_auth() == InvalidTokenAuth()
    assert state.headers == (("x-clerk-auth-status", "signed-out"), ("x-clerk-auth-reason", "token-type-mismatch"))
    assert state.is_authenticated is False


@pytest.mark.parametrize(
    ("token_type", "expected"),
    [
        ("session_token", SignedOutAuth()),
        ("api_key", unauthenticated_machine_auth("api_key")),
        ("oauth_token", unauthenticated_machine_auth("oauth_token")),
        (None, InvalidTokenAuth()),
    ],
)
def test_a_signed_out_state_defaults_to_the_null_object_of_its_token_type(token_type: Any, expected: object) -> None:
    """Session tokens give signed-out, machine types their unauthenticated object, no type the invalid one."""
    assert RequestState.signed_out("r", token_type=token_type).to_auth() == expected


def test_a_given_auth_object_is_kept() -> None:
    """A caller may pass the signed-out object itself."""
    auth = SignedOutAuth("pending")
    assert RequestState.signed_out("r", auth=auth).auth is auth


def test_a_handshake_has_no_auth_object() -> None:
    """``toAuth()`` of a handshake is null; the state is not authenticated."""
    state = RequestState.handshake("dev-browser-sync", "", headers=[("location", "https://x")], set_cookies=[])
    assert state.to_auth() is None
    assert state.is_authenticated is False
    assert state.header("x-clerk-auth-status") == "handshake"


@pytest.mark.parametrize("message", ["token \u00fcber alles \u00ff", "plain ascii"])
def test_latin_1_messages_are_sent(message: str) -> None:
    """Any Latin-1 text is a valid header value."""
    assert RequestState.signed_out("r", message).header("x-clerk-auth-message") == message


@pytest.mark.parametrize(
    "message",
    ["kid \u2603 unknown", "emoji \U0001f600", "line\r\nx-injected: 1", "line\nbreak", "nul\0byte"],
)
def test_a_message_headers_refuse_is_silently_omitted(message: str) -> None:
    """Text beyond Latin-1 and CR/LF/NUL make ``Headers.set`` throw; the message header is skipped, the rest kept."""
    state = RequestState.signed_out("token-invalid", message)
    assert state.header("x-clerk-auth-message") is None
    assert state.header("x-clerk-auth-reason") == "token-invalid"
    assert state.header("x-clerk-auth-status") == "signed-out"
    assert state.message == message


def test_header_values_are_trimmed_of_http_whitespace() -> None:
    """``Headers`` trims leading and trailing tab, space, CR and LF, so an edge newline is harmless."""
    assert header_value("\r\n\t message \n") == "message"
    assert RequestState.signed_out("r", "   ").header("x-clerk-auth-message") == ""


def test_an_empty_message_sends_no_message_header() -> None:
    """Only status and reason when the message is ``''``."""
    assert RequestState.signed_out("r").header("x-clerk-auth-message") is None


def test_debug_headers_replace_earlier_values() -> None:
    """``withDebugHeaders`` uses ``Headers.set``: a debug header already present is replaced, not doubled."""
    state = RequestState.signed_out("r", headers=[("X-Clerk-Auth-Status", "stale"), ("location", "https://x")])
    assert state.headers == (
        ("location", "https://x"),
        ("x-clerk-auth-status", "signed-out"),
        ("x-clerk-auth-reason", "r"),
    )


def test_header_lookup_ignores_case() -> None:
    """``header()`` finds a header whatever case is asked."""
    assert RequestState.signed_out("r").header("X-Clerk-Auth-Reason") == "r"
    assert RequestState.signed_out("r").header("location") is None


def test_the_repr_hides_token_headers_and_cookies() -> None:
    """A logged state never shows the token, a handshake URL carrying it, or a Set-Cookie directive."""
    secret = "eyJ.secret-token-body.sig"
    auth = signed_in_auth({"sub": "user_1"}, secret)
    state = RequestState.signed_in(
        auth, secret, headers=[("location", f"https://x/?__session={secret}")], set_cookies=[f"__session={secret}"]
    )
    assert secret not in repr(state)
