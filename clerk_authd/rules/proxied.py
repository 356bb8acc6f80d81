"""Whose headers a proxy endpoint trusts, and which part of its query is the operator's (api.md §2, §3).

A proxy forwards the client's headers to the auth service, so a client can send any ``X-Original-*`` or
``X-Forwarded-*`` header it likes. Each proxy family overwrites only *its own* headers on every request, so each
endpoint reads only the headers of the family it serves and drops the others before the request view is built:

- ``ORIGINAL`` (``/verify``, ``/handshake``; nginx, ingress-nginx, HAProxy's handshake route): ``X-Original-Method``
  and ``X-Original-URL``;
- ``FORWARDED`` (``/forward-auth``; Traefik, Caddy, HAProxy): ``X-Forwarded-Method``, ``-Proto``, ``-Host`` and
  ``-Uri``;
- ``ENVOY`` (``/ext-authz/<path>``): the request's own method, path and ``Host``, and ``X-Forwarded-Proto``, which
  Envoy sets itself at the edge (``use_remote_address``); never an ``X-Forwarded-Host``, which Envoy does not set.

Requirements and ``accepts`` are the operator's: they come from the auth URL the recipe sets. Caddy's
``forward_auth`` copies the client's query onto that URL when the configured ``uri`` has none, so a query that is
*exactly* the original request's may be the client's. It is then read so that neither reading can hurt: its
requirements still hold (a client can only narrow its own access), while ``accepts`` and unknown parameters are
ignored (a client must never widen the accepted token types, and ``?page=2`` is not an operator's mistake).
Generated recipes always give the auth URL a query of their own, so this never happens behind them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Final

from clerk_authd.rules.names import HANDSHAKE, HANDSHAKE_NONCE
from clerk_authd.rules.request import OwnUrl, RequestView, original_request
from clerk_authd.rules.requirements import REQUIREMENT_NAMES, Requirements, parse_requirements


class Family(Enum):
    """A proxy family: the headers it sets itself, overwriting the client's, to describe the original request."""

    ORIGINAL = ("x-original-method", "x-original-url")
    FORWARDED = ("x-forwarded-method", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-uri")
    ENVOY = ("x-forwarded-proto",)


#: every header some family uses for the original request's method or URL (``X-Original-URI`` is nobody's)
ORIGINAL_REQUEST_HEADERS: Final = frozenset({*Family.ORIGINAL.value, *Family.FORWARDED.value, "x-original-uri"})


#: per family, the original-request headers it must not read (every other family's)
_UNTRUSTED: Final = {family: ORIGINAL_REQUEST_HEADERS.difference(family.value) for family in Family}


def trusted_headers(family: Family, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` without the original-request headers of every other family (one set lookup per header: this
    runs on every proxy request; HTTP parsers never hand over a name with whitespace around it)."""
    untrusted = _UNTRUSTED[family]
    return [pair for pair in headers if pair[0].lower() not in untrusted]


def decided_request(family: Family, method: str, url: OwnUrl, headers: Iterable[tuple[str, str]]) -> RequestView:
    """The request a proxy of ``family`` asks about, read only from the headers that family overwrites."""
    return original_request(method, url, trusted_headers(family, headers))


def original_query(family: Family, headers: Iterable[tuple[str, str]]) -> str:
    """The raw query string of the original request as ``family``'s headers give it (``""`` without one).

    The first header of the name is read: a recipe sets exactly one, and a mismatch only makes the auth URL's
    query be read strictly (a 400 naming a parameter), never leniently."""
    wanted = "x-original-url" if family is Family.ORIGINAL else "x-forwarded-uri"
    for name, value in headers:
        if name.strip().lower() == wanted:
            return value.strip().split("#", 1)[0].partition("?")[2]
    return ""


def operator_requirements(auth_query: str, auth_pairs: Iterable[tuple[str, str]], original: str) -> Requirements:
    """The requirements of an auth URL whose raw query is ``auth_query`` (parsed as ``auth_pairs``).

    When ``auth_query`` is exactly the original request's query (``original``), it may be a copy of the client's:
    only its requirements are kept (they can only narrow), never ``accepts`` nor an unknown parameter. Otherwise
    it is the operator's and read strictly (``RequirementError`` names a bad parameter).
    """
    if auth_query and auth_query == original:
        return parse_requirements((name, value) for name, value in auth_pairs if name in REQUIREMENT_NAMES)
    return parse_requirements(auth_pairs)


def carries_handshake(view: RequestView) -> bool:
    """The decided request carries a handshake to complete (``__clerk_handshake``/``_nonce``, query or cookie)."""
    return any(view.query.get(name) or view.cookies.get(name) for name in (HANDSHAKE, HANDSHAKE_NONCE))
