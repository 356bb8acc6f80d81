"""The wire lane: a cached session's auth subrequest answered from its bytes, exactly as Sanic answers it.

Each test talks raw HTTP/1.1 to a running service over loopback. The same head sent in one write is one the
wire lane may answer; sent in two writes (its first bytes, a pause, the rest) it reaches Sanic, which reads it
and answers through the bearer lane or the full decision. The service counts the requests Sanic read (a signal
on ``http.lifecycle.request``), so each test knows which of them answered.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import pytest
from sanic import Request, Sanic
from sanic.compat import Header
from sanic.response import HTTPResponse, text

from clerk_authd.config import load_settings
from clerk_authd.sanic.install import runtime_of
from clerk_authd.service.app import create_app
from clerk_authd.service.wire_lane import read_lone_get
from clerk_authd.testing.fake_clerk import FakeClerk
from clerk_authd.testing.mint import TokenMint, session_claims
from tests.servers import DEADLINE_S, PK_LIVE_LOCAL, Running, bearer, unique_app_name

#: the service's clock: fixed, so that two answers compared give the same ``max-age``
NOW = float(int(time.time()))
MAX_HEAD: Final = 8192
#: the app of the requests built in process to compare with the wire lane's reading
PARSER_APP: Final = Sanic(unique_app_name("wire_parse"))


@dataclass
class Service:
    """A running service, and how many requests Sanic itself read (the rest the wire lane answered)."""

    running: Running
    read_by_sanic: list[str] = field(default_factory=list)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        parts = urlsplit(self.running.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            yield Connection(reader, writer)
        finally:
            writer.close()


@dataclass
class Connection:
    """One raw HTTP/1.1 connection to the service."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def ask(self, head: bytes, *, split_at: int | None = None) -> bytes:
        """Send ``head`` (in two writes, the first ``split_at`` bytes then the rest, when given) and read one
        answer whole, head and body."""
        if split_at is None:
            self.writer.write(head)
        else:
            self.writer.write(head[:split_at])
            await self.writer.drain()
            await asyncio.sleep(0.05)
            self.writer.write(head[split_at:])
        await self.writer.drain()
        return await asyncio.wait_for(self.answer(), DEADLINE_S)

    async def answer(self) -> bytes:
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        return head + await self.reader.readexactly(length)


@pytest.fixture
async def wire_clerk() -> AsyncIterator[FakeClerk]:
    async with FakeClerk(publishable_key=PK_LIVE_LOCAL, clock=lambda: NOW) as fake:
        yield fake


#: starts the service on the fixed clock, info-level decision log, with more ``variables``, counting the requests
#: Sanic reads
StartWire = Callable[..., Awaitable[Service]]


@pytest.fixture
def start_wire(
    serve_app: Callable[[Sanic[Any, Any]], Awaitable[Running]],
    fake_variables: Callable[[FakeClerk], dict[str, str]],
    wire_clerk: FakeClerk,
) -> StartWire:
    async def start(prepare: Callable[[Sanic[Any, Any]], None] = lambda app: None, **variables: str) -> Service:
        settings = load_settings({**fake_variables(wire_clerk), "CLERK_AUTHD_LOG_LEVEL": "info", **variables})
        app = create_app(settings, name=unique_app_name("wire"), clock=lambda: NOW)
        prepare(app)
        read: list[str] = []

        @app.signal("http.lifecycle.request")
        async def count_read(request: Request) -> None:
            read.append(request.path)

        return Service(await serve_app(app), read)

    return start


@pytest.fixture
async def service(start_wire: StartWire) -> Service:
    return await start_wire()


def session_token(fake: FakeClerk, session_id: str = "sess_wire") -> str:
    return fake.session_token(
        user_id="user_wire", session_id=session_id, ttl_s=600, org_id="org_1", org_slug="acme", org_role="admin",
        org_permissions=("org:billing:read",),
    )  # fmt: skip


def get(target: str, *lines: str) -> bytes:
    """A ``GET target`` head with the header ``lines``."""
    return "\r\n".join([f"GET {target} HTTP/1.1", "Host: authd.test", *lines, "", ""]).encode()


async def cached(service: Service, fake: FakeClerk) -> str:
    """A session token the service has verified and cached."""
    token = session_token(fake)
    assert (await service.running.call("/verify", headers=bearer(token))).status == 200
    service.read_by_sanic.clear()
    return token


def as_served(by_sanic: bytes) -> bytes:
    """Sanic's answer as a production server writes it. Its writer adds an empty ``Alt-Svc`` line that Sanic's
    start-up rewrite (``TouchUp``, off for these in-process servers, which share one process) removes from its
    code where no HTTP/3 listener runs; ``tests/cli/test_cli.py`` compares the two answers of a real server."""
    return by_sanic.replace(b"\r\nalt-svc: \r\n", b"\r\n", 1)


LANE_TARGETS: Final = [
    "/verify",
    "/verify?accepts=session_token",
    "/verify?accepts=any&role=admin",
    "/forward-auth",
    "/forward-auth?accepts=session_token",
    "/has?role=admin",
    "/has?permission=org:billing:read&role=admin",
]


@pytest.mark.parametrize("target", LANE_TARGETS)
async def test_a_cached_session_is_answered_on_the_wire_with_sanics_own_bytes(
    service: Service, wire_clerk: FakeClerk, target: str
) -> None:
    """The answer written from the head's bytes is, byte for byte, the one Sanic writes for the same request; the
    connection stays open for both, in any order."""
    token = await cached(service, wire_clerk)
    head = get(target, f"Authorization: Bearer {token}", "Accept: */*", "User-Agent: nginx")
    async with service.connection() as connection:
        on_wire = await connection.ask(head)
        assert service.read_by_sanic == []
        by_sanic = await connection.ask(head, split_at=20)
        assert service.read_by_sanic == [target.partition("?")[0]]
        again = await connection.ask(head)
    assert on_wire == again == as_served(by_sanic)
    assert on_wire.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nx-clerk-user-id: user_wire\r\n" in on_wire
    assert re.search(rb"\r\ncache-control: private, max-age=\d+\r\nx-accel-expires: \d+\r\n\r\n", on_wire)


async def test_the_wire_lane_logs_and_counts_the_decision_as_sanic_does(
    start_wire: StartWire, wire_clerk: FakeClerk, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same decision line (but its timing) and one cache hit each, whichever answered."""
    service = await start_wire()  # in the test, so that its log writes to the captured stderr
    token = await cached(service, wire_clerk)
    cache = runtime_of(service.running.app).cache
    assert cache is not None
    hits = cache.hits
    capsys.readouterr()
    head = get("/verify?accepts=session_token", f"Authorization: Bearer {token}")
    async with service.connection() as connection:
        await connection.ask(head)
        await connection.ask(head, split_at=5)
    assert cache.hits == hits + 2
    assert len(service.read_by_sanic) == 1
    err = capsys.readouterr().err.splitlines()
    lines = [json.loads(line) for line in err if line.startswith("{") and '"decision"' in line]
    on_wire, by_sanic = ({k: v for k, v in line.items() if k not in ("duration_ms", "ts")} for line in lines)
    assert on_wire == by_sanic
    assert (on_wire["endpoint"], on_wire["status"], on_wire["cache"]) == ("/verify", 200, "hit")
    metrics = await service.running.call("/metrics")
    assert b'clerk_authd_decisions_total{endpoint="/verify",reason="",status="200"} 3.0' in metrics.body


#: a token is verified on the wire only where Clerk takes the session-only header path (``accepts`` the default
#: ``session_token``); ``accepts=any`` classifies it first, and is left to Sanic unless the cache knows the token
VERIFIED_ON_WIRE_TARGETS: Final = [target for target in LANE_TARGETS if "accepts=any" not in target]


@pytest.mark.parametrize("target", VERIFIED_ON_WIRE_TARGETS)
async def test_with_the_cache_off_a_session_is_verified_and_answered_on_the_wire_with_sanics_bytes(
    start_wire: StartWire, wire_clerk: FakeClerk, target: str
) -> None:
    """``CLERK_AUTHD_CACHE_SIZE=0``: every request verifies its token, the wire lane's too (its key is at hand),
    and its answer is Sanic's, byte for byte."""
    service = await start_wire(CLERK_AUTHD_CACHE_SIZE="0")
    token = session_token(wire_clerk)
    head = get(target, f"Authorization: Bearer {token}")
    async with service.connection() as connection:
        assert (await connection.ask(head, split_at=20)).startswith(b"HTTP/1.1 200 OK\r\n")  # the keys loaded
        service.read_by_sanic.clear()
        on_wire = await connection.ask(head)
        assert service.read_by_sanic == []
        by_sanic = await connection.ask(head, split_at=20)
    assert on_wire == as_served(by_sanic)
    assert b"\r\nx-clerk-session-id: sess_wire\r\n" in on_wire


@pytest.mark.parametrize("cache_size", ["0", "100"])
async def test_a_session_the_cache_does_not_know_is_logged_and_counted_as_sanic_logs_it(
    start_wire: StartWire, wire_clerk: FakeClerk, capsys: pytest.CaptureFixture[str], cache_size: str
) -> None:
    """Verified on the wire or by Sanic, a token new to the cache is one miss and the same decision line (``cache``
    ``miss``, or none with the cache off)."""
    service = await start_wire(CLERK_AUTHD_CACHE_SIZE=cache_size)
    await cached(service, wire_clerk)  # the keys loaded
    cache = runtime_of(service.running.app).cache
    misses = cache.misses if cache is not None else 0
    capsys.readouterr()
    async with service.connection() as connection:
        for session, split_at in (("sess_on_wire", None), ("sess_by_sanic", 5)):
            head = get("/verify?accepts=session_token", f"Authorization: Bearer {session_token(wire_clerk, session)}")
            assert (await connection.ask(head, split_at=split_at)).startswith(b"HTTP/1.1 200 OK\r\n")
    assert service.read_by_sanic == ["/verify"]
    if cache is not None:
        assert (cache.misses, len(cache)) == (misses + 2, 3)
    err = capsys.readouterr().err.splitlines()
    lines = [json.loads(line) for line in err if line.startswith("{") and '"decision"' in line]
    on_wire, by_sanic = ({k: v for k, v in line.items() if k not in ("duration_ms", "ts")} for line in lines)
    assert on_wire == by_sanic
    assert on_wire.get("cache") == (None if cache is None else "miss")


async def test_with_the_cache_off_accepts_any_is_left_to_sanic(start_wire: StartWire, wire_clerk: FakeClerk) -> None:
    service = await start_wire(CLERK_AUTHD_CACHE_SIZE="0")
    head = get("/verify?accepts=any", f"Authorization: Bearer {session_token(wire_clerk)}")
    async with service.connection() as connection:
        for _ in range(2):
            assert (await connection.ask(head)).startswith(b"HTTP/1.1 200 OK\r\n")
    assert service.read_by_sanic == ["/verify", "/verify"]


async def test_a_forged_token_is_refused_by_sanic_with_clerks_reason(service: Service, wire_clerk: FakeClerk) -> None:
    """The wire lane verifies it, finds the signature wrong and leaves the request to the full decision, which
    takes that outcome (``SessionVerifier.hand_over``) and answers Clerk's 401."""
    await cached(service, wire_clerk)
    forged = TokenMint.generate(kid=wire_clerk.mint.kid).sign(
        session_claims(user_id="user_wire", issuer=wire_clerk.issuer, now=NOW)
    )
    async with service.connection() as connection:
        answer = await connection.ask(get("/verify", f"Authorization: Bearer {forged}"))
    assert answer.startswith(b"HTTP/1.1 401 ")
    assert b"\r\nx-clerk-auth-reason: token-invalid-signature\r\n" in answer
    assert service.read_by_sanic == ["/verify"]


def with_a_middleware(app: Sanic[Any, Any]) -> None:
    @app.on_request
    async def refuse_evil(request: Request) -> HTTPResponse | None:
        return text("no", status=403) if request.headers.get("x-client") == "evil" else None


def without_keep_alive(app: Sanic[Any, Any]) -> None:
    app.config.KEEP_ALIVE = False


@pytest.mark.parametrize(
    ("prepare", "status", "connection"),
    [
        pytest.param(with_a_middleware, b"403", b"keep-alive", id="request-middleware"),
        pytest.param(without_keep_alive, b"200", b"close", id="keep-alive-off"),
    ],
)
async def test_an_app_that_changes_what_sanic_does_with_a_request_closes_the_wire_lane(
    start_wire: StartWire,
    wire_clerk: FakeClerk,
    prepare: Callable[[Sanic[Any, Any]], None],
    status: bytes,
    connection: bytes,
) -> None:
    """Middleware runs for every request, and a server without keep-alive closes each connection: the wire lane
    does neither, so such an app has Sanic read every request."""
    service = await start_wire(prepare)
    token = await cached(service, wire_clerk)
    async with service.connection() as opened:
        answer = await opened.ask(get("/verify", f"Authorization: Bearer {token}", "X-Client: evil"))
    assert answer.split(b" ", 2)[1] == status
    assert f"\r\nconnection: {connection.decode()}\r\n".encode() in answer
    assert service.read_by_sanic == ["/verify"]


@pytest.mark.parametrize(
    ("head", "status", "read"),
    [
        pytest.param(lambda t: get("/verify", "Authorization: x"), b"401", 1, id="a-token-the-cache-does-not-know"),
        pytest.param(lambda t: get("/verify?role=member", f"Authorization: {t}"), b"403", 1, id="an-unmet-requirement"),
        pytest.param(lambda t: get("/verify", f"Authorization: {t}", "Accept: application/json"), b"200", 1, id="json"),
        pytest.param(lambda t: get("/verify", f"Authorization: {t}", "Connection: close"), b"200", 1, id="close"),
        pytest.param(lambda t: get("/verify", f"Authorization: {t}", "Content-Length: 0"), b"200", 1, id="a-body"),
        pytest.param(lambda t: get("/verify", f"Authorization: {t}", "Expect: 100-continue"), b"200", 1, id="expect"),
        pytest.param(lambda t: get("/verify", f"Authorization: {t}", "Upgrade: h2c"), b"200", 1, id="upgrade"),
        pytest.param(lambda t: get("/verify", f"Authorization: {t}", "X-Name: caf\u00e9"), b"200", 1, id="not-ascii"),
        pytest.param(lambda t: get("/verify/", f"Authorization: {t}"), b"200", 1, id="another-path"),
        pytest.param(lambda t: get("/%76erify", f"Authorization: {t}"), b"404", 1, id="an-encoded-path"),
        pytest.param(lambda t: get("/verify#x", f"Authorization: {t}"), b"200", 1, id="a-fragment"),
        pytest.param(lambda t: get('/verify?a="b"', f"Authorization: {t}"), b"400", 1, id="outside-rfc-3986"),
        pytest.param(lambda t: get("/verify", f"Authorization: {t}", "no colon"), b"400", 0, id="a-line-without-colon"),
        pytest.param(
            lambda t: get("/verify", f"Authorization: {t}", "X-Pad: " + "x" * MAX_HEAD), b"431", 0, id="too-big"
        ),
        pytest.param(
            lambda t: get("/verify", f"Authorization: {t}").replace(b"GET", b"HEAD", 1),
            b"200",
            1,
            id="head-method",
        ),
        pytest.param(
            lambda t: get("/verify", f"Authorization: {t}").replace(b"HTTP/1.1", b"HTTP/1.0"), b"200", 1, id="http-1.0"
        ),
        pytest.param(lambda t: get("/auth", f"Authorization: {t}"), b"200", 1, id="an-endpoint-without-a-lane"),
    ],
)
async def test_anything_else_is_left_to_sanic(
    service: Service, wire_clerk: FakeClerk, head: Any, status: bytes, read: int
) -> None:
    """A request the bearer lane declines, or one Sanic may read otherwise than the wire lane would (a body, a
    protocol change, another path or version, bytes that are not plain ASCII, a malformed or oversized head). Sanic
    answers each; it refuses to read a malformed or oversized head (``read``: 0)."""
    token = await cached(service, wire_clerk)
    async with service.connection() as connection:
        answer = await connection.ask(head(token))
    assert answer.split(b" ", 2)[1] == status
    assert len(service.read_by_sanic) == read


async def test_two_requests_in_one_write_are_both_answered_by_sanic_in_order(
    service: Service, wire_clerk: FakeClerk
) -> None:
    """A pipelined chunk is more than one head: Sanic reads both and answers them in order."""
    token = await cached(service, wire_clerk)
    first = get("/verify", f"Authorization: Bearer {token}")
    second = get("/has?role=member", f"Authorization: Bearer {token}")
    async with service.connection() as connection:
        connection.writer.write(first + second)
        await connection.writer.drain()
        answers = [await asyncio.wait_for(connection.answer(), DEADLINE_S) for _ in range(2)]
    assert [answer.split(b" ", 2)[1] for answer in answers] == [b"200", b"403"]
    assert service.read_by_sanic == ["/verify", "/has"]


@pytest.mark.parametrize(
    "target",
    ["/verify", "/verify?", "/verify?a=b?c", "/verify?accepts=session_token&role=a%20b", "/has?x=1;y=2", "/v;p?q"],
)
def test_a_lone_head_is_read_as_sanic_reads_it(target: str) -> None:
    """Path, raw query and header lines equal those of the ``Request`` Sanic's parser builds from the same bytes
    (names lowercased, values without leading whitespace, repeated names kept in order)."""
    head = get(target, "Authorization:   Bearer abc ", "X-Multi: 1", "x-multi:2", "Accept:\t*/*")
    read = read_lone_get(head, MAX_HEAD)
    assert read is not None
    lines = [("host", "authd.test"), ("authorization", "Bearer abc "), ("x-multi", "1"), ("x-multi", "2")]
    request = Request(target.encode(), Header([*lines, ("accept", "*/*")]), "1.1", "GET", None, PARSER_APP)
    assert (read.path, read.query) == (request.path, request.query_string)
    assert list(read.headers) == list(request.headers.items())


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(get("/verify")[:-2], id="partial"),
        pytest.param(get("/verify") + b"G", id="more-than-one-head"),
        pytest.param(get("/verify").replace(b"GET", b"get"), id="lowercase-method"),
        pytest.param(get("/verify").replace(b"GET /verify", b"GET  /verify"), id="two-spaces"),
        pytest.param(get("/verify").replace(b"HTTP/1.1", b"HTTP/1.1 x"), id="four-parts"),
        pytest.param(get("/verify", "Transfer-Encoding: chunked"), id="chunked"),
        pytest.param(get("/verify", "Connection: keep-alive, close"), id="connection-list"),
        pytest.param(get("/verify", "X-A: \u00ff"), id="latin-1-byte"),
        pytest.param(get("/ver ify"), id="space-in-target"),
        pytest.param(get("/verify?x=<y>"), id="target-outside-rfc-3986"),
        pytest.param(get("/verify", "X-Pad: " + "x" * MAX_HEAD), id="at-the-size-limit"),
    ],
)
def test_a_chunk_that_is_not_one_plain_get_head_is_not_read(data: bytes) -> None:
    assert read_lone_get(data, MAX_HEAD) is None


def test_a_head_just_under_the_size_limit_is_read() -> None:
    head = get("/verify")
    padded = get("/verify", "X-Pad: " + "x" * (MAX_HEAD - len(head) - 6))
    assert len(padded) - 4 == MAX_HEAD - 1
    assert read_lone_get(padded, MAX_HEAD) is not None
    assert read_lone_get(padded, MAX_HEAD - 1) is None


# --- /verify decided in full on the wire ---------------------------------------------------------------------

ORIGINAL_URL: Final = "X-Original-URL: https://app.example.test/dashboard?tab=1"
XHR: Final = ("Sec-Fetch-Dest: empty", "Accept: */*")
PAGE_LOAD: Final = ("Sec-Fetch-Dest: document", "Accept: text/html")


def forged(fake: FakeClerk) -> str:
    """A token with the right kid and claims, signed by another key."""
    impostor = TokenMint.generate(kid=fake.mint.kid)
    return impostor.sign(session_claims(user_id="user_wire", issuer=fake.issuer, now=NOW))


def cookies(token: str) -> str:
    return f"Cookie: __session={token}; __client_uat={int(NOW) - 60}"


#: what the full decision answers on the wire: (the head's lines after ``Host``, given a cached session's token;
#: the answer's status). Each carries the absolute ``X-Original-URL`` every recipe sends.
IN_FULL: Final = [
    pytest.param(lambda f, t: ("X-Original-Method: GET", ORIGINAL_URL, *XHR), b"401", id="signed-out"),
    pytest.param(lambda f, t: (ORIGINAL_URL, "Accept: application/json"), b"401", id="signed-out-json"),
    pytest.param(lambda f, t: (ORIGINAL_URL, "Cookie: __client_uat=1", *PAGE_LOAD), b"401", id="handshake"),
    pytest.param(lambda f, t: (ORIGINAL_URL, cookies(t), *XHR), b"200", id="cookie-path"),
    pytest.param(lambda f, t: (ORIGINAL_URL, cookies(t), "Accept: application/json"), b"200", id="cookie-json"),
    pytest.param(lambda f, t: (ORIGINAL_URL, f"Authorization: Bearer {forged(f)}"), b"401", id="forged"),
    pytest.param(lambda f, t: (ORIGINAL_URL, "Authorization: Bearer x.y.z"), b"401", id="not-a-jwt"),
    pytest.param(
        lambda f, t: (ORIGINAL_URL, f"Authorization: Bearer {t}", "Accept: application/json"), b"200", id="bearer-json"
    ),
]


@pytest.mark.parametrize("target", ["/verify", "/verify?accepts=session_token", "/verify?role=member"])
@pytest.mark.parametrize(("lines", "status"), IN_FULL)
async def test_a_verify_the_bearer_lane_declines_is_decided_in_full_on_the_wire_with_sanics_bytes(
    service: Service, wire_clerk: FakeClerk, target: str, lines: Any, status: bytes
) -> None:
    """Signed out, a handshake, the cookie path, a refused token, a JSON body, an unmet requirement: the answer
    written on the wire is, byte for byte, the one Sanic writes for the same request, decided in full by both."""
    token = await cached(service, wire_clerk)
    head = get(target, *lines(wire_clerk, token))
    async with service.connection() as connection:
        on_wire = await connection.ask(head)
        assert service.read_by_sanic == []
        by_sanic = await connection.ask(head, split_at=20)
        assert service.read_by_sanic == ["/verify"]
    assert on_wire == as_served(by_sanic)
    assert on_wire.split(b" ", 2)[1] == (b"403" if "role" in target and status == b"200" else status)


async def test_the_expected_answers_come_from_the_full_decision(service: Service, wire_clerk: FakeClerk) -> None:
    """The answers above are the decisions they are named for (checked once, on the wire)."""
    token = await cached(service, wire_clerk)
    expected = {
        "signed-out": (b"401", b"session-token-and-uat-missing"),
        "signed-out-json": (b"401", b"session-token-and-uat-missing"),
        "handshake": (b"401", b"client-uat-but-no-session-token"),
        "cookie-path": (b"200", b""),
        "cookie-json": (b"200", b""),
        "forged": (b"401", b"token-invalid-signature"),
        "not-a-jwt": (b"401", b"token-invalid"),
        "bearer-json": (b"200", b""),
    }
    async with service.connection() as connection:
        for case in IN_FULL:
            answer = await connection.ask(get("/verify", *case.values[0](wire_clerk, token)))
            status, reason = expected[case.id]
            assert answer.split(b" ", 2)[1] == case.values[1] == status, case.id
            assert f"\r\nx-clerk-auth-reason: {reason.decode()}\r\n".encode() in answer, case.id
    assert service.read_by_sanic == []


async def test_a_verify_decided_in_full_on_the_wire_is_logged_and_counted_as_sanic_does(
    start_wire: StartWire, wire_clerk: FakeClerk, capsys: pytest.CaptureFixture[str]
) -> None:
    service = await start_wire()
    capsys.readouterr()
    head = get("/verify", ORIGINAL_URL, *XHR)
    async with service.connection() as connection:
        await connection.ask(head)
        await connection.ask(head, split_at=5)
    assert service.read_by_sanic == ["/verify"]
    err = capsys.readouterr().err.splitlines()
    lines = [json.loads(line) for line in err if line.startswith("{") and '"decision"' in line]
    on_wire, by_sanic = ({k: v for k, v in line.items() if k not in ("duration_ms", "ts")} for line in lines)
    assert on_wire == by_sanic
    assert (on_wire["status"], on_wire["reason"]) == (401, "session-token-and-uat-missing")
    metrics = await service.running.call("/metrics")
    reason = 'reason="session-token-and-uat-missing",status="401"'
    assert f'clerk_authd_decisions_total{{endpoint="/verify",{reason}}} 2.0'.encode() in metrics.body


async def test_a_decision_that_must_wait_is_handed_over_to_sanic_and_made_once(
    service: Service, wire_clerk: FakeClerk
) -> None:
    """A session signed with a key the service has not fetched yet: the decision begun on the wire waits for the
    key set, goes on as a task, and Sanic's reading of the request takes it: one fetch, one answer, Clerk's."""
    await cached(service, wire_clerk)
    wire_clerk.rotate()
    token = session_token(wire_clerk, "sess_new_key")
    fetches = wire_clerk.requests.count(("GET", "/v1/jwks"))
    cache = runtime_of(service.running.app).cache
    assert cache is not None
    misses = cache.misses
    async with service.connection() as connection:
        answer = await connection.ask(get("/verify", ORIGINAL_URL, f"Authorization: Bearer {token}"))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nx-clerk-session-id: sess_new_key\r\n" in answer
    assert service.read_by_sanic == ["/verify"]
    assert wire_clerk.requests.count(("GET", "/v1/jwks")) == fetches + 1
    assert cache.misses == misses + 1  # one decision: the one begun on the wire, which Sanic took


async def test_a_handshake_nonce_is_resolved_once_through_the_hand_over(
    service: Service, wire_clerk: FakeClerk
) -> None:
    """Resolving a nonce asks the Backend API, so the decision waits; Sanic answers with its outcome, and Clerk
    was asked once."""
    wire_clerk.register_handshake_nonce("nonce_wire", [f"__session={session_token(wire_clerk)}; Path=/"])
    url = "X-Original-URL: https://app.example.test/dashboard?__clerk_handshake_nonce=nonce_wire"
    async with service.connection() as connection:
        answer = await connection.ask(get("/verify", url, *PAGE_LOAD))
    assert answer.split(b" ", 2)[1] in (b"200", b"401")
    assert b"\r\nx-clerk-auth-status: " in answer
    assert service.read_by_sanic == ["/verify"]
    asked = [path for _, path in wire_clerk.requests if "handshake" in path]
    assert len(asked) == 1


@pytest.mark.parametrize(
    ("lines", "status"),
    [
        pytest.param(("X-Original-URL: /dashboard",), b"401", id="a-relative-original-url"),
        pytest.param((), b"401", id="no-original-url"),
        pytest.param(("X-Original-URL: app.example.test/x",), b"401", id="no-scheme"),
    ],
)
async def test_a_verify_about_the_services_own_url_is_left_to_sanic(
    service: Service, lines: tuple[str, ...], status: bytes
) -> None:
    """Only Sanic knows the service's own URL (its scheme, host and forwarding settings), which the original
    request is resolved against without an absolute ``X-Original-URL``."""
    async with service.connection() as connection:
        answer = await connection.ask(get("/verify", *lines))
    assert answer.split(b" ", 2)[1] == status
    assert service.read_by_sanic == ["/verify"]


@pytest.mark.parametrize("target", ["/verify?role=", "/verify?nonsense=1", "/verify?accepts=nothing"])
async def test_a_verify_with_an_operators_bad_query_is_left_to_sanics_400(service: Service, target: str) -> None:
    async with service.connection() as connection:
        answer = await connection.ask(get(target, ORIGINAL_URL))
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert service.read_by_sanic == ["/verify"]


async def test_a_wire_lane_that_fails_is_closed_in_its_worker_and_sanic_answers(
    service: Service, wire_clerk: FakeClerk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure there is a bug that could repeat on every chunk: it is logged once, with its traceback, and every
    request from then on, the failing one too, is Sanic's."""
    token = await cached(service, wire_clerk)
    calls: list[bytes] = []

    def failing(app: Sanic[Any, Any], data: bytes, max_head: int, connection: Any) -> bytes | None:
        calls.append(data)
        raise RuntimeError("a bug in the wire lane")

    monkeypatch.setattr("clerk_authd.service.limits.answer_on_wire", failing)
    head = get("/verify", f"Authorization: Bearer {token}")
    async with service.connection() as connection:
        answers = [await connection.ask(head) for _ in range(3)]
    assert all(answer.startswith(b"HTTP/1.1 200 OK\r\n") for answer in answers)
    assert len(calls) == 1
    assert service.read_by_sanic == ["/verify"] * 3
    failures = [r for r in caplog.records if "wire lane failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
