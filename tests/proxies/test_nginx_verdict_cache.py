"""nginx's verdict cache (``proxy-config nginx --verdict-cache DIR``), with real nginx in front of a real service.

An allowed answer is reused for exactly the request it was given for, for as long as its ``max-age`` says; every
other answer, and every other request, is asked of the service again.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from clerk_authd.testing.fake_clerk import FakeClerk
from tests.proxies.conftest import Proxy, StartProxy, Upstream
from tests.proxies.test_real_proxies import MEMBER, assert_upstream_identity
from tests.servers import Running
from tests.service.test_endpoints import member_token

#: the service's default clock skew, which an answer's max-age leaves out (``CLERK_AUTHD_CLOCK_SKEW_MS``)
SKEW_S = 5


async def verify_decisions(service: Running) -> int:
    """How many ``/verify`` decisions the service has answered, whatever their outcome (``/metrics``)."""
    text = (await service.call("/metrics")).body.decode()
    counts = re.findall(r'^clerk_authd_decisions_total\{endpoint="/verify",[^}]*\} (\S+)$', text, re.M)
    return int(sum(float(count) for count in counts))


@pytest.fixture
async def cached_nginx(start_proxy: StartProxy, service: Running, upstream: Upstream, tmp_path: Path) -> Proxy:
    """nginx from its recipe with the verdict cache on, in a directory of the test's own."""
    return await start_proxy("nginx", service.url, upstream, verdict_cache=str(tmp_path / "verdicts"))


async def test_an_allowed_answer_is_reused_with_its_identity(
    cached_nginx: Proxy, upstream: Upstream, service: Running, live_clerk: FakeClerk
) -> None:
    """The second identical request is let through by nginx alone, and the upstream sees the same identity."""
    headers = {"Authorization": f"Bearer {member_token(live_clerk)}"}
    first = await cached_nginx.call("/orders", headers=headers)
    assert first.status == 200, cached_nginx.log()
    asked = await verify_decisions(service)
    second = await cached_nginx.call("/orders", headers=headers)
    assert second.status == 200
    assert await verify_decisions(service) == asked
    assert_upstream_identity(upstream, MEMBER)
    assert len(upstream.received) == 2


async def test_denials_are_never_reused(cached_nginx: Proxy, upstream: Upstream, service: Running) -> None:
    """A signed-out request and a refused token are asked again every time (``no-store``, no ``X-Accel-Expires``)."""
    before = await verify_decisions(service)
    for headers in ({}, {}, {"Authorization": "Bearer not.a.token"}, {"Authorization": "Bearer not.a.token"}):
        assert (await cached_nginx.call("/orders", headers=headers)).status == 401
    assert await verify_decisions(service) == before + 4
    assert upstream.received == []


async def test_a_cached_verdict_serves_only_the_request_it_was_given_for(
    cached_nginx: Proxy, upstream: Upstream, service: Running, live_clerk: FakeClerk
) -> None:
    """Another token, another credential, another URL or method: each is decided by the service; a forged token
    after a cached good one is still refused."""
    token = member_token(live_clerk)
    assert (await cached_nginx.call("/orders", headers={"Authorization": f"Bearer {token}"})).status == 200
    asked = await verify_decisions(service)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert (await cached_nginx.call("/orders", headers={"Authorization": f"Bearer {forged}"})).status == 401
    other = {"Authorization": f"Bearer {token}"}
    assert (await cached_nginx.call("/orders?page=2", headers=other)).status == 200
    assert (await cached_nginx.call("/orders", method="POST", headers=other)).status == 200
    assert (await cached_nginx.call("/orders", headers={**other, "Cookie": "a=1"})).status == 200
    assert await verify_decisions(service) == asked + 4


async def test_a_verdict_is_kept_no_longer_than_its_max_age(
    cached_nginx: Proxy, service: Running, live_clerk: FakeClerk
) -> None:
    """A token with 8 s to live is answered ``max-age`` of about 3 s (its life less the skew); after that, nginx
    asks again, so a revoked session stays allowed at most that long."""
    issued = time.time()
    headers = {"Authorization": f"Bearer {member_token(live_clerk, ttl_s=8)}"}
    assert (await cached_nginx.call("/", headers=headers)).status == 200
    asked = await verify_decisions(service)
    assert (await cached_nginx.call("/", headers=headers)).status == 200
    assert await verify_decisions(service) == asked
    await asyncio.sleep(max(0.0, issued + 8 - SKEW_S + 1.5 - time.time()))
    assert (await cached_nginx.call("/", headers=headers)).status == 200
    assert await verify_decisions(service) == asked + 1
