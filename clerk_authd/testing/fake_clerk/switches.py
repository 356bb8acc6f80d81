"""FakeClerk's failure switches: how it misbehaves on demand, before any endpoint runs.

A forced status (``fail_with``, ``go_down``, ``rate_limit``) answers every request, or only the next ``times``
ones, so a test can script "429 twice, then fine" and watch a client retry. ``slow`` delays each answer,
``serve_garbage`` answers HTML instead of JSON, ``serve_empty_keys`` empties the key set; ``heal()`` undoes all.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from clerk_authd.testing.fake_clerk.responses import GARBAGE_BODY, clerk_error, errors_response


@dataclass
class _Forced:
    status: int
    errors: list[dict[str, object]]
    remaining: int | None
    headers: dict[str, str] = field(default_factory=dict)


class FailureSwitches:
    """The switches, mixed into ``FakeClerk``; ``intercept`` applies them to one request."""

    def __init__(self) -> None:
        self._forced: _Forced | None = None
        self._delay_s = 0.0
        self._garbage = False
        self._empty_keys = False

    def fail_with(
        self,
        status: int,
        errors: list[dict[str, object]] | None = None,
        *,
        times: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer with ``status`` and ``{"errors": errors}`` (a generic Clerk error by default) and ``headers``:
        every request, or only the next ``times``."""
        default = [clerk_error("unexpected_error", f"FakeClerk was told to fail with {status}")]
        self._forced = _Forced(status, default if errors is None else list(errors), times, dict(headers or {}))

    def rate_limit(self, *, retry_after: str | None = "1", times: int | None = 1) -> None:
        """Answer the next ``times`` requests 429 ``too_many_requests``, as Clerk's rate limiter does."""
        error = clerk_error("too_many_requests", "Too many requests, retry later")
        self.fail_with(429, [error], times=times, headers=None if retry_after is None else {"Retry-After": retry_after})

    def go_down(self) -> None:
        """Answer every request with 503, as Clerk does during an outage."""
        self.fail_with(503, [clerk_error("service_unavailable", "Service Unavailable")])

    def slow(self, seconds: float) -> None:
        """Wait ``seconds`` before answering anything (timeouts)."""
        self._delay_s = seconds

    def serve_garbage(self) -> None:
        """Answer every request with an HTML body that is not JSON: status 200, or the ``fail_with`` status."""
        self._garbage = True

    def serve_empty_keys(self) -> None:
        """Serve ``{"keys": []}`` from the JWKS endpoint."""
        self._empty_keys = True

    def heal(self) -> None:
        """Turn every failure switch off."""
        self._forced = None
        self._delay_s = 0.0
        self._garbage = False
        self._empty_keys = False

    async def intercept(self) -> web.Response | None:
        """The switched-on failure's answer to a request, or ``None`` to answer it normally."""
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        forced = self._forced
        if forced is not None and forced.remaining is not None:
            forced.remaining -= 1
            if forced.remaining <= 0:
                self._forced = None
        if self._garbage:
            status = 200 if forced is None else forced.status
            headers = {} if forced is None else forced.headers
            return web.Response(status=status, text=GARBAGE_BODY, content_type="text/html", headers=headers)
        if forced is not None:
            return errors_response(forced.status, forced.errors, forced.headers)
        return None
