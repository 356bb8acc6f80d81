"""The bearer lane: a cached session's ``/verify``, ``/forward-auth`` or ``GET /has`` answered before the request
view, exactly as the full decision answers it.

Each test builds Sanic requests in process against a running service (its runtime open, its cache warmed over
HTTP) and holds the lane's answer equal to ``verify_in_full``'s (``forward_auth_in_full``'s, ``has_in_full``'s)
for the same request, or checks that the lane leaves the request to it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import pytest
from sanic import Request, Sanic
from sanic.compat import Header
from sanic.response import HTTPResponse

from clerk_authd.config import load_settings
from clerk_authd.rules.proxied import Family
from clerk_authd.sanic.answers import AnswerPolicy, IdentityResponse
from clerk_authd.sanic.install import answers_of, runtime_of
from clerk_authd.service.app import create_app
from clerk_authd.service.bearer_lane import bearer_lane, has_lane, proxied_allowed
from clerk_authd.service.routes import forward_auth_in_full, has_in_full, verify_in_full
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import PK_LIVE_LOCAL, SIGN_IN_URL, Answer, Running, bearer, unique_app_name

#: the service's clock: fixed, so that the two answers compared give the same ``max-age``
NOW = float(int(time.time()))
Pairs = Sequence[tuple[str, str]]
StartLane = Callable[..., Awaitable[Running]]


@pytest.fixture
async def lane_clerk() -> Any:
    async with FakeClerk(publishable_key=PK_LIVE_LOCAL, clock=lambda: NOW) as fake:
        yield fake


@pytest.fixture
def start_lane(
    serve_app: Callable[[Sanic[Any, Any]], Awaitable[Running]],
    fake_variables: Callable[[FakeClerk], dict[str, str]],
    lane_clerk: FakeClerk,
) -> StartLane:
    """The service on the fixed clock, with extra ``variables``."""

    async def start(**variables: str) -> Running:
        settings = load_settings({**fake_variables(lane_clerk), "CLERK_SIGN_IN_URL": SIGN_IN_URL, **variables})
        return await serve_app(create_app(settings, name=unique_app_name("lane"), clock=lambda: NOW))

    return start


def org_token(fake: FakeClerk, **claims: Any) -> str:
    """A session token with an active organization, so the identity block has every line."""
    return fake.session_token(
        user_id="user_lane",
        ttl_s=600,
        org_id="org_1",
        org_slug="acme",
        org_role="admin",
        org_permissions=("org:billing:read",),
        **claims,
    )


def sanic_request(app: Sanic[Any, Any], pairs: Pairs, path: str = "/verify") -> Request:
    """The request Sanic's HTTP/1 parser builds for ``GET path`` with header lines ``pairs``."""
    return Request(path.encode(), Header(pairs), "1.1", "GET", None, app)


def wire(response: HTTPResponse) -> tuple[Any, ...]:
    """Everything an answer puts on the wire but its date."""
    block = response.identity_block if isinstance(response, IdentityResponse) else b""
    return response.status, response.content_type, sorted(response.headers.items()), block, response.body


#: per endpoint, its family and its full decision
IN_FULL = {Family.ORIGINAL: verify_in_full, Family.FORWARDED: forward_auth_in_full}
PATHS = {Family.ORIGINAL: "/verify", Family.FORWARDED: "/forward-auth"}


async def assert_lane_answers_as_in_full(
    running: Running, pairs: Pairs, path: str = "/verify", family: Family = Family.ORIGINAL
) -> None:
    lane = bearer_lane(sanic_request(running.app, pairs, path), family)
    assert lane is not None, "the lane left a cached session's request to the full decision"
    full = await IN_FULL[family](sanic_request(running.app, pairs, path))
    assert wire(lane[0]) == wire(full)


async def assert_lane_declines(
    running: Running, pairs: Pairs, path: str = "/verify", family: Family = Family.ORIGINAL
) -> None:
    cache = runtime_of(running.app).cache
    assert cache is not None
    counts = cache.hits, cache.misses
    assert bearer_lane(sanic_request(running.app, pairs, path), family) is None
    assert (cache.hits, cache.misses) == counts, "a declined lane counted a cache look"


async def test_a_cached_session_is_answered_as_the_full_decision_answers_it(
    start_lane: StartLane, lane_clerk: FakeClerk
) -> None:
    """Status, identity lines, Cache-Control with the token's remaining life, no body."""
    running = await start_lane()
    token = org_token(lane_clerk)
    assert (await running.call("/verify", headers=bearer(token))).status == 200
    await assert_lane_answers_as_in_full(running, [("authorization", f"Bearer {token}")])
    lane = bearer_lane(sanic_request(running.app, [("authorization", f"Bearer {token}")]), Family.ORIGINAL)
    assert lane is not None
    assert b"cache-control: private, max-age=" in wire(lane[0])[3]


#: a cached session's token as a request may carry it, beside what Clerk does not read for a header token
CACHED_BEARER_SHAPES: Final = [
    pytest.param(lambda t: [("authorization", f"  Bearer {t}\t")], id="value-trimmed"),
    pytest.param(lambda t: [("authorization", t)], id="no-bearer-prefix"),
    pytest.param(lambda t: [("authorization", f"Bearer {t}"), ("authorization", "Bearer x")], id="first-wins"),
    pytest.param(lambda t: [("accept", "text/html"), ("authorization", f"Bearer {t}")], id="accept-html"),
    pytest.param(lambda t: [("x-original-url", "https://a.test/x?y"), ("authorization", t)], id="original"),
    pytest.param(lambda t: [("cookie", "__session=other; __client_uat=0"), ("authorization", t)], id="cookie"),
]


def served_headers(answer: Answer) -> dict[str, str]:
    """An answer's headers but its date and the empty ``Alt-Svc`` of these in-process servers, which Sanic's
    start-up rewrite removes in production (where the wire lane answers, it writes none: test_wire_lane.py)."""
    return {k: v for k, v in answer.headers.items() if k not in ("Date", "Alt-Svc")}


def assert_lane_line_is_the_full_line(err: str, endpoint: str) -> None:
    """The log's last two decision lines, the lane's and then the full decision's, equal but for their timing."""
    lines = [json.loads(line) for line in err.splitlines() if '"decision"' in line]
    lane_line, full_line = (
        {k: v for k, v in line.items() if k not in ("duration_ms", "ts", "time")} for line in lines[-2:]
    )
    assert lane_line == full_line
    assert (lane_line["endpoint"], lane_line["cache"]) == (endpoint, "hit")


@pytest.mark.parametrize("shape", CACHED_BEARER_SHAPES)
@pytest.mark.parametrize(
    "path",
    [
        "/verify",
        "/verify?",
        "/verify?accepts=session_token",
        "/verify?accepts=any",
        "/verify?accepts=session_token&role=admin",
        "/verify?permission=org:billing:read&feature=billing",
    ],
)
async def test_every_shape_of_a_cached_bearer_answers_as_in_full(
    start_lane: StartLane, lane_clerk: FakeClerk, shape: Callable[[str], Pairs], path: str
) -> None:
    """Clerk reads the first Authorization (trimmed, with or without ``Bearer``) and nothing else of the request;
    an empty query holds no requirement, and requirements the session meets change nothing in the answer."""
    running = await start_lane()
    token = org_token(lane_clerk)
    await running.call("/verify", headers=bearer(token))
    await assert_lane_answers_as_in_full(running, shape(token), path)


@pytest.mark.parametrize(
    ("shape", "path"),
    [
        pytest.param(lambda t: [("authorization", f"Bearer {t}")], "/verify?role=member", id="an-unmet-requirement"),
        pytest.param(lambda t: [("authorization", t)], "/verify?accepts=session_token&role=a", id="and-accepts"),
        pytest.param(lambda t: [("authorization", t)], "/verify?acepts=session_token", id="refused-query"),
        pytest.param(lambda t: [("authorization", t)], "/verify?accepts=nope", id="refused-accepts"),
        pytest.param(lambda t: [("authorization", t)], "/verify?accepts=api_key", id="session-not-accepted"),
        pytest.param(
            lambda t: [("x-original-url", "https://a.test/x?accepts=api_key"), ("authorization", t)],
            "/verify?accepts=api_key",
            id="query-copied-from-the-original",
        ),
        pytest.param(lambda t: [("accept", "text/html, application/json"), ("authorization", t)], "/verify", id="json"),
        pytest.param(
            lambda t: [("accept", "text/html"), ("accept", "application/json"), ("authorization", t)],
            "/verify",
            id="json-second-accept",
        ),
        pytest.param(lambda t: [], "/verify", id="no-authorization"),
        pytest.param(lambda t: [("authorization", "")], "/verify", id="empty-authorization"),
        pytest.param(lambda t: [("authorization", "Bearer ")], "/verify", id="empty-token"),
        pytest.param(lambda t: [("authorization", f"Bearer {t}\u00e9")], "/verify", id="non-ascii"),
        pytest.param(lambda t: [("authorization", "Bearer x"), ("authorization", t)], "/verify", id="first-unknown"),
        pytest.param(lambda t: [("authorization", f"Bearer {t}x")], "/verify", id="uncached"),
    ],
)
async def test_anything_else_is_left_to_the_full_decision_uncounted(
    start_lane: StartLane, lane_clerk: FakeClerk, shape: Callable[[str], Pairs], path: str
) -> None:
    """An unmet requirement (the full decision's 403), a query the full decision refuses or reads leniently, an
    ``accepts`` without sessions, a JSON answer, or a first Authorization the cache does not know."""
    running = await start_lane()
    token = org_token(lane_clerk)
    await running.call("/verify", headers=bearer(token))
    await assert_lane_declines(running, shape(token), path)


async def test_a_pending_session_is_left_to_the_full_decision(start_lane: StartLane, lane_clerk: FakeClerk) -> None:
    """Clerk's ``toAuth()`` signs a pending session out: the full decision answers 401."""
    running = await start_lane()
    token = org_token(lane_clerk, extra={"sts": "pending"})
    assert (await running.call("/verify", headers=bearer(token))).status == 401
    await assert_lane_declines(running, [("authorization", token)])


@pytest.mark.parametrize(
    "variables",
    [
        pytest.param({"CLERK_IS_SATELLITE": "true", "CLERK_DOMAIN": "satellite.test"}, id="satellite"),
        pytest.param({"CLERK_AUTHD_ACCEPTS_TOKEN": "api_key"}, id="accepts-machine-only"),
    ],
)
async def test_options_that_read_more_or_refuse_sessions_close_the_lane(
    start_lane: StartLane, lane_clerk: FakeClerk, variables: dict[str, str]
) -> None:
    """A satellite's checks read ``Origin``; a configured ``accepts`` without sessions answers them signed out."""
    running = await start_lane(**variables)
    token = org_token(lane_clerk)
    await running.call("/verify", headers=bearer(token))
    await assert_lane_declines(running, [("authorization", token)])


async def test_a_configured_accepts_list_holding_sessions_keeps_the_lane(
    start_lane: StartLane, lane_clerk: FakeClerk
) -> None:
    """A list (JS's array) that names ``session_token`` caches and answers a session as the full decision does."""
    running = await start_lane(CLERK_AUTHD_ACCEPTS_TOKEN="session_token,api_key")
    token = org_token(lane_clerk)
    await running.call("/verify", headers=bearer(token))
    await assert_lane_answers_as_in_full(running, [("authorization", token)])


async def test_with_the_cache_off_the_handler_lane_verifies_nothing_and_the_wire_lanes_core_answers_as_in_full(
    start_lane: StartLane, lane_clerk: FakeClerk
) -> None:
    """``CLERK_AUTHD_CACHE_SIZE=0`` verifies every token. Inside Sanic's handler the lane leaves that to the full
    decision; the wire lane's core (``verify_now``) verifies it itself, its key at hand, and its verdict gives the
    full decision's answer, on both endpoints and for every shape of the header."""
    running = await start_lane(CLERK_AUTHD_CACHE_SIZE="0")
    token = org_token(lane_clerk)
    assert (await running.call("/verify", headers=bearer(token))).status == 200  # the keys loaded
    for family in Family.ORIGINAL, Family.FORWARDED:
        for shape in CACHED_BEARER_SHAPES:
            pairs = shape.values[0](token)
            assert bearer_lane(sanic_request(running.app, pairs, PATHS[family]), family) is None
            allowed = proxied_allowed(running.app, family, "", pairs, verify_now=True)
            assert allowed is not None
            assert allowed.cache is None
            answer = AnswerPolicy.allowed_from_cache(answers_of(running.app), allowed.verdict, NOW)
            assert wire(answer) == wire(await IN_FULL[family](sanic_request(running.app, pairs, PATHS[family])))


async def test_a_new_token_the_wire_lane_cannot_allow_is_denied_in_full_and_counted_once(
    start_lane: StartLane, lane_clerk: FakeClerk
) -> None:
    """An unmet requirement on a token the cache does not know: the wire lane's core verifies it and leaves it to
    the full decision, which answers 403 from the verdict handed over, caching it as a miss as it does alone."""
    running = await start_lane()
    cache = runtime_of(running.app).cache
    assert cache is not None
    await running.call("/verify", headers=bearer(org_token(lane_clerk)))  # the keys loaded
    token = org_token(lane_clerk, session_id="sess_new")
    counts = cache.hits, cache.misses
    pairs = [("authorization", token)]
    assert proxied_allowed(running.app, Family.ORIGINAL, "role=member", pairs, verify_now=True) is None
    assert (cache.hits, cache.misses, cache.peek(token)) == (*counts, None)
    denied = await verify_in_full(sanic_request(running.app, pairs, "/verify?role=member"))
    assert denied.status == 403
    assert (cache.hits, cache.misses) == (counts[0], counts[1] + 1)
    assert cache.peek(token) is not None


@pytest.mark.parametrize("path", ["/verify", "/forward-auth"])
async def test_a_lane_answer_counts_one_hit_and_logs_the_full_decisions_line(
    start_lane: StartLane, lane_clerk: FakeClerk, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    """Over HTTP: the first request misses, the lane's second is one hit, and its decision line equals the line
    of the same request decided in full (a query copied from the original request sends it there) but for its
    duration."""
    running = await start_lane(CLERK_AUTHD_LOG_LEVEL="info")
    token = org_token(lane_clerk)
    cache = runtime_of(running.app).cache
    assert cache is not None
    await running.call(path, headers=bearer(token))
    assert (cache.hits, cache.misses) == (0, 1)
    by_lane = await running.call(path, headers=bearer(token))
    assert (cache.hits, cache.misses) == (1, 1)
    original = {"/verify": "X-Original-URL", "/forward-auth": "X-Forwarded-Uri"}[path]
    copied = {**bearer(token), original: "https://app.test/x?accepts=session_token"}
    in_full = await running.call(f"{path}?accepts=session_token", headers=copied)
    assert (cache.hits, cache.misses) == (2, 1)
    assert by_lane.status == in_full.status == 200
    assert served_headers(by_lane) == served_headers(in_full)
    assert_lane_line_is_the_full_line(capsys.readouterr().err, path)
    metrics = (await running.call("/metrics")).body.decode()
    assert f'clerk_authd_decisions_total{{endpoint="{path}",reason="",status="200"}} 3.0' in metrics


# --- /forward-auth ------------------------------------------------------------------------------------------

FORWARDED = [("x-forwarded-method", "GET"), ("x-forwarded-proto", "https"), ("x-forwarded-host", "app.test")]


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda t: [("authorization", t)], id="bare"),
        pytest.param(lambda t: [*FORWARDED, ("x-forwarded-uri", "/dash"), ("authorization", t)], id="forwarded"),
        pytest.param(lambda t: [("cookie", "__session=other; theme=dark"), ("authorization", t)], id="cookie"),
        pytest.param(lambda t: [("accept", "application/json"), ("authorization", t)], id="json-has-no-body"),
        pytest.param(
            lambda t: [("x-original-url", "https://a.test/?__clerk_handshake=x"), ("authorization", t)],
            id="another-familys-header",
        ),
        pytest.param(lambda t: [("cookie", "__clerk_handshake=x"), ("authorization", t)], id="handshake-cookie"),
        pytest.param(
            lambda t: [*FORWARDED, ("x-forwarded-uri", "/dash?__clerk_handshake=x&page=2"), ("authorization", t)],
            id="handshake-in-the-forwarded-query",
        ),
    ],
)
async def test_a_cached_bearer_on_forward_auth_answers_as_in_full(
    start_lane: StartLane, lane_clerk: FakeClerk, shape: Callable[[str], Pairs]
) -> None:
    """Traefik's and Caddy's question: nothing of the forwarded original request matters to a cached header
    token, not even a handshake (below); ``Accept`` changes nothing in an allowed answer, which has no body."""
    running = await start_lane()
    token = org_token(lane_clerk)
    await running.call("/forward-auth", headers=bearer(token))
    await assert_lane_answers_as_in_full(running, shape(token), "/forward-auth", Family.FORWARDED)
    await assert_lane_answers_as_in_full(running, shape(token), "/forward-auth?accepts=session_token", Family.FORWARDED)


async def test_a_handshake_beside_a_cached_bearer_is_decided_on_the_bearer(
    start_lane: StartLane, lane_clerk: FakeClerk
) -> None:
    """Clerk decides a token in ``Authorization`` before it resolves any handshake, so ``/forward-auth``'s
    in-place completion has no cookies to set: over HTTP the answer is the lane's 200, with a nonce Clerk knows."""
    running = await start_lane()
    token = org_token(lane_clerk)
    lane_clerk.register_handshake_nonce("nonce_1", [f"__session={token}; Path=/"])
    await running.call("/forward-auth", headers=bearer(token))
    pairs = [("cookie", "__clerk_handshake_nonce=nonce_1"), ("authorization", token)]
    await assert_lane_answers_as_in_full(running, pairs, "/forward-auth", Family.FORWARDED)
    answer = await running.call("/forward-auth", headers={**bearer(token), "Cookie": "__clerk_handshake_nonce=nonce_1"})
    assert (answer.status, answer.headers["x-clerk-auth-status"]) == (200, "signed-in")


async def test_a_forwarded_accepts_other_than_the_configured_one_is_left_to_the_full_decision(
    start_lane: StartLane, lane_clerk: FakeClerk
) -> None:
    """``/forward-auth`` decides a request carrying a handshake with the configured ``accepts``, so the lane takes
    only that one from the query."""
    running = await start_lane()
    token = org_token(lane_clerk)
    await running.call("/forward-auth", headers=bearer(token))
    pairs = [("cookie", "__clerk_handshake=x"), ("authorization", token)]
    await assert_lane_declines(running, pairs, "/forward-auth?accepts=session_token,api_key", Family.FORWARDED)
    await assert_lane_answers_as_in_full(running, pairs, "/verify?accepts=session_token,api_key")


async def test_header_names_are_read_case_blind_as_node_reads_them(
    start_lane: StartLane, lane_clerk: FakeClerk
) -> None:
    """Sanic's HTTP/1 parser lowercases names, but another transport might not: a first ``Authorization`` in
    another case is still the one Clerk reads, so the lane must not skip it to a cached token after it."""
    running = await start_lane()
    token = org_token(lane_clerk)
    await running.call("/verify", headers=bearer(token))
    await assert_lane_declines(running, [("Authorization", "Bearer not-a-token"), ("authorization", token)])
    await assert_lane_answers_as_in_full(running, [("AUTHORIZATION", token), ("accept", "text/html")])


# --- GET /has ------------------------------------------------------------------------------------------------


async def assert_has_lane_answers_as_in_full(running: Running, pairs: Pairs, path: str) -> None:
    lane = has_lane(sanic_request(running.app, pairs, path))
    assert lane is not None, "the lane left a cached session's /has to the full decision"
    full = await has_in_full(sanic_request(running.app, pairs, path))
    assert wire(lane[0]) == wire(full)
    assert lane[0].body == b'{"allowed":true}'


@pytest.mark.parametrize(
    "shape",
    [
        *CACHED_BEARER_SHAPES,
        pytest.param(lambda t: [("accept", "application/json"), ("authorization", t)], id="json"),
        pytest.param(
            lambda t: [("x-original-url", "https://a.test/x?__clerk_handshake=h&role=member"), ("authorization", t)],
            id="clerk-parameters-and-requirements-only-in-the-original-url",
        ),
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/has?permission=org:billing:read",
        "/has?role=admin",
        "/has?role=admin&accepts=session_token",
        "/has?permission=org:billing:read&role=org:admin",
        "/has?permission=org%3Abilling%3Aread",
    ],
)
async def test_a_cached_session_meeting_has_requirements_is_answered_as_in_full(
    start_lane: StartLane, lane_clerk: FakeClerk, shape: Callable[[str], Pairs], path: str
) -> None:
    """``GET /has``: 200 ``{"allowed": true}`` with the identity lines, whatever else the request carries."""
    running = await start_lane()
    token = org_token(lane_clerk)
    await running.call("/verify", headers=bearer(token))
    await assert_has_lane_answers_as_in_full(running, shape(token), path)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/has", id="no-requirement"),
        pytest.param("/has?accepts=session_token", id="accepts-alone"),
        pytest.param("/has?role=member", id="unmet"),
        pytest.param("/has?rol=admin", id="refused-query"),
        pytest.param("/has?role=admin&__clerk_handshake=x", id="clerk-parameter"),
        pytest.param("/has?role=admin&__clerk_db_jwt=dvb_1", id="dev-browser-parameter"),
        pytest.param("/has?role=admin&%5F%5Fclerk_synced=true", id="escaped-clerk-parameter"),
        pytest.param("/has?role=admin&__dev_session=x", id="legacy-dev-session"),
        pytest.param("/has?role=admin&x=" + "a" * 1024, id="too-long-to-keep"),
        pytest.param("/has?role=admin&accepts=api_key", id="session-not-accepted"),
    ],
)
async def test_has_queries_the_lane_cannot_answer_go_to_the_full_decision_uncounted(
    start_lane: StartLane, lane_clerk: FakeClerk, path: str
) -> None:
    """No requirement (a 400 in full), a refused query, an unmet one (403), one naming a parameter of Clerk's,
    escaped or not (left to Clerk in full), one too long to be kept parsed, or an ``accepts`` without sessions."""
    running = await start_lane()
    token = org_token(lane_clerk)
    await running.call("/verify", headers=bearer(token))
    cache = runtime_of(running.app).cache
    assert cache is not None
    counts = cache.hits, cache.misses
    assert has_lane(sanic_request(running.app, [("authorization", token)], path)) is None
    assert (cache.hits, cache.misses) == counts


async def test_a_has_lane_answer_counts_one_hit_and_logs_the_full_decisions_line(
    start_lane: StartLane, lane_clerk: FakeClerk, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over HTTP: the lane's ``/has`` is one hit, and its decision line and headers equal those of the same
    question decided in full (a parameter of Clerk's, which the full decision leaves to Clerk, sends it there)."""
    running = await start_lane(CLERK_AUTHD_LOG_LEVEL="info")
    token = org_token(lane_clerk)
    cache = runtime_of(running.app).cache
    assert cache is not None
    await running.call("/verify", headers=bearer(token))
    by_lane = await running.call("/has?role=admin", headers=bearer(token))
    assert (cache.hits, cache.misses) == (1, 1)
    in_full = await running.call("/has?role=admin&__clerk_synced=true", headers=bearer(token))
    assert (cache.hits, cache.misses) == (2, 1)
    assert (by_lane.status, by_lane.body) == (in_full.status, in_full.body) == (200, b'{"allowed":true}')
    assert served_headers(by_lane) == served_headers(in_full)
    assert_lane_line_is_the_full_line(capsys.readouterr().err, "/has")
