"""The live differential run: every generated scenario against the real ``@clerk/express`` and clerk_authd.

The Sanic SDK side runs the same user app as the Express side (the middleware, then a handler answering
``getAuth(req, {acceptsToken: 'any'})`` as JSON), against one FakeClerk with the same keys. For every scenario the
answers must be the same: status, Clerk's headers byte for byte (``x-clerk-auth-status``/``-reason``/``-message``,
``Location``, ``Cache-Control``, the CORS pair, every ``Set-Cookie`` in order) and the auth object. The service is
asked too, through ``/auth`` about the scenario's request (``X-Original-URL`` / ``X-Original-Method``): its status,
reason, message and auth object must be Clerk's decision. A scenario may differ only in one of the ways listed in
``DELIBERATE`` (the README's "Where we differ from Clerk" table lists the same), and then exactly in that way.

In CI (``CI=true``) the run must happen; elsewhere it is skipped, saying why, when node or npm are missing.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import pytest

from tests.differential.harness import Harness, Observed, Probe, ensure_node_modules, node_available
from tests.differential.scenarios import CONFIGS, HOST, Kit, Scenario, scenarios

T = TypeVar("T")


#: the clock in a message Clerk builds at the moment it answers (``Current date: …``): the two sides answer apart
_NOW_IN_MESSAGE: Final = re.compile(r"Current date: [^.]*")


@dataclass(frozen=True)
class Decision:
    """What a request was decided as, read from an answer: Clerk's status, reason, message and auth object.

    From an Express (or Sanic SDK) answer: the ``x-clerk-auth-*`` headers (none on a signed-in state) and the body's
    auth object (none on a redirect); ``status`` is ``throw`` for a 500, its ``message`` the error. From ``/auth``: its
    JSON. ``None`` stands for what Clerk leaves out (an empty reason or message)."""

    status: str
    reason: str | None
    message: str | None
    auth: dict[str, Any] | None

    def __post_init__(self) -> None:
        if self.message is not None:  # the clock in the message is the moment each side answered
            object.__setattr__(self, "message", _NOW_IN_MESSAGE.sub("Current date: <now>", self.message))

    @classmethod
    def of_express(cls, answer: Observed) -> Decision:
        if answer.status == 500:
            return cls("throw", None, answer.body.get("error") if isinstance(answer.body, dict) else None, None)
        auth = answer.body["auth"] if isinstance(answer.body, dict) else None
        status = answer.header("x-clerk-auth-status") or "signed-in"
        return cls(status, answer.header("x-clerk-auth-reason"), answer.header("x-clerk-auth-message"), auth)

    @classmethod
    def of_auth_endpoint(cls, answer: Observed) -> Decision:
        body = answer.body if answer.status == 200 and isinstance(answer.body, dict) else {}
        message = body.get("message")
        if isinstance(message, str) and not _latin1(message):
            message = None  # Node cannot write it: Clerk's Headers drops the debug header
        return cls(str(body.get("status")), body.get("reason"), message, body.get("auth"))

    @property
    def accepted(self) -> bool:
        return self.status == "signed-in" and (self.auth is None or self.auth.get("isAuthenticated") is True)

    def signed_out_with(self, reason: str) -> bool:
        return self.status == "signed-out" and self.reason == reason


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Deliberate:
    """A difference we keep on purpose: what Clerk answers, what we answer instead, and why.

    ``holds`` recognises exactly this difference between Clerk's answer and the Sanic SDK's; ``None`` for one the
    SDK does not show. ``decided`` recognises it between Clerk's decision and the service's (``/auth``).
    """

    clerk: str
    ours: str
    why: str
    holds: Callable[[Observed, Observed], bool] | None
    decided: Callable[[Decision, Decision], bool]


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
        decided=lambda clerk, ours: clerk.accepted and ours.signed_out_with("token-invalid-issuer"),
    ),
    "sid-required": Deliberate(
        clerk="a session token without sid is accepted (verifyToken does not look)",
        ours="signed out, token-verification-failed (Session claim (sid) is required...)",
        why="every Clerk session token has one; a signed token without it is another kind of token (a JWT template)",
        holds=lambda clerk, ours: _signed_in(clerk) and _signed_out_with("token-verification-failed")(ours),
        decided=lambda clerk, ours: clerk.accepted and ours.signed_out_with("token-verification-failed"),
    ),
    "strict-tokens": Deliberate(
        clerk="a token its lenient decodeJwt reads (padded base64url, duplicate members) is accepted",
        ours="signed out, token-invalid (strict decoding, jwt-attacks §1); where Clerk refuses too, Clerk's reason",
        why="two parsers reading one token differently is how token confusion starts",
        holds=lambda clerk, ours: _accepted(clerk) and _signed_out(ours),
        decided=lambda clerk, ours: clerk.accepted and ours.status == "signed-out",
    ),
    "no-exceptions": Deliberate(
        clerk="its code throws on malformed input (a v2 fea element without ':', a __clerk_redirect_url that is no URL)"
        " and the middleware or getAuth answers 500",
        ours="signed out with a reason (token-invalid with Clerk's message; unexpected-error)",
        why="malformed input is a denial like any other, not a server error",
        holds=lambda clerk, ours: clerk.status == 500 and _signed_out(ours) and bool(_reason(ours)),
        decided=lambda clerk, ours: clerk.status == "throw" and ours.status == "signed-out" and bool(ours.reason),
    ),
    "backend-answer-crashes-clerk": Deliberate(
        clerk="a malformed Backend API answer crashes Clerk's own code (a TypeError; the middleware answers 500)",
        ours="signed out, unexpected-error, with a message naming the failed verification",
        why="an upstream answer must not make the gateway fail, and a crash leaves no Clerk message to reproduce",
        holds=lambda clerk, ours: clerk.status == 500 and _signed_out_with("unexpected-error")(ours),
        decided=lambda clerk, ours: clerk.status == "throw" and ours.signed_out_with("unexpected-error"),
    ),
    "redirect-url-checked": Deliberate(
        clerk="a development primary redirects to any __clerk_redirect_url, with the dev-browser token appended",
        ours="followed only to the request's own origin or CLERK_AUTHORIZED_PARTIES; else signed out, "
        "redirect-url-not-allowed",
        why="a redirect anywhere hands the victim's dev-browser token to whoever wrote the link",
        holds=lambda clerk, ours: (
            clerk.status == 307
            and _reason(clerk) == "primary-responds-to-syncing"
            and _signed_out_with("redirect-url-not-allowed")(ours)
        ),
        decided=lambda clerk, ours: (
            clerk.reason == "primary-responds-to-syncing" and ours.signed_out_with("redirect-url-not-allowed")
        ),
    ),
    "pending-session": Deliberate(
        clerk="a pending session is a signed-in request state whose auth object is signed out",
        ours="the same through the SDK; the service answers signed out, reason session-pending",
        why="a proxy needs the reason a request is refused; the SDK's auth object is already Clerk's",
        holds=None,
        decided=lambda clerk, ours: (
            clerk.accepted is False
            and clerk.status == "signed-in"
            and clerk.auth is not None
            and clerk.auth.get("sessionStatus") == "pending"
            and ours.signed_out_with("session-pending")
        ),
    ),
    "throws": Deliberate(
        clerk="authenticateRequest throws for input the client controls (the middleware answers 500)",
        ours="signed out, unexpected-error, with Clerk's thrown message",
        why="a client must not be able to make the gateway fail; the denial is answered like every other",
        holds=_throw_answered_signed_out,
        decided=lambda clerk, ours: (
            clerk.status == "throw" and ours == Decision("signed-out", "unexpected-error", clerk.message, ours.auth)
        ),
    ),
}

SCENARIOS: Final = scenarios()


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
    assert {s.flow.service_expect for s in SERVICE_SCENARIOS} - {None} == set(DELIBERATE)
    assert len(SERVICE_SCENARIOS) >= 200


def _run(harness: Harness, scenario: Scenario, ask: Callable[[Probe], T]) -> T:
    """Build the scenario's request at this second's clock, set its failure switch, ``ask``, and heal FakeClerk."""
    harness.now = float(int(time.time()))
    request = scenario.flow.build(Kit(scenario.config, harness.fake, harness.now), scenario.kind)
    if scenario.flow.setup is not None:
        scenario.flow.setup(harness.fake)
    try:
        return ask(request)
    finally:
        harness.fake.heal()


#: the scenarios the service's ``/auth`` is also asked about: those whose URL the request's own headers do not move
#: (``/auth`` is given the scenario's URL in ``X-Original-URL``)
SERVICE_SCENARIOS: Final = [s for s in SCENARIOS if s.flow.service]


def _decided_by_the_service(harness: Harness, scenario: Scenario, request: Probe) -> Decision:
    """``/auth?accepts=any`` asked about the scenario's request (``X-Original-URL`` / ``X-Original-Method``)."""
    original = (("x-original-url", f"https://{HOST}{request.path}"), ("x-original-method", request.method))
    probe = Probe("GET", "/auth?accepts=any", (*request.headers, *original))
    return Decision.of_auth_endpoint(harness.call("service", scenario.config, probe))


@pytest.mark.parametrize("scenario", SERVICE_SCENARIOS, ids=[s.id for s in SERVICE_SCENARIOS])
def test_the_services_auth_decides_as_clerk_express(harness: Harness, scenario: Scenario) -> None:
    """The service decides as Clerk does: ``/auth``'s status, reason, message and auth object are Clerk's (the auth
    object where Clerk's answer has one), or differ exactly as a ``DELIBERATE`` row says."""
    clerk, ours = _run(
        harness,
        scenario,
        lambda request: (
            Decision.of_express(harness.call("node", scenario.config, request)),
            _decided_by_the_service(harness, scenario, request),
        ),
    )
    expect = scenario.flow.service_expect
    if expect is None:
        assert ours == Decision(
            clerk.status, clerk.reason, clerk.message, ours.auth if clerk.auth is None else clerk.auth
        )
        return
    assert DELIBERATE[expect].decided(clerk, ours), f"expected {expect!r}\nclerk: {clerk}\nours:  {ours}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_same_answer_as_clerk_express(harness: Harness, scenario: Scenario) -> None:
    """The Sanic SDK answers as Clerk's Express middleware does, or differs exactly as a ``DELIBERATE`` row says."""
    clerk, ours = _run(
        harness,
        scenario,
        lambda request: (
            _comparable(harness.call("node", scenario.config, request)),
            _comparable(harness.call("python", scenario.config, request)),
        ),
    )
    if scenario.flow.expect is None:
        assert ours == clerk, f"\nclerk: {clerk.summary()}\nours:  {ours.summary()}"
    else:
        holds = DELIBERATE[scenario.flow.expect].holds
        assert holds is not None
        assert holds(clerk, ours), (
            f"expected the deliberate difference {scenario.flow.expect!r}\nclerk: {clerk.summary()}\n"
            f"ours:  {ours.summary()}"
        )
