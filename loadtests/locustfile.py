"""Locust scenarios: the traffic a gateway sends to clerk_authd, one user class per kind of request.

Run them all as a mix (``locust -f loadtests/locustfile.py``, weights below) or one at a time by naming
a class (``loadtests/README.md`` has the headless command). Each request checks the answer the service
must give, so a wrong status counts as a Locust failure rather than as throughput.

Environment:
- ``LOCUST_HOST`` (or ``-H``): the service, default ``http://127.0.0.1:8787`` (``clerk-authd serve``'s).
- ``CLERK_AUTHD_LOAD_TOKENS``: the token file (``loadtests/tokens.py``) whose tokens the service's
  Clerk instance signed; needed by every scenario that sends a token.

Run from the repository root: Locust puts the working directory on ``sys.path``, which makes ``loadtests``
importable.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from locust import FastHttpUser, constant, task

from loadtests import ORIGINAL_REQUEST, TOKENS_ENV
from loadtests.tokens import TokenPools

DEFAULT_HOST = "http://127.0.0.1:8787"


@cache
def pools() -> TokenPools:
    """The token file, read once per Locust process."""
    path = os.environ.get(TOKENS_ENV)
    if not path:
        raise RuntimeError(f"set {TOKENS_ENV} to a token file from `python -m loadtests.tokens` (loadtests/README.md)")
    return TokenPools.read(Path(path))


@cache
def fresh_tokens() -> Iterator[str]:
    """One iterator over the fresh pool shared by every user of the process (gevent: no two run at once)."""
    return iter(pools().fresh)


def bearer(token: str) -> dict[str, str]:
    """The headers of a /verify call that presents ``token``."""
    return {**ORIGINAL_REQUEST, "Authorization": f"Bearer {token}"}


class _GatewayUser(FastHttpUser):
    """A proxy asking the service, back to back (closed loop: throughput is what the service sustains)."""

    abstract = True
    host = DEFAULT_HOST
    wait_time = constant(0)

    def expect(self, path: str, status: int, headers: dict[str, str], *, body_has: bytes = b"") -> None:
        """Send ``GET path`` and count it as failed unless it answers ``status`` (with ``body_has`` in the body)."""
        with self.client.get(path, headers=headers, name=type(self).__name__, catch_response=True) as response:
            if response.status_code != status:
                reason = response.headers.get("X-Clerk-Auth-Reason", "") if response.headers else ""
                response.failure(f"expected {status}, got {response.status_code} {reason}".rstrip())
            elif body_has and body_has not in (response.content or b""):
                response.failure(f"the body lacks {body_has.decode()}")
            else:
                response.success()  # a 401 or 403 is this scenario's right answer, not an error


class Healthz(_GatewayUser):
    """The floor: same framework and connection handling, no auth work."""

    weight = 1

    @task
    def healthz(self) -> None:
        self.expect("/healthz", 200, {})


class VerifyCacheHit(_GatewayUser):
    """A signed-in user's token seen before: the verdict comes from the cache (no crypto)."""

    weight = 60

    @task
    def verify(self) -> None:
        self.expect("/verify", 200, bearer(random.choice(pools().valid)))  # noqa: S311  # load spread, not security


class VerifyCacheMiss(_GatewayUser):
    """A token never seen before: full verification (signature, claims) and a cache insert.

    Each fresh token is sent once; when the pool is used up the whole run ends, so the pool bounds it.
    """

    weight = 5

    @task
    def verify(self) -> None:
        token = next(fresh_tokens(), None)
        if token is None:
            self.environment.runner.quit()
            return
        self.expect("/verify", 200, bearer(token))


class VerifyBadSignature(_GatewayUser):
    """A forged token (right kid and claims, wrong key): a full signature check, then 401."""

    weight = 2

    @task
    def verify(self) -> None:
        self.expect("/verify", 401, bearer(random.choice(pools().bad_signature)))  # noqa: S311  # see above


class VerifyNoCredentials(_GatewayUser):
    """An anonymous request: signed out at once, 401."""

    weight = 20

    @task
    def verify(self) -> None:
        self.expect("/verify", 401, ORIGINAL_REQUEST)


class VerifyForbidden(_GatewayUser):
    """A signed-in user asking for a permission their organization role lacks: 403."""

    weight = 7

    @task
    def verify(self) -> None:
        path = f"/verify?permission={pools().forbidden_permission}"
        self.expect(path, 403, bearer(random.choice(pools().valid)))  # noqa: S311  # see above


class AuthJson(_GatewayUser):
    """A service asking for Clerk's auth object as JSON (``/auth``)."""

    weight = 5

    @task
    def auth(self) -> None:
        self.expect("/auth", 200, bearer(random.choice(pools().valid)), body_has=b'"signed-in"')  # noqa: S311  # see above
