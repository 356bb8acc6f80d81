"""Every recorded ``authenticateRequest`` answer of ``@clerk/backend`` 3.25.0, replayed (clerk-conformance.jsonl).

Each line with an ``input`` runs at its recorded clock against a real FakeClerk on loopback that serves Clerk's
fixture keys, and must reproduce the status, reason, message, token type, every header (``location`` byte for
byte), every Set-Cookie and the auth object. A ``log`` line is what Clerk printed for the case after it: we must
log the same text, and nothing else at warning level or above.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from clerk_authd.clerk.authenticate import Authenticator
from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.cache import VerifiedTokenCache
from clerk_authd.clerk.keystore import KeyStore
from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.rules.cached_verdict import CachedVerdict
from clerk_authd.rules.keys import KeyResolver, PemKey
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.state import RequestState
from clerk_authd.rules.tokentypes import AcceptsToken
from clerk_authd.testing.fake_clerk import FakeClerk
from clerk_authd.testing.mint import TokenMint
from tests.conftest import load_conformance

SECRET_KEY = "sk_test_xxx"
#: every logger of the package: Clerk's own console lines come from whichever stage decides
OUR_LOGGERS = "clerk_authd."


def _cases() -> list[Any]:
    cases: list[Any] = []
    pending_log: str | None = None
    for line in load_conformance():
        if "log" in line:
            pending_log = line["log"]
            continue
        if "input" not in line:
            continue
        cases.append(pytest.param(line, pending_log, id=line["label"]))
        pending_log = None
    return cases


def _tuple(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def options_from_recording(recorded: dict[str, Any], api_url: str) -> AuthenticateOptions:
    """Clerk's camelCase options as ours; the Backend API is FakeClerk."""
    accepts: AcceptsToken = recorded.get("acceptsToken", "session_token")
    if isinstance(accepts, list):
        accepts = tuple(accepts)
    sync = recorded.get("organizationSyncOptions", {})
    return AuthenticateOptions(
        publishable_key=recorded["publishableKey"],
        secret_key=recorded.get("secretKey", SECRET_KEY),
        jwt_key=recorded.get("jwtKey", ""),
        api_url=api_url,
        authorized_parties=_tuple(recorded.get("authorizedParties", [])),
        audience=_tuple(recorded.get("audience", [])),
        issuer=_tuple(recorded["issuer"]) if "issuer" in recorded else None,
        clock_skew_in_ms=recorded.get("clockSkewInMs", 5000),
        accepts_token=accepts,
        organization_patterns=tuple(sync.get("organizationPatterns", [])),
        personal_account_patterns=tuple(sync.get("personalAccountPatterns", [])),
    )


def assert_matches(state: RequestState, line: dict[str, Any]) -> None:
    """The state is the recorded one, field by field."""
    assert state.status == line["status"]
    assert state.reason == line["reason"]
    assert state.message == line["message"]
    assert state.token_type == line["tokenType"]
    assert dict(state.headers) == line["headers"]
    assert len(dict(state.headers)) == len(state.headers), "a header appears twice"
    assert list(state.set_cookies) == line["setCookie"]
    auth = state.to_auth()
    assert (auth.to_json(include_claims=False) if auth is not None else None) == line["auth"]


@pytest.fixture
async def fake(fixture_mint: TokenMint) -> AsyncIterator[FakeClerk]:
    """FakeClerk serving Clerk's fixture key set (``mockJwks``) under the recording's secret key.

    No machine token is registered, so every machine-token verification is a 404, as the recording's Backend API
    answered ``/api_keys/verify``.
    """
    async with FakeClerk(secret_key=SECRET_KEY, mint=fixture_mint) as server:
        yield server


async def _replay(
    line: dict[str, Any], fake: FakeClerk, cache: VerifiedTokenCache[CachedVerdict] | None = None, repeat: int = 1
) -> list[RequestState]:
    recorded = line["input"]
    options = options_from_recording(recorded["options"], fake.url)
    now: Callable[[], float] = lambda: float(recorded["now"])  # noqa: E731 - the recorded clock
    request = RequestView.build(recorded["method"], recorded["url"], recorded["headers"].items())
    async with ClerkClient(secret_key=options.secret_key, api_url=fake.url) as client:
        store = None if options.jwt_key else KeyStore(client)
        keys: KeyResolver = PemKey(options.jwt_key) if store is None else store
        try:
            authenticator = Authenticator(options, keys=keys, client=client, cache=cache, clock=now)
            return [await authenticator.authenticate(request) for _ in range(repeat)]
        finally:
            if store is not None:
                await store.close()


@pytest.mark.parametrize(("line", "log_line"), _cases())
async def test_recorded_answer(
    line: dict[str, Any], log_line: str | None, fake: FakeClerk, caplog: pytest.LogCaptureFixture
) -> None:
    """Clerk's recorded answer is reproduced exactly, and we log what Clerk printed for it."""
    caplog.set_level(logging.DEBUG)
    (state,) = await _replay(line, fake)
    assert_matches(state, line)
    logged = [r.getMessage() for r in caplog.records if r.name.startswith(OUR_LOGGERS) and r.levelno >= logging.WARNING]
    assert logged == ([log_line] if log_line else [])


@pytest.mark.parametrize(("line", "log_line"), _cases())
async def test_recorded_answer_from_warm_cache(line: dict[str, Any], log_line: str | None, fake: FakeClerk) -> None:
    """With a verified-token cache, the second identical request gets the identical answer."""
    first, second = await _replay(line, fake, VerifiedTokenCache(100), repeat=2)
    assert_matches(first, line)
    assert_matches(second, line)


async def test_the_recorded_api_key_404_comes_from_the_backend_api(fake: FakeClerk) -> None:
    """ "machine: ak_ 404" is answered by asking the Backend API, as Clerk did: one POST /api_keys/verify."""
    (line,) = [line for line in load_conformance() if line.get("label") == "machine: ak_ 404"]
    (state,) = await _replay(line, fake)
    assert_matches(state, line)
    assert [(r.method, r.path, r.json) for r in fake.received if not r.path.endswith("/jwks")] == [
        ("POST", "/api_keys/verify", {"secret": "ak_abc"})
    ]
