"""The decision endpoints of api.md §3. Each handler: build the request view, decide, answer.

``/verify``, ``/forward-auth`` and ``/ext-authz`` decide about the original request a proxy forwards (api.md
§2); ``/has``, ``/auth`` about the caller's own request. All share ``ClerkRuntime.decide`` and differ only in
the answer family (``answers.AnswerPolicy``). Each decision is logged once and counted in ``/metrics``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from clerk_authd.rules.names import HANDSHAKE
from clerk_authd.rules.proxied import (
    Family,
    carries_handshake,
    decided_request,
    trusted_headers,
)
from clerk_authd.rules.request import RequestView, own_or_original_request
from clerk_authd.rules.requirements import (
    NO_REQUIREMENTS,
    REQUIREMENT_NAMES,
    RequirementError,
    Requirements,
    parse_batch,
)
from clerk_authd.rules.verdict import Verdict
from clerk_authd.sanic.answers import AnswerPolicy, bad_request, with_empty_identity
from clerk_authd.sanic.install import answers_of, deferred_url, node_headers, runtime_of
from clerk_authd.service.auth_query import query_requirements
from clerk_authd.service.bearer_lane import LaneAnswer, bearer_lane, has_lane
from clerk_authd.service.handover import is_handed_over, take_handed_over
from clerk_authd.service.logging import log_operator_error
from clerk_authd.service.proxied_question import Answer, complete_or_forward_auth, read_proxied_question
from clerk_authd.service.record import record_lane_answer, record_verdict

ANY_METHOD: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
EXT_AUTHZ_PREFIX: Final = "/ext-authz"
DECISION_PATHS: Final = frozenset({"/verify", "/forward-auth", EXT_AUTHZ_PREFIX, "/handshake", "/has", "/auth"})


def register_routes(app: Sanic[Any, Any]) -> None:
    """Add the decision endpoints to ``app``."""
    app.add_route(verify, "/verify", methods=ANY_METHOD)
    app.add_route(forward_auth, "/forward-auth", methods=ANY_METHOD)
    app.add_route(ext_authz, EXT_AUTHZ_PREFIX, methods=ANY_METHOD, name="ext_authz_root")
    app.add_route(ext_authz, EXT_AUTHZ_PREFIX + "/<original_path:path>", methods=ANY_METHOD)
    app.add_route(handshake, "/handshake", methods=["GET", "HEAD"])
    app.add_route(has, "/has", methods=["GET", "POST"])
    app.add_route(auth, "/auth", methods=["GET"])
    app.exception(Exception)(_framework_answer)


def is_decision_path(path: str) -> bool:
    """A path one of the decision endpoints answers (whatever the method)."""
    return path in DECISION_PATHS or path.startswith(EXT_AUTHZ_PREFIX + "/")


async def _framework_answer(request: Request, exception: Exception) -> HTTPResponse:
    """Sanic's own answer (405 for a method the route does not take, 413 for an oversized body, 500), which on a
    decision route carries every identity header, empty, like any other decision answer."""
    response = request.app.error_handler.default(request, exception)
    return with_empty_identity(response) if is_decision_path(request.path) else response


async def verify(request: Request) -> HTTPResponse:
    """nginx ``auth_request`` / ingress-nginx ``auth-url``: 200, 401 (+ where to go), 403, 503; never 3xx.

    A cached session with nothing else to decide takes the bearer lane (``bearer_lane``); every other request is
    decided in full (``verify_in_full``)."""
    return await _by_lane_or_in_full(request, "/verify", _verify_lane, verify_in_full)


async def verify_in_full(request: Request) -> HTTPResponse:
    """``/verify`` by the whole decision. The original request is ``X-Original-Method`` / ``X-Original-URL``
    only (``rules.proxied``)."""
    return await _proxied(request, "/verify", Family.ORIGINAL)


async def forward_auth(request: Request) -> HTTPResponse:
    """Traefik ForwardAuth / Caddy ``forward_auth``: the same decision with real redirects; a cached session with
    nothing else to decide takes the bearer lane, as on ``/verify``."""
    return await _by_lane_or_in_full(request, "/forward-auth", _forward_auth_lane, forward_auth_in_full)


async def forward_auth_in_full(request: Request) -> HTTPResponse:
    """``/forward-auth`` by the whole decision: the original request from ``X-Forwarded-Method`` / ``-Proto`` /
    ``-Host`` / ``-Uri`` only. A request carrying a handshake is completed here (307 with its cookies), since
    these proxies return a non-2xx answer to the browser as it is."""
    return await _proxied(request, "/forward-auth", Family.FORWARDED)


def _verify_lane(request: Request) -> LaneAnswer | None:
    return bearer_lane(request, Family.ORIGINAL)


def _forward_auth_lane(request: Request) -> LaneAnswer | None:
    return bearer_lane(request, Family.FORWARDED)


async def _by_lane_or_in_full(
    request: Request,
    endpoint: str,
    lane: Callable[[Request], LaneAnswer | None],
    in_full: Callable[[Request], Awaitable[HTTPResponse]],
) -> HTTPResponse:
    """The bearer lane's answer, logged and counted as a decision, or else ``in_full``'s (always, for a request
    whose decision the wire lane began: ``handover``)."""
    started = time.perf_counter()
    answered = None if is_handed_over(request) else lane(request)
    if answered is None:
        return await in_full(request)
    response, allowed = answered
    record_lane_answer(request.app, endpoint, started, allowed)
    return response


async def ext_authz(request: Request, original_path: str = "") -> HTTPResponse:
    """Envoy ``ext_authz`` (``path_prefix: /ext-authz``): the method, path and query are the original request's,
    so requirements cannot come from the query here; no other family's header moves them (``Family.ENVOY``); a
    handshake is completed in place as on ``/forward-auth``."""
    target = request.path.removeprefix(EXT_AUTHZ_PREFIX) or "/"
    url = f"{target}?{request.query_string}" if request.query_string else target
    view = RequestView.build(request.method, url, trusted_headers(Family.ENVOY, node_headers(request)))
    answer = complete_or_forward_auth if carries_handshake(view) else AnswerPolicy.forward_auth
    return await _decide(request, EXT_AUTHZ_PREFIX, view, answer, requirements=NO_REQUIREMENTS)


async def handshake(request: Request) -> HTTPResponse:
    """Complete Clerk's handshake for the original URL (``X-Original-URL``): 307 back to it, clean, with every
    cookie."""
    view = decided_request(Family.ORIGINAL, request.method, deferred_url(request), node_headers(request))
    if not carries_handshake(view):
        return _bad_request("/handshake", RequirementError(HANDSHAKE, "the original URL carries no handshake"))
    return await _decide(request, "/handshake", view, AnswerPolicy.handshake_done, requirements=NO_REQUIREMENTS)


async def _proxied(request: Request, endpoint: str, family: Family) -> HTTPResponse:
    """A proxy's question (``proxied_question``): the original request from ``family``'s headers, the operator's
    requirements."""
    try:
        question = read_proxied_question(
            family,
            request.method,
            deferred_url(request),
            node_headers(request),
            query=request.query_string,
            query_pairs=lambda: request.get_query_args(keep_blank_values=True),
        )
    except RequirementError as exc:
        return _bad_request(endpoint, exc)
    return await _decide(request, endpoint, question.view, question.answer, requirements=question.requirements)


def _asked_about(request: Request) -> RequestView:
    """What ``/auth`` and ``GET /has`` decide about: their own request, or the one ``X-Original-URL`` /
    ``X-Original-Method`` name (api.md §2)."""
    return own_or_original_request(request.method, deferred_url(request), node_headers(request))


async def has(request: Request) -> HTTPResponse:
    """``GET``: the request's own token against the query's requirements; a cached session that meets them takes
    the bearer lane (``has_lane``). ``POST``: a batch of checks."""
    if request.method == "GET":
        return await _by_lane_or_in_full(request, "/has", has_lane, has_in_full)
    return await _has_batch(request)


async def has_in_full(request: Request) -> HTTPResponse:
    """``GET /has`` by the whole decision."""
    return await _decide(
        request, "/has", _asked_about(request), AnswerPolicy.has_single, own_url=True, at_least_one=True
    )


async def _has_batch(request: Request) -> HTTPResponse:
    """``POST /has``: one decision, then each check of the body's batch on its auth object."""
    started = time.perf_counter()
    try:
        query = _query_requirements(request, own_url=True, accepts_only=True)
        limit = runtime_of(request.app).settings.has_max_checks
        batch = parse_batch(orjson.loads(request.body) if request.body else None, max_checks=limit)
    except orjson.JSONDecodeError as exc:
        return _bad_request("/has", RequirementError("body", f"is not JSON ({exc})"))
    except RequirementError as exc:
        return _bad_request("/has", exc)
    headers = node_headers(request)
    if batch.token is not None:  # without whitespace (parse_batch), Clerk's Bearer split gives back exactly it
        carried = ("authorization", "cookie")
        headers = [(k, v) for k, v in headers if k.lower() not in carried] + [
            ("authorization", f"Bearer {batch.token}")
        ]
    runtime = runtime_of(request.app)
    verdict = await runtime.decide(RequestView.build(request.method, deferred_url(request), headers), query)
    results = [verdict.signed_in and verdict.auth is not None and verdict.auth.has(**c.params) for c in batch.checks]
    return _record(request, "/has", verdict, answers_of(request.app).has_batch(verdict, results), started)


async def auth(request: Request) -> HTTPResponse:
    """Clerk's ``getAuth()`` as JSON, for services in any language (``accepts`` is the only parameter)."""
    return await _decide(
        request, "/auth", _asked_about(request), AnswerPolicy.auth_json, own_url=True, accepts_only=True
    )


# --- the shared flow -----------------------------------------------------------------------------------------


async def _decide(
    request: Request,
    endpoint: str,
    view: RequestView,
    answer: Answer,
    *,
    requirements: Requirements | None = None,
    own_url: bool = False,
    accepts_only: bool = False,
    at_least_one: bool = False,
) -> HTTPResponse:
    """Read the requirements (400 naming a bad one), decide, answer, log and count.

    ``own_url``: the endpoint decides about its own request, whose query also carries Clerk's parameters. A
    decision the wire lane began for this request and could not finish there is taken, not made again.
    """
    started = time.perf_counter()
    if requirements is None:
        try:
            requirements = _query_requirements(request, own_url=own_url, accepts_only=accepts_only)
        except RequirementError as exc:
            return _bad_request(endpoint, exc)
        if at_least_one and not requirements.checks:
            why = f"give at least one requirement ({', '.join(REQUIREMENT_NAMES)})"
            return _bad_request(endpoint, RequirementError("query", why))
    handed = take_handed_over(request)
    if handed is None:
        verdict = await runtime_of(request.app).decide(view, requirements)
    else:
        started, verdict = handed.started, await handed.decision
    return _record(request, endpoint, verdict, answer(answers_of(request.app), verdict), started)


def _query_requirements(request: Request, *, own_url: bool, accepts_only: bool) -> Requirements:
    """The requirements of the request's own query (``auth_query``)."""
    return query_requirements(request.query_string, own_url=own_url, accepts_only=accepts_only)


def _bad_request(endpoint: str, error: RequirementError) -> HTTPResponse:
    log_operator_error(endpoint, error.parameter, error.why)
    return bad_request(error.parameter, error.why)


def _record(request: Request, endpoint: str, verdict: Verdict, response: HTTPResponse, started: float) -> HTTPResponse:
    """One log line and the metrics of one answered decision."""
    record_verdict(request.app, endpoint, verdict, response.status, started)
    return response
