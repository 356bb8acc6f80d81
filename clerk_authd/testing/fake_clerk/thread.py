"""``FakeClerkThread``: a ``FakeClerk`` on its own event loop in a background thread.

For ``serve --dev`` and load tests, whose event loop is not the caller's (or who have none).
"""

from __future__ import annotations

import asyncio
import threading

from clerk_authd.testing.fake_clerk.server import FakeClerk


class FakeClerkThread:
    """Runs a ``FakeClerk`` on its own event loop in a daemon thread.

    ``fake`` is built in the caller's thread, so its switches and registrations can be used before and
    after ``start()``; they are plain attribute writes, safe across threads.
    """

    def __init__(self, fake: FakeClerk | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake or FakeClerk()
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout_s: float = 10.0) -> str:
        """Start the server thread and return its URL once it listens."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.fake.start(self._host, self._port))
            except Exception as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.fake.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="clerk_authd.fake_clerk", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise RuntimeError(f"FakeClerk did not start within {timeout_s:g}s")
        if failure:
            raise RuntimeError("FakeClerk failed to start") from failure[0]
        return self.fake.url

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server and its loop, and wait for the thread."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)
