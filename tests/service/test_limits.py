"""Findings 4, 5 and 7b, and the operations listener: what one client may cost the service, on a real server.

Raw sockets on loopback send what no HTTP client library would: trickled header lines, idle connections, a
head over the limit, a body announced but never sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import orjson

from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import Running, assert_identity_headers


@asynccontextmanager
async def raw(service: Running) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A plain TCP connection to the service."""
    parts = urlsplit(service.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        yield reader, writer
    finally:
        writer.close()


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection; fails if it has not closed by then. A reset
    (the server closed while our data was unread) is a close too."""
    try:
        return await asyncio.wait_for(reader.read(), seconds)
    except ConnectionResetError:
        return b""


def batch(checks: int) -> bytes:
    return orjson.dumps({"checks": [{"role": "admin"}] * checks})


async def test_a_has_body_over_the_limit_is_413_naming_it(service: Running) -> None:
    """Finding 4: a ~1 MB batch (48,000 checks) is refused before it is parsed, naming CLERK_AUTHD_HAS_MAX_BODY."""
    body = batch(48_000)
    assert len(body) > 500_000
    answer = await service.call("/has", method="POST", body=body)
    assert answer.status == 413
    assert answer.json()["limit"] == "CLERK_AUTHD_HAS_MAX_BODY"
    assert "65536 bytes" in answer.json()["message"]
    assert_identity_headers(answer)


async def test_more_checks_than_the_limit_is_400_naming_it(service: Running) -> None:
    """101 checks (the default limit is 100) are refused before any is parsed or any token verified."""
    answer = await service.call("/has", method="POST", body=batch(101))
    assert answer.status == 400
    assert answer.json()["parameter"] == "checks"
    assert "CLERK_AUTHD_HAS_MAX_CHECKS" in answer.json()["message"]
    assert (await service.call("/has", method="POST", body=batch(100))).status == 401  # no token: signed out


async def test_a_batch_at_the_limits_costs_little_event_loop_time(service: Running) -> None:
    """The largest body the limits let through is answered in milliseconds (a 1 MB batch cost 160-280 ms)."""
    body = batch(3_800)
    assert len(body) < 65_536
    started = time.perf_counter()
    for _ in range(5):
        assert (await service.call("/has", method="POST", body=body)).status == 400
    assert (time.perf_counter() - started) / 5 < 0.05


async def test_a_head_over_the_limit_is_431_naming_it(service: Running) -> None:
    """Finding 7b: Sanic answers an oversized head with 413, the status for bodies; the service says 431."""
    answer = await service.call("/verify", headers={"X-Padding": "x" * 9000})
    assert answer.status == 431
    assert answer.json()["limit"] == "CLERK_AUTHD_MAX_HEADER_BYTES"


async def test_a_body_announced_over_the_limit_is_413_before_it_is_sent(service: Running) -> None:
    """Finding 5: a client announcing 1 MB gets 413 at once; nothing of the body is held."""
    async with raw(service) as (reader, writer):
        writer.write(
            b"POST /has HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n"
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 413")


async def test_trickled_header_lines_do_not_keep_a_connection(
    start_service: Callable[..., Awaitable[Running]], live_clerk: FakeClerk
) -> None:
    """Finding 5: every received byte used to restart Sanic's request timer; now the whole head must arrive
    within CLERK_AUTHD_REQUEST_TIMEOUT_S of its first byte, however it trickles."""
    service = await start_service(live_clerk, CLERK_AUTHD_REQUEST_TIMEOUT_S="1")
    async with raw(service) as (reader, writer):
        writer.write(b"GET /verify HTTP/1.1\r\n")
        started = time.monotonic()

        async def trickle() -> None:
            for i in range(40):
                await asyncio.sleep(0.1)
                writer.write(f"x-trickle-{i}: y\r\n".encode())

        trickling = asyncio.ensure_future(trickle())
        try:
            answer = await closed_within(reader, 4)
        finally:
            trickling.cancel()
    assert time.monotonic() - started < 3.5
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")


async def test_an_idle_keep_alive_connection_is_closed(
    start_service: Callable[..., Awaitable[Running]], live_clerk: FakeClerk
) -> None:
    """After its answer, a connection that sends nothing more is closed after CLERK_AUTHD_KEEP_ALIVE_TIMEOUT_S."""
    service = await start_service(live_clerk, CLERK_AUTHD_KEEP_ALIVE_TIMEOUT_S="1")
    async with raw(service) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        await writer.drain()
        rest = await closed_within(reader, 4)
    assert rest.startswith(b"HTTP/1.1 200")


async def test_connections_beyond_the_cap_are_answered_503_and_closed(
    start_service: Callable[..., Awaitable[Running]], live_clerk: FakeClerk
) -> None:
    """Finding 5: with the cap reached, a new connection is told 503 and closed instead of the worker running
    out of descriptors; once one closes, a new one is served."""
    service = await start_service(live_clerk, CLERK_AUTHD_MAX_CONNECTIONS="3")
    parts = urlsplit(service.url)
    held = [await asyncio.open_connection(parts.hostname, parts.port) for _ in range(3)]
    await asyncio.sleep(0.1)
    try:
        async with raw(service) as (reader, _):
            refused = await closed_within(reader, 2)
        assert refused.startswith(b"HTTP/1.1 503")
        assert b"CLERK_AUTHD_MAX_CONNECTIONS" in refused
    finally:
        for _, writer in held:
            writer.close()
    await asyncio.sleep(0.2)
    assert (await service.call("/healthz")).status == 200


async def test_the_operations_endpoints_can_have_a_listener_of_their_own(
    start_service: Callable[..., Awaitable[Running]], live_clerk: FakeClerk
) -> None:
    """CLERK_AUTHD_OPS_PORT: /healthz, /readyz and /metrics answer there and not on the decision port, and
    decisions are not answered there."""
    service = await start_service(live_clerk, CLERK_AUTHD_OPS_PORT="0")
    ops_url = service.app.ctx.ops.url
    assert ops_url
    assert ops_url != service.url
    for path in ("/healthz", "/readyz", "/metrics"):
        async with service.http.get(ops_url + path) as response:
            assert response.status == 200, path
        assert (await service.call(path)).status == 404, path
    async with service.http.get(ops_url + "/verify") as response:
        assert response.status == 404
    assert (await service.call("/verify")).status == 401
