"""ClerkClient against a real FakeClerk on loopback: what it sends, and how every failure becomes BackendAPIError."""

from __future__ import annotations

import socket

import pytest

from clerk_authd.clerk.backend_api import ClerkClient, ClientState, join_paths
from clerk_authd.errors import BackendAPIError
from clerk_authd.rules.names import SUPPORTED_BAPI_VERSION
from clerk_authd.testing.fake_clerk import MSG_INVALID_SECRET_KEY, FakeClerk
from clerk_authd.version import __version__


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("parts", "joined"),
    [
        (("", "v1", "/jwks"), "v1/jwks"),
        (("/", "v1", "/jwks"), "/v1/jwks"),
        (("/proxy/", "v1", "/jwks"), "/proxy/v1/jwks"),
        (("/proxy//clerk", "/v1/", "//jwks"), "/proxy/clerk/v1/jwks"),
        (("", "", "/m2m_tokens/verify"), "/m2m_tokens/verify"),
        (("https://api.clerk.com", "v1", "/jwks"), "https://api.clerk.com/v1/jwks"),
    ],
)
def test_join_paths_matches_clerks_joinpaths(parts: tuple[str, ...], joined: str) -> None:
    """Empty parts are dropped and runs of slashes collapse, except after a scheme's colon."""
    assert join_paths(*parts) == joined


def test_url_keeps_the_api_url_path_prefix_and_the_version() -> None:
    """An api_url with a path prefix keeps it; machine-token paths skip the version."""
    assert ClerkClient(secret_key="sk").jwks_url == "https://api.clerk.com/v1/jwks"
    client = ClerkClient(secret_key="sk", api_url="https://egress.example.com/clerk/", api_version="v1")
    assert client.jwks_url == "https://egress.example.com/clerk/v1/jwks"
    assert client.url_for("/m2m_tokens/verify", versioned=False) == "https://egress.example.com/clerk/m2m_tokens/verify"


async def test_requests_carry_clerks_four_headers(fake_clerk: FakeClerk, clerk_client: ClerkClient) -> None:
    """Every call sends the bearer secret, Clerk-API-Version, a JSON content type and our User-Agent."""
    await clerk_client.get_jwks()
    headers = fake_clerk.received[-1].headers
    assert headers["Authorization"] == f"Bearer {fake_clerk.secret_key}"
    assert headers["Clerk-API-Version"] == SUPPORTED_BAPI_VERSION == "2026-05-12"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"clerk_authd/{__version__}"


async def test_get_jwks_returns_the_served_key_set(fake_clerk: FakeClerk, clerk_client: ClerkClient) -> None:
    """The JWKS comes back as Clerk sent it, from GET /v1/jwks."""
    assert await clerk_client.get_jwks() == {"keys": [fake_clerk.mint.jwk]}
    assert fake_clerk.requests == [("GET", "/v1/jwks")]


async def test_a_wrong_secret_key_is_a_401_carrying_clerks_error(fake_clerk: FakeClerk) -> None:
    """Clerk's 401 clerk_key_invalid body is parsed into status, code and message."""
    async with ClerkClient(secret_key="sk_test_wrong", api_url=fake_clerk.url) as client:
        with pytest.raises(BackendAPIError) as caught:
            await client.get_jwks()
    assert caught.value.status == 401
    assert caught.value.code == "clerk_key_invalid"
    assert caught.value.first_message == MSG_INVALID_SECRET_KEY


async def test_an_outage_is_a_503(fake_clerk: FakeClerk, clerk_client: ClerkClient) -> None:
    """A 503 keeps its status; the message names the call."""
    fake_clerk.go_down()
    with pytest.raises(BackendAPIError) as caught:
        await clerk_client.get_jwks()
    assert caught.value.status == 503
    assert caught.value.message.startswith(f"GET {fake_clerk.url}/v1/jwks answered 503")


async def test_a_non_2xx_body_that_is_not_json_still_gives_the_status(
    fake_clerk: FakeClerk, clerk_client: ClerkClient
) -> None:
    """An error page from a load balancer is a BackendAPIError with its status and no Clerk errors."""
    fake_clerk.fail_with(502)
    fake_clerk.serve_garbage()
    with pytest.raises(BackendAPIError) as caught:
        await clerk_client.get_jwks()
    assert (caught.value.status, caught.value.errors) == (502, [])


async def test_a_2xx_body_that_is_not_json_is_an_error(fake_clerk: FakeClerk, clerk_client: ClerkClient) -> None:
    """Garbage with a 200 is not a key set: BackendAPIError, status 200."""
    fake_clerk.serve_garbage()
    with pytest.raises(BackendAPIError, match="not JSON") as caught:
        await clerk_client.get_jwks()
    assert caught.value.status == 200


async def test_an_unreachable_api_has_no_status() -> None:
    """A closed port is a BackendAPIError with status None, not an aiohttp exception."""
    async with ClerkClient(secret_key="sk", api_url=f"http://127.0.0.1:{closed_port()}") as client:
        with pytest.raises(BackendAPIError) as caught:
            await client.get_jwks()
    assert caught.value.status is None
    assert "ClientConnectorError" in caught.value.message


async def test_a_slow_api_times_out(fake_clerk: FakeClerk) -> None:
    """A server slower than timeout_s ends the call with a BackendAPIError, status None."""
    fake_clerk.slow(5.0)
    async with ClerkClient(secret_key=fake_clerk.secret_key, api_url=fake_clerk.url, timeout_s=0.2) as client:
        with pytest.raises(BackendAPIError, match=r"timed out after 0\.2s") as caught:
            await client.get_jwks()
    assert caught.value.status is None


async def test_handshake_payload_is_fetched_by_nonce(fake_clerk: FakeClerk, clerk_client: ClerkClient) -> None:
    """The nonce travels in the query string, URL-encoded, and the directives come back."""
    nonce = "n/o n+ce&x=1"
    fake_clerk.register_handshake_nonce(nonce, ["__session=abc; Path=/", "__client_uat=1; Path=/"])
    assert await clerk_client.get_handshake_payload(nonce) == ["__session=abc; Path=/", "__client_uat=1; Path=/"]
    request = fake_clerk.received[-1]
    assert (request.method, request.path, request.query) == ("GET", "/v1/clients/handshake_payload", {"nonce": nonce})


async def test_an_unknown_nonce_is_an_error_that_does_not_echo_it(
    fake_clerk: FakeClerk, clerk_client: ClerkClient
) -> None:
    """A 404 for the nonce is a BackendAPIError; the nonce is a credential and stays out of the message."""
    with pytest.raises(BackendAPIError) as caught:
        await clerk_client.get_handshake_payload("secret-nonce-value")
    assert caught.value.status == 404
    assert "secret-nonce-value" not in str(caught.value)


async def test_a_2xx_answer_of_the_wrong_shape_is_an_error(fake_clerk: FakeClerk, clerk_client: ClerkClient) -> None:
    """A JSON 200 without ``directives`` is a malformed answer, not an empty list."""
    fake_clerk.fail_with(200, errors=[])
    with pytest.raises(BackendAPIError, match="directives"):
        await clerk_client.get_handshake_payload("n")


async def test_refresh_sends_clerks_body_and_returns_the_cookies(
    fake_clerk: FakeClerk, clerk_client: ClerkClient
) -> None:
    """POST /v1/sessions/{sid}/refresh?suffixed_cookies=true with Clerk's five body members, in order."""
    expired = fake_clerk.session_token(session_id="sess_1", now=1_000_000)
    fake_clerk.register_refresh_token("sess_1", "rt_1")
    cookies = await clerk_client.refresh_session(
        "sess_1",
        expired_token=expired,
        refresh_token="rt_1",
        request_origin="https://app.example.com",
        request_headers={"Cookie": ["__refresh_x=rt_1"]},
        suffixed_cookies=True,
    )
    assert len(cookies) == 1
    assert cookies[0].startswith(f"__session_{fake_clerk.cookie_suffix}=")
    request = fake_clerk.received[-1]
    assert (request.method, request.path, request.query) == (
        "POST",
        "/v1/sessions/sess_1/refresh",
        {"suffixed_cookies": "true"},
    )
    assert list(request.json.items()) == [
        ("format", "cookie"),
        ("expired_token", expired),
        ("refresh_token", "rt_1"),
        ("request_origin", "https://app.example.com"),
        ("request_headers", {"Cookie": ["__refresh_x=rt_1"]}),
    ]


async def test_refresh_with_an_unknown_refresh_token_is_an_error(
    fake_clerk: FakeClerk, clerk_client: ClerkClient
) -> None:
    """Clerk's 4xx answer surfaces with its status and error code."""
    with pytest.raises(BackendAPIError) as caught:
        await clerk_client.refresh_session(
            "sess_1",
            expired_token=fake_clerk.session_token(session_id="sess_1"),
            refresh_token="rt_unknown",
            request_origin="https://app.example.com",
            request_headers={},
            suffixed_cookies=False,
        )
    assert (caught.value.status, caught.value.code) == (404, "resource_not_found")


@pytest.mark.parametrize("session_id", ["..", "sess_1/../../users", "sess 1", "", "sess_1?x=1"])
async def test_a_session_id_that_is_not_an_identifier_is_never_sent(
    fake_clerk: FakeClerk, clerk_client: ClerkClient, session_id: str
) -> None:
    """The sid comes from an unverified token, so a path-changing value is refused before any request."""
    with pytest.raises(BackendAPIError, match="not a Clerk identifier"):
        await clerk_client.refresh_session(
            session_id,
            expired_token="x",
            refresh_token="y",
            request_origin="https://app.example.com",
            request_headers={},
            suffixed_cookies=False,
        )
    assert fake_clerk.received == []


async def test_the_client_works_only_between_open_and_close(fake_clerk: FakeClerk) -> None:
    """Calls before open() or after close() are BackendAPIErrors; a client opens once and closes idempotently."""
    client = ClerkClient(secret_key=fake_clerk.secret_key, api_url=fake_clerk.url)
    assert client.state is ClientState.UNOPENED
    with pytest.raises(BackendAPIError, match="unopened"):
        await client.get_jwks()
    async with client:
        assert client.state is ClientState.OPENED
        await client.get_jwks()
    assert client.state is ClientState.CLOSED
    await client.close()
    with pytest.raises(BackendAPIError, match="closed"):
        await client.get_jwks()
    with pytest.raises(RuntimeError, match="closed"):
        await client.open()


@pytest.mark.parametrize(
    ("token_type", "path", "member"),
    [
        ("api_key", "/api_keys/verify", "secret"),
        ("m2m_token", "/m2m_tokens/verify", "token"),
        ("oauth_token", "/oauth_applications/access_tokens/verify", "access_token"),
    ],
)
async def test_machine_tokens_are_verified_outside_v1_with_their_own_body_member(
    fake_clerk: FakeClerk, clerk_client: ClerkClient, token_type: str, path: str, member: str
) -> None:
    """clerk-semantics §18: POST without /v1, the token in the endpoint's member, the resource JSON returned."""
    token = "tok_1"
    answer = fake_clerk.register_machine_token(token, token_type, subject="user_1")
    verify = {
        "api_key": clerk_client.verify_api_key,
        "m2m_token": clerk_client.verify_m2m_token,
        "oauth_token": clerk_client.verify_oauth_token,
    }[token_type]
    assert await verify(token) == answer
    request = fake_clerk.received[-1]
    assert (request.method, request.path, request.json) == ("POST", path, {member: token})
    assert request.headers["Authorization"] == f"Bearer {fake_clerk.secret_key}"
    assert request.headers["Clerk-API-Version"] == SUPPORTED_BAPI_VERSION


async def test_m2m_verification_uses_the_machine_secret_key_when_set(fake_clerk: FakeClerk) -> None:
    """mt_ tokens authenticate with the machine secret key if there is one; API keys still use the secret key."""
    fake_clerk.machine_secret_key = "ak_machine_secret"
    fake_clerk.register_machine_token("mt_1", "m2m_token")
    fake_clerk.register_machine_token("ak_1", "api_key")
    async with ClerkClient(
        secret_key=fake_clerk.secret_key, machine_secret_key="ak_machine_secret", api_url=fake_clerk.url
    ) as client:
        await client.verify_m2m_token("mt_1")
        await client.verify_api_key("ak_1")
    m2m, api_key = fake_clerk.received
    assert m2m.headers["Authorization"] == "Bearer ak_machine_secret"
    assert api_key.headers["Authorization"] == f"Bearer {fake_clerk.secret_key}"


async def test_an_unknown_machine_token_is_a_404_that_does_not_echo_it(
    fake_clerk: FakeClerk, clerk_client: ClerkClient
) -> None:
    """Clerk's 404 surfaces with its status; the token is a credential and stays out of the message."""
    with pytest.raises(BackendAPIError) as caught:
        await clerk_client.verify_api_key("ak_secret_value")
    assert (caught.value.status, caught.value.code) == (404, "resource_not_found")
    assert "ak_secret_value" not in str(caught.value)


async def test_a_machine_verification_that_is_not_json_is_an_error(
    fake_clerk: FakeClerk, clerk_client: ClerkClient
) -> None:
    """A 200 whose body is not JSON is a malformed answer (status 200), not a verified token."""
    fake_clerk.register_machine_token("oat_1", "oauth_token")
    fake_clerk.serve_garbage()
    with pytest.raises(BackendAPIError, match="not JSON") as caught:
        await clerk_client.verify_oauth_token("oat_1")
    assert caught.value.status == 200
