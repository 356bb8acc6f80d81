"""A bounded soak on loopback: ~30 s of mixed valid, invalid and anonymous load while Clerk flaps every 3 s.

Asserts zero wrong verdicts (an allow for anything but a valid credential, or a denial of a valid session token
while the keys are fresh) and no 5xx but the documented fail-closed 503. ``CLERK_AUTHD_SOAK_S`` shortens or
lengthens it; the load is paced (four clients, 10 ms apart) so it stays small on a shared machine.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import Running, bearer

SOAK_S = float(os.environ.get("CLERK_AUTHD_SOAK_S", "30"))
FLAP_S = 3.0
CLIENTS = 4
PACE_S = 0.01
API_KEY = "ak_soak_" + secrets.token_hex(16)


async def test_a_flapping_clerk_never_causes_a_wrong_verdict(
    start_service: Callable[..., Awaitable[Running]], live_clerk: FakeClerk
) -> None:
    live_clerk.register_machine_token(API_KEY, "api_key", subject="user_soak")
    service = await start_service(live_clerk, CLERK_AUTHD_ACCEPTS_TOKEN="any")
    valid = [live_clerk.session_token(user_id=f"user_{i}", ttl_s=600) for i in range(20)]
    expired = live_clerk.session_token(ttl_s=60, now=time.time() - 3600)
    forged = valid[0][:-6] + "AAAAAA"
    deadline = time.monotonic() + SOAK_S
    seen: Counter[tuple[str, int]] = Counter()
    wrong: list[tuple[str, int, str]] = []

    def fresh_token() -> str:
        """A token the cache has not seen: verified against the known keys, whether Clerk is up or not."""
        return live_clerk.session_token(user_id=f"user_{secrets.token_hex(4)}", ttl_s=600)

    kinds: dict[str, tuple[Callable[[], dict[str, str]], set[int]]] = {
        "valid": (lambda: bearer(random.choice(valid)), {200}),
        "fresh": (lambda: bearer(fresh_token()), {200}),
        "api_key": (lambda: bearer(API_KEY), {200, 401}),  # 401 unexpected-error while Clerk is down
        "expired": (lambda: bearer(expired), {401}),
        "forged": (lambda: bearer(forged), {401}),
        "junk_key": (lambda: bearer("ak_" + secrets.token_hex(20)), {401}),
        "anonymous": (lambda: {}, {401}),
        "junk_nonce": (lambda: {"Cookie": f"__clerk_handshake_nonce={secrets.token_hex(12)}"}, {401}),
    }

    async def flap() -> None:
        down = False
        while time.monotonic() < deadline:
            await asyncio.sleep(FLAP_S)
            down = not down
            if down:
                live_clerk.go_down()
            else:
                live_clerk.heal()

    async def client() -> None:
        names = list(kinds)
        while time.monotonic() < deadline:
            name = random.choice(names)
            headers, allowed = kinds[name]
            answer = await service.call("/verify", headers=headers())
            seen[(name, answer.status)] += 1
            if answer.status not in allowed:
                wrong.append((name, answer.status, answer.headers.get("X-Clerk-Auth-Reason", "")))
            await asyncio.sleep(PACE_S)

    await asyncio.gather(flap(), *(client() for _ in range(CLIENTS)))
    live_clerk.heal()
    total = sum(seen.values())
    print(f"soak: {total} requests in {SOAK_S:g}s, {dict(sorted(seen.items()))}")
    assert total > 20 * SOAK_S
    assert not wrong, wrong[:10]
    assert not [key for key in seen if key[1] >= 500 and key[1] != 503]
