"""What a proxy asks ``/verify`` or ``/forward-auth``: the request it decides about, the operator's requirements,
and how the answer is given, read from a request's method, URL, header lines and auth URL query.

Sanic's handler (``routes``) and the wire lane (``wire_lane``) both read a proxy's question; they read it here,
from the same inputs, so that the two decide the same question.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from sanic.response import HTTPResponse

from clerk_authd.rules.proxied import Family, carries_handshake, decided_request, operator_requirements, original_query
from clerk_authd.rules.request import OwnUrl, RequestView
from clerk_authd.rules.requirements import NO_REQUIREMENTS, Requirements
from clerk_authd.rules.verdict import Verdict
from clerk_authd.sanic.answers import AnswerPolicy

#: how an endpoint answers a verdict
Answer = Callable[[AnswerPolicy, Verdict], HTTPResponse]


class ProxiedQuestion(NamedTuple):
    """One proxy's question, ready to decide (``ClerkRuntime.decide``) and answer."""

    view: RequestView
    requirements: Requirements
    answer: Answer


def complete_or_forward_auth(policy: AnswerPolicy, verdict: Verdict) -> HTTPResponse:
    """A handshake that resolved into cookies is answered as ``/handshake`` does (307 to the clean URL with them);
    one that did not (a bad token, an unknown nonce) gets the ordinary denial, which says why."""
    return policy.handshake_done(verdict) if verdict.state.set_cookies else policy.forward_auth(verdict)


#: each family's answer to a question that completes no handshake
_ANSWERS: dict[Family, Answer] = {
    Family.ORIGINAL: AnswerPolicy.auth_request,
    Family.FORWARDED: AnswerPolicy.forward_auth,
}


def read_proxied_question(
    family: Family,
    method: str,
    url: OwnUrl,
    headers: Sequence[tuple[str, str]],
    *,
    query: str,
    query_pairs: Callable[[], Iterable[tuple[str, str]]],
) -> ProxiedQuestion:
    """The question a proxy of ``family`` (``ORIGINAL``: ``/verify``, ``FORWARDED``: ``/forward-auth``) asks with
    a request of ``method`` to ``url`` with the header lines ``headers`` (as Node reads them) and the raw auth URL
    query ``query``, whose pairs ``query_pairs`` gives as Sanic parses them (blank values kept).

    The original request comes from ``family``'s headers only (``rules.proxied``). A forwarded request carrying a
    handshake is completed in place, with no requirements: these proxies return a non-2xx answer to the browser as
    it is. Raises ``RequirementError`` naming a bad parameter of the operator's query (a 400).
    """
    view = decided_request(family, method, url, headers)
    if family is Family.FORWARDED and carries_handshake(view):
        return ProxiedQuestion(view, NO_REQUIREMENTS, complete_or_forward_auth)
    requirements = operator_requirements(query, query_pairs(), original_query(family, headers) if query else "")
    return ProxiedQuestion(view, requirements, _ANSWERS[family])
