"""Graceful shutdown of ``clerk-authd serve``: in-flight requests finish, background tasks stop in time, and
nothing is left for asyncio to complain about ("Task was destroyed but it is pending")."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp

from clerk_authd.testing.fake_clerk import FakeClerk
from tests.cli.test_cli import HTTP_TIMEOUT, clean_env, serving

__all__ = ["clean_env"]  # the fixture, used by name below

API_KEY = "ak_shutdown_test_key"


async def test_sigterm_lets_in_flight_requests_finish_and_stops_every_task(
    fake_clerk: FakeClerk, clean_env: dict[str, str], tmp_path: Path
) -> None:
    """A request waiting 1.5 s on Clerk when SIGTERM arrives is still answered 200; the process then exits within
    its 5 s deadline with nothing pending: no "Task was destroyed", no traceback."""
    fake_clerk.register_machine_token(API_KEY, "api_key", subject="user_1")
    env = {
        **clean_env,
        "CLERK_PUBLISHABLE_KEY": fake_clerk.publishable_key,
        "CLERK_SECRET_KEY": fake_clerk.secret_key,
        "CLERK_API_URL": fake_clerk.url,
        "CLERK_AUTHD_ACCEPTS_TOKEN": "api_key",
        "CLERK_AUTHD_LOG_LEVEL": "debug",
        "PYTHONASYNCIODEBUG": "0",
    }
    async with serving([], env, tmp_path) as served:
        await served.wait_ready()
        fake_clerk.slow(1.5)
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:

            async def in_flight() -> int:
                async with http.get(f"{served.url}/verify", headers={"Authorization": f"Bearer {API_KEY}"}) as r:
                    await r.read()
                    return r.status

            request = asyncio.ensure_future(in_flight())
            await asyncio.sleep(0.5)
            served.process.send_signal(signal.SIGTERM)
            stopped_at = time.monotonic()
            assert await request == 200
            await asyncio.wait_for(served.process.wait(), 10)
            # the in-flight answer closes its connection, so the exit does not wait for the graceful timeout (5 s)
            assert time.monotonic() - stopped_at < 3.5
    log = served.log.read_text(errors="replace")
    assert "Task was destroyed" not in log
    assert "Traceback" not in log
    assert "did not stop within" not in log
    assert served.process.returncode == 0
