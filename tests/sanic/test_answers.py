"""Sanic's own answers on a decision route (405, 413) are decision answers too: every identity header, empty,
and ``Cache-Control: no-store``, so a proxy that copies the headers never forwards what a client injected."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from sanic.compat import Header
from sanic.http import Http
from sanic.response import HTTPResponse

from clerk_authd.rules.names import IDENTITY_HEADERS
from clerk_authd.sanic.answers import IdentityResponse
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import DEADLINE_S, Answer, Running, assert_identity_headers

Pairs = Sequence[tuple[str, str]]
#: what a client might inject, hoping a proxy forwards it
INJECTED = {"X-Clerk-User-Id": "user_admin", "X-Clerk-Auth-Status": "signed-in"}


def assert_empty_identity(answer: Answer) -> None:
    assert_identity_headers(answer)
    assert all(answer.headers[name] == "" for name in IDENTITY_HEADERS)
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PROPFIND", "/verify"),
        ("PROPFIND", "/forward-auth"),
        ("PROPFIND", "/ext-authz"),
        ("PROPFIND", "/ext-authz/x"),
        ("TRACE", "/ext-authz/api/orders?page=2"),
        ("POST", "/handshake"),
        ("PUT", "/has"),
        ("POST", "/auth"),
    ],
)
async def test_a_method_a_decision_route_does_not_take_is_405_with_empty_identity(
    service: Running, method: str, path: str
) -> None:
    """Sanic's 405 carries every identity header, empty, and no-store."""
    answer = await service.call(path, method=method, headers=INJECTED)
    assert answer.status == 405
    assert_empty_identity(answer)


async def test_a_405_elsewhere_is_sanics_alone(service: Running) -> None:
    """Operations endpoints are not decisions: no identity headers there."""
    answer = await service.call("/healthz", method="POST")
    assert answer.status == 405
    assert "X-Clerk-Auth-Status" not in answer.headers


async def raw_bytes(url: str, head: str) -> bytes:
    """Send a request head (no body) over a fresh connection and read the answer until the server closes it."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head.encode("latin-1"))
        await writer.drain()
        return await asyncio.wait_for(reader.read(), DEADLINE_S)
    finally:
        writer.close()


async def raw_exchange(url: str, head: str) -> Answer:
    """``raw_bytes``, parsed."""
    header_block, _, body = (await raw_bytes(url, head)).partition(b"\r\n\r\n")
    status_line, *lines = header_block.decode("latin-1").split("\r\n")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines:
        name, _, value = line.partition(":")
        headers.add(name, value.strip())
    return Answer(int(status_line.split()[1]), CIMultiDictProxy(headers), body)


async def raw_head(url: str, head: str) -> list[str]:
    """An answer's status line and header lines, in the order they went on the wire."""
    header_block, _, _ = (await raw_bytes(url, head)).partition(b"\r\n\r\n")
    return header_block.decode("latin-1").split("\r\n")


@pytest.mark.parametrize("path", ["/has", "/verify", "/forward-auth", "/ext-authz/upload"])
async def test_an_oversized_body_on_a_decision_route_is_413_with_empty_identity(service: Running, path: str) -> None:
    """Sanic's 413 (a body over the service's request size limit) carries every identity header, empty."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: app.example.com\r\nContent-Type: application/json\r\n"
        "X-Clerk-User-Id: user_admin\r\nContent-Length: 2000000\r\nConnection: close\r\n\r\n"
    )
    answer = await raw_exchange(service.url, head)
    assert answer.status == 413
    assert_empty_identity(answer)


def get_head(path: str, *extra: str, method: str = "GET") -> str:
    lines = "".join(f"{line}\r\n" for line in extra)
    return f"{method} {path} HTTP/1.1\r\nHost: app.example.com\r\n{lines}Connection: close\r\n\r\n"


def assert_one_line_per_header(lines: list[str]) -> None:
    """Every header line is ``name: value`` with a lowercase name, none repeated (set-cookie aside), no blank line."""
    names = [line.partition(": ")[0] for line in lines[1:]]
    assert all(name and name == name.lower() and ": " in line for name, line in zip(names, lines[1:], strict=True))
    repeated = [name for name in names if name != "set-cookie" and names.count(name) > 1]
    assert repeated == []


async def test_an_answer_with_only_sanics_own_headers_is_written_as_sanic_orders_them(
    service: Running, live_clerk: FakeClerk
) -> None:
    """Sanic's writer lines first (length, connection, then the content type it adds), then the identity block
    and the cache lines: the order and bytes Sanic gives when it writes each header itself."""
    token = live_clerk.session_token(user_id="user_1", ttl_s=600)
    for _ in range(2):  # a miss, then the cached verdict's lane
        lines = await raw_head(service.url, get_head("/verify", f"Authorization: Bearer {token}"))
        first_identity = lines.index(f"{IDENTITY_HEADERS[0]}: signed-in")
        assert lines[0] == "HTTP/1.1 200 OK"
        assert lines[1:3] == ["content-length: 0", "connection: close"]
        # Sanic writes an Alt-Svc line too unless its start-up touch-up removed it (``serve`` does; this test's
        # server, started with ``create_server``, does not)
        assert lines[3:first_identity] in (
            ["content-type: text/plain; charset=utf-8"],
            ["alt-svc: ", "content-type: text/plain; charset=utf-8"],
        )
        block = lines[first_identity:]
        assert [line.partition(": ")[0] for line in block[: len(IDENTITY_HEADERS)]] == list(IDENTITY_HEADERS)
        assert "x-clerk-user-id: user_1" in lines
        assert block[len(IDENTITY_HEADERS)].startswith("cache-control: private, max-age=")
        assert_one_line_per_header(lines)


async def test_a_head_request_is_answered_with_the_same_lines_and_no_body(
    service: Running, live_clerk: FakeClerk
) -> None:
    token = live_clerk.session_token(user_id="user_1", ttl_s=600)
    get = await raw_head(service.url, get_head("/verify", f"Authorization: Bearer {token}"))
    head = await raw_exchange(service.url, get_head("/verify", f"Authorization: Bearer {token}", method="HEAD"))
    assert head.status == 200
    assert head.body == b""
    assert head.headers["x-clerk-user-id"] == "user_1"
    assert [f"{name.lower()}: {value}" for name, value in head.headers.items()] == get[1:]


async def test_an_answer_that_adds_headers_keeps_them_beside_sanics_and_the_block(service: Running) -> None:
    """A rejected bearer token adds ``WWW-Authenticate``; a page load sent to sign in adds where to go. Each is
    one sanitized line among Sanic's, before the identity block."""
    rejected = await raw_head(service.url, get_head("/verify", "Authorization: Bearer garbage"))
    assert rejected[0] == "HTTP/1.1 401 Unauthorized"
    assert 'www-authenticate: Bearer error="invalid_token"' in rejected
    assert rejected.index("content-type: text/plain; charset=utf-8") < rejected.index("x-clerk-auth-status: signed-out")
    assert_one_line_per_header(rejected)
    page_load = await raw_head(
        service.url,
        get_head("/forward-auth", "Accept: text/html", "Sec-Fetch-Dest: document"),
    )
    assert page_load[0] == "HTTP/1.1 302 Found"
    assert any(line.startswith("location: ") for line in page_load)
    assert_one_line_per_header(page_load)


class PairByPair(IdentityResponse):
    """Sanic's own rendering of an ``IdentityResponse``: every header of ``headers`` sanitized and encoded by
    Sanic, one pair at a time, then the identity block."""

    __slots__ = ()

    @property
    def processed_headers(self) -> Iterator[tuple[bytes, bytes]]:
        yield from HTTPResponse.processed_headers.fget(self)
        for line in self.identity_block[:-2].split(b"\r\n"):
            name, _, value = line.partition(b": ")
            yield name, value


BLOCK = b"x-clerk-auth-status: signed-in\r\nx-clerk-user-id: user_1\r\ncache-control: no-store\r\n"


async def written(kind: type[IdentityResponse], status: int, body: bytes | None, extra: Pairs, **http: bool) -> bytes:
    """What Sanic's HTTP/1 writer (``Http.http1_response_header``, the real one) sends for one answer."""
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)

    protocol = SimpleNamespace(
        send=send,
        receive_more=None,
        recv_buffer=bytearray(),
        app=SimpleNamespace(dispatch=None),
        access_log=False,
        request_max_size=1000,
    )
    stream = Http(protocol)  # the writer reads only these of its protocol
    stream.init_for_request()
    stream.request = SimpleNamespace(path="/x")  # what a 204 or 304 with a body names in Sanic's warning
    stream.head_only, stream.keep_alive = http["head_only"], http["keep_alive"]
    response = kind(body, status=status, headers=Header(extra), content_type="text/plain", identity_block=BLOCK)
    response.stream, stream.response = stream, response
    await stream.http1_response_header(b"", True)
    return b"".join(sent)


@pytest.mark.parametrize("status", [200, 204, 302, 401, 503])
@pytest.mark.parametrize("body", [None, b'{"allowed":true}'])
@pytest.mark.parametrize(
    "extra",
    [
        pytest.param([], id="sanics-own-only"),
        pytest.param([("www-authenticate", 'Bearer error="invalid_token"')], id="challenge"),
        pytest.param([("location", "/x\r\nx-injected: 1")], id="location-to-sanitize"),
        pytest.param([("set-cookie", "a=b"), ("set-cookie", "c=d")], id="cookies"),
        pytest.param([("content-length", "0\r\nx-injected: 1")], id="a-length-that-is-not-sanics"),
        pytest.param([("connection", "upgrade")], id="a-connection-that-is-not-sanics"),
    ],
)
@pytest.mark.parametrize(("head_only", "keep_alive"), [(False, True), (False, False), (True, True)])
async def test_an_identity_answer_is_written_byte_for_byte_as_sanic_writes_it(
    status: int, body: bytes | None, extra: Pairs, head_only: bool, keep_alive: bool
) -> None:
    """Whether the head is rendered in one piece (only Sanic's own headers, in the shapes its writer sets) or
    Sanic renders the rest pair by pair, the bytes on the wire are the ones Sanic gives for every pair on its own:
    nothing an answer adds escapes Sanic's sanitizing."""
    http = {"head_only": head_only, "keep_alive": keep_alive}
    ours = await written(IdentityResponse, status, body, extra, **http)
    assert ours == await written(PairByPair, status, body, extra, **http)
    assert b"\r\nx-injected" not in ours
