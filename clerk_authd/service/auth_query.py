"""The requirements of a decision endpoint's query, parsed once per distinct query string.

A proxy's auth URL carries the same few requirement queries on every request (``?accepts=session_token`` from
every generated recipe), so their parsing is kept per query string; a refused query raises again, uncached, and
long queries, which no recipe writes, are not kept. ``routes`` and the bearer lane read queries through here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final
from urllib.parse import parse_qsl

from clerk_authd.rules.requirements import RequirementError, Requirements, is_clerk_parameter, parse_requirements

REQUIREMENTS_MEMO_SIZE: Final = 256
REQUIREMENTS_MEMO_MAX_QUERY: Final = 1024


def query_requirements(query: str, *, own_url: bool = False, accepts_only: bool = False) -> Requirements:
    """The requirements of the raw ``query``, or ``RequirementError`` naming a bad parameter.

    ``own_url``: the query is the decided request's own (``/has``, ``/auth``), so Clerk's parameters (a
    handshake, a dev browser, a sync) are left to Clerk. ``accepts_only``: the endpoint takes ``accepts`` alone.
    """
    if len(query) > REQUIREMENTS_MEMO_MAX_QUERY:
        return _parse(query, own_url=own_url, accepts_only=accepts_only)
    return _memo(query, own_url=own_url, accepts_only=accepts_only)


def _parse(query: str, *, own_url: bool, accepts_only: bool) -> Requirements:
    pairs = parse_qsl(query, keep_blank_values=True)  # what Sanic's get_query_args(keep_blank_values=True) does
    if own_url:
        pairs = [(name, value) for name, value in pairs if not is_clerk_parameter(name)]
    requirements = parse_requirements(pairs)
    if accepts_only and requirements.checks:
        raise RequirementError(requirements.checks[0].name, "this endpoint takes no requirements, only accepts")
    return requirements


_memo = lru_cache(maxsize=REQUIREMENTS_MEMO_SIZE)(_parse)


@lru_cache(maxsize=REQUIREMENTS_MEMO_SIZE)
def names_clerk_parameter(query: str) -> bool:
    """Whether the raw ``query`` names one of Clerk's own parameters once ``parse_qsl`` has decoded its names: on
    a request's own URL the full decision leaves those to Clerk. Kept per query string, as its requirements are;
    callers pass no query longer than ``REQUIREMENTS_MEMO_MAX_QUERY``."""
    return any(is_clerk_parameter(name) for name, _ in parse_qsl(query, keep_blank_values=True))
