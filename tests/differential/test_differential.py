"""The live differential run: every generated scenario against the real ``@clerk/express`` and clerk_authd's Sanic SDK.

Both sides run the same user app (the middleware, then a handler answering ``getAuth(req, {acceptsToken: 'any'})``
as JSON) against one FakeClerk with the same keys. For every scenario the answers must be the same: status, Clerk's
headers byte for byte (``x-clerk-auth-status``/``-reason``/``-message``, ``Location``, ``Cache-Control``, the CORS
pair, every ``Set-Cookie`` in order) and the auth object. A scenario may differ only in one of the ways listed in
``DELIBERATE`` (the README's "Where we differ from Clerk" table lists the same), and then exactly in that way.

In CI (``CI=true``) the run must happen; elsewhere it is skipped, saying why, when node or npm are missing.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import pytest

from tests.differential.harness import Harness, Observed, ensure_node_modules, node_available
from tests.differential.scenarios import CONFIGS, Kit, Scenario, scenarios


@dataclass(frozen=True)
class Deliberate:
    """A difference we keep on purpose: what Clerk answers, what we answer instead, and why.

    ``holds`` recognises exactly this difference between Clerk's answer and ours; ``None`` for one the Sanic SDK
    does not show (it is the service's answer), which the service's own tests pin.
    """

    clerk: str
    ours: str
    why: str
    holds: Callable[[Observed, Observed], bool] | None


def _reason(answer: Observed) -> str | None:
    return answer.header("x-clerk-auth-reason")


def _signed_in(answer: Observed) -> bool:
    return answer.status == 200 and isinstance(answer.body, dict) and answer.body["auth"].get("isAuthenticated") is True


def _accepted(answer: Observed) -> bool:
    """Signed in, or a handshake resolved: a redirect that sets a session cookie."""
    cookies = [value for name, value in answer.headers if name == "set-cookie"]
    return _signed_in(answer) or (answer.status == 307 and any(c.startswith("__session") for c in cookies))


def _signed_out(answer: Observed) -> bool:
    return answer.status == 200 and answer.body["auth"]["isAuthenticated"] is False


def _signed_out_with(reason: str) -> Callable[[Observed], bool]:
    def check(answer: Observed) -> bool:
        return answer.status == 200 and _reason(answer) == reason and answer.body["auth"]["isAuthenticated"] is False

    return check


def _throw_answered_signed_out(clerk: Observed, ours: Observed) -> bool:
    """Clerk's middleware passes the error on (Express answers 500); we sign out with the thrown message."""
    thrown = clerk.body.get("error") if clerk.status == 500 and isinstance(clerk.body, dict) else None
    return (
        thrown is not None
        and _signed_out_with("unexpected-error")(ours)
        and ours.header("x-clerk-auth-message") == thrown
    )


#: the one table of deliberate differences (the README's "Where we differ from Clerk" lists the same rows)
DELIBERATE: Final[dict[str, Deliberate]] = {
    "issuer-checked": Deliberate(
        clerk="a token whose iss is not the instance's is accepted (issuer is checked only when configured)",
        ours="signed out, token-invalid-issuer",
        why="a token signed by this instance's key but issued for another Frontend API is not this instance's session",
        holds=lambda clerk, ours: _signed_in(clerk) and _signed_out_with("token-invalid-issuer")(ours),
    ),
    "sid-required": Deliberate(
        clerk="a session token without sid is accepted (verifyToken does not look)",
        ours="signed out, token-verification-failed (Session claim (sid) is required...)",
        why="every Clerk session token has one; a signed token without it is another kind of token (a JWT template)",
        holds=lambda clerk, ours: _signed_in(clerk) and _signed_out_with("token-verification-failed")(ours),
    ),
    "strict-tokens": Deliberate(
        clerk="a token its lenient decodeJwt reads (padded base64url, duplicate members) is accepted",
        ours="signed out, token-invalid (strict decoding, jwt-attacks §1); where Clerk refuses too, Clerk's reason",
        why="two parsers reading one token differently is how token confusion starts",
        holds=lambda clerk, ours: _accepted(clerk) and _signed_out(ours),
    ),
    "backend-answer-crashes-clerk": Deliberate(
        clerk="a malformed Backend API answer crashes Clerk's own code (a TypeError; the middleware answers 500)",
        ours="signed out, unexpected-error, with a message naming the failed verification",
        why="an upstream answer must not make the gateway fail, and a crash leaves no Clerk message to reproduce",
        holds=lambda clerk, ours: clerk.status == 500 and _signed_out_with("unexpected-error")(ours),
    ),
    "pending-session": Deliberate(
        clerk="a pending session is a signed-in request state whose auth object is signed out",
        ours="the same through the SDK; the service answers signed out, reason session-pending",
        why="a proxy needs the reason a request is refused; the SDK's auth object is already Clerk's",
        holds=None,
    ),
    "throws": Deliberate(
        clerk="authenticateRequest throws for input the client controls (the middleware answers 500)",
        ours="signed out, unexpected-error, with Clerk's thrown message",
        why="a client must not be able to make the gateway fail; the denial is answered like every other",
        holds=_throw_answered_signed_out,
    ),
}

SCENARIOS: Final = scenarios()
#: the clock in a message Clerk builds at the moment it answers (``Current date: …``): the two sides answer apart
_NOW_IN_MESSAGE: Final = re.compile(r"Current date: [^.]*")


def _comparable(answer: Observed) -> Observed:
    """The answer with its headers grouped by name (the order of one name's values, Set-Cookie's, is kept: the order
    of different names means nothing in HTTP, and Node's ``Headers`` sorts them) and the answering clock masked."""
    headers = sorted(
        (
            (name, _NOW_IN_MESSAGE.sub("Current date: <now>", value) if name == "x-clerk-auth-message" else value)
            for name, value in answer.headers
        ),
        key=lambda header: header[0],
    )
    return Observed(answer.status, tuple(headers), answer.body)


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    why = node_available()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the differential run must happen in CI, but {why}")
        pytest.skip(f"differential run skipped: {why} (it runs in CI)")
    ensure_node_modules()
    running = Harness(CONFIGS)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_enough_scenarios() -> None:
    assert len(SCENARIOS) >= 200
    assert {s.config for s in SCENARIOS} == set(CONFIGS)
    visible = {name for name, difference in DELIBERATE.items() if difference.holds is not None}
    assert {s.flow.expect for s in SCENARIOS} - {None} == visible


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_same_answer_as_clerk_express(harness: Harness, scenario: Scenario) -> None:
    harness.now = float(int(time.time()))
    kit = Kit(scenario.config, harness.fake, harness.now)
    request = scenario.flow.build(kit, scenario.kind)
    if scenario.flow.setup is not None:
        scenario.flow.setup(harness.fake)
    try:
        clerk = _comparable(harness.call("node", scenario.config, request))
        ours = _comparable(harness.call("python", scenario.config, request))
    finally:
        harness.fake.heal()
    if scenario.flow.expect is None:
        assert ours == clerk, f"\nclerk: {clerk.summary()}\nours:  {ours.summary()}"
    else:
        holds = DELIBERATE[scenario.flow.expect].holds
        assert holds is not None
        assert holds(clerk, ours), (
            f"expected the deliberate difference {scenario.flow.expect!r}\nclerk: {clerk.summary()}\n"
            f"ours:  {ours.summary()}"
        )
