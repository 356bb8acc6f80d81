"""Sanic's own answers on a decision route (405, 413) are decision answers too: every identity header, empty,
and ``Cache-Control: no-store``, so a proxy that copies the headers never forwards what a client injected."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from clerk_authd.rules.names import IDENTITY_HEADERS
from tests.servers import DEADLINE_S, Answer, Running, assert_identity_headers

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


async def raw_exchange(url: str, head: str) -> Answer:
    """Send a request head (no body) over a fresh connection and read the answer until the server closes it."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head.encode("latin-1"))
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), DEADLINE_S)
    finally:
        writer.close()
    header_block, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = header_block.decode("latin-1").split("\r\n")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines:
        name, _, value = line.partition(":")
        headers.add(name, value.strip())
    return Answer(int(status_line.split()[1]), CIMultiDictProxy(headers), body)


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
