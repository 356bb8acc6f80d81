"""A framework-free view of one HTTP request, read the way Clerk's SDK reads it (clerk-semantics §1).

Clerk runs on Node and the Fetch API, so every fact it takes from a request passes through Node, Fetch and npm
semantics that Python's standard library does not share. This module reproduces the parts that decide outcomes,
and never raises on hostile input, falling back where Clerk falls back:

- headers as Node combines repeated ones and Fetch trims them; an empty value counts as absent (§1.2;
  ``js.headers``);
- cookies as npm ``cookie`` 1.1.1 parses them (§1.4; ``js.cookies``);
- the URL (``clerkUrl``, parsed by ``js.url``), rebuilt from ``x-forwarded-host`` / ``x-forwarded-proto`` as
  ``deriveUrlFromHeaders`` does (§1.1), and, for the proxy endpoints, from ``X-Original-URL`` and friends
  (api.md §2); the query as ``URLSearchParams`` parses it.

Which of the request's tokens Clerk then uses (the ``Authorization`` value as Clerk splits it, §1.3; the
session cookie) is ``carriers``' business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Final, NamedTuple

from clerk_authd.js.cookies import parse_cookies
from clerk_authd.js.headers import Headers, combine_headers
from clerk_authd.js.url import Url, parse_url

_FETCH_METHODS: Final = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"})
#: Express builds its Request on this origin when the request target is not absolute (clerk-semantics §1.1).
DUMMY_ORIGIN: Final = "http://clerk-dummy"
_DUMMY_BASE: Final = parse_url(DUMMY_ORIGIN + "/")
#: How many resolved URLs each memo keeps. A gateway sends the same few URLs and forwarded headers over and
#: over, so a small memo answers nearly every request; other traffic only evicts, costing what no memo costs.
URL_MEMO_SIZE: Final = 256
#: Inputs longer than this (characters, all strings together) are resolved without the memo, so whatever
#: clients send, the memos stay small.
URL_MEMO_MAX_INPUT: Final = 1024


def _initial_url(target: str) -> Url:
    """The request's own URL: absolute, or origin-form against Express's dummy origin; ``/`` if unusable."""
    assert _DUMMY_BASE is not None  # noqa: S101 - a constant that parses
    parsed = parse_url(target, _DUMMY_BASE)
    if parsed is None or not parsed.special:
        return _DUMMY_BASE
    return parsed


def _first_value(value: str | None) -> str | None:
    return value.split(",")[0] if value is not None else None


def _derive_url(initial: Url, host_header: str | None, forwarded_host: str | None, forwarded_proto: str | None) -> Url:
    """``deriveUrlFromHeaders`` (§1.1): origin from ``x-forwarded-host``/``-proto`` (else ``host``), same path."""
    host = _first_value(forwarded_host)
    if host is None:
        host = host_header
    proto = _first_value(forwarded_proto)
    if proto is None:
        proto = initial.scheme
    origin = f"{proto}://{host}" if host and proto else initial.origin
    if origin == initial.origin:
        return initial
    base = parse_url(origin)
    if base is None:
        return initial
    if initial.pathname.startswith("//"):  # scheme-relative once re-parsed: JS moves the origin, so do we
        derived = parse_url(initial.pathname + initial.search, base)
        return derived if derived is not None else initial
    # re-parsing a serialized path and query changes nothing, so they are carried over as they are
    return replace(base, path=initial.path, query=initial.query or None, fragment=None)


def _normalize_method(method: str) -> str:
    upper = method.upper()
    return upper if upper in _FETCH_METHODS else method


@dataclass(frozen=True, slots=True)
class _Target:
    """An effective URL with what every request for it reads: its serialization and its query (first value of
    each name, as Clerk's ``searchParams.get``). Immutable, so one can serve every request for that URL."""

    url: Url
    href: str
    query: Mapping[str, str]

    @classmethod
    def of(cls, url: Url) -> _Target:
        query: dict[str, str] = {}
        for name, value in url.params():
            query.setdefault(name, value)
        return cls(url, url.href, MappingProxyType(query))


class _UrlInputs(NamedTuple):
    """Everything the effective URL depends on: the request target and the headers that move it."""

    target: str
    host: str | None
    forwarded_host: str | None
    forwarded_proto: str | None
    #: ``X-Original-URL`` (``original_request`` only)
    original_url: str | None = None
    #: ``X-Forwarded-Uri``, else ``X-Original-URI`` (``original_request`` only)
    forwarded_uri: str | None = None

    @property
    def own(self) -> Url:
        """The request's own URL re-based on its forwarded or ``Host`` headers (§1.1)."""
        return _derive_url(_initial_url(self.target), self.host, self.forwarded_host, self.forwarded_proto)

    @property
    def short(self) -> bool:
        """Small enough to be remembered."""
        return sum(map(len, filter(None, self))) <= URL_MEMO_MAX_INPUT  # None and "" add nothing


def _own_target(inputs: _UrlInputs) -> _Target:
    return _Target.of(inputs.own)


def _original_target(inputs: _UrlInputs) -> _Target:
    """The URL of the request a proxy asks about (``original_request``)."""
    own = inputs.own
    parsed: Url | None = None
    if inputs.original_url:
        parsed = parse_url(inputs.original_url, own)
    if parsed is None and inputs.forwarded_uri:
        proto = _first_value(inputs.forwarded_proto)
        host = _first_value(inputs.forwarded_host)
        uri = inputs.forwarded_uri
        parsed = parse_url(f"{proto}://{host}{uri}" if proto and host else own.origin + uri)
    if parsed is None or not parsed.special:
        parsed = own
    return _Target.of(replace(parsed, fragment=None))


_own_memo = lru_cache(maxsize=URL_MEMO_SIZE)(_own_target)
_original_memo = lru_cache(maxsize=URL_MEMO_SIZE)(_original_target)

#: The request's own URL, or a function that gives it. A framework that builds its URL on every read (Sanic's
#: ``request.url``: its scheme, host and forwarding rules, about 4.6 µs) passes the function, which runs only
#: when something reads the view's URL: a request whose token is in ``Authorization`` is decided without it.
OwnUrl = str | Callable[[], str]


def _url_text(url: OwnUrl) -> str:
    return url if isinstance(url, str) else url()


class RequestView:
    """One request as Clerk sees it: ``url`` is ``clerkUrl.href``; only ``method`` shows in ``repr``.

    Read-only. Built once per request on the hot path, so what a header-token request never reads (the URL, the
    cookies, the sorted header list for a session refresh) is computed on first use.
    """

    __slots__ = ("_combined", "_cookies", "_headers", "_method", "_resolve", "_resolved")

    def __init__(self, method: str, resolve: Callable[[], _Target], combined: Mapping[str, str]) -> None:
        self._method = _normalize_method(method)
        self._headers = Headers(combined)
        self._resolve = resolve
        self._resolved: _Target | None = None
        self._combined = combined
        self._cookies: Mapping[str, str] | None = None

    @classmethod
    def build(cls, method: str, url: OwnUrl, headers: Iterable[tuple[str, str]]) -> RequestView:
        """The request as a Clerk SDK behind Express sees it: ``url`` (absolute or origin-form) re-based on
        ``x-forwarded-host``/``x-forwarded-proto`` or ``host``, exactly as §1.1 says."""
        combined = combine_headers(headers)
        get = combined.get
        host, forwarded_host, forwarded_proto = get("host"), get("x-forwarded-host"), get("x-forwarded-proto")

        def resolve() -> _Target:
            inputs = _UrlInputs(_url_text(url), host, forwarded_host, forwarded_proto)
            return (_own_memo if inputs.short else _own_target)(inputs)

        return cls(method, resolve, combined)

    @property
    def _target(self) -> _Target:
        """The effective URL, resolved on the first read (``OwnUrl``) and kept."""
        target = self._resolved
        if target is None:
            target = self._resolved = self._resolve()
        return target

    def __repr__(self) -> str:
        return f"RequestView(method={self._method!r})"

    @property
    def method(self) -> str:
        """The method, uppercased where Fetch normalises it."""
        return self._method

    @property
    def headers(self) -> Headers:
        """The headers as Clerk's ``getHeader`` reads them."""
        return self._headers

    @property
    def url(self) -> str:
        """``clerkUrl.href``."""
        return self._target.href

    @property
    def parsed_url(self) -> Url:
        """``clerkUrl``."""
        return self._target.url

    @property
    def query(self) -> Mapping[str, str]:
        """``clerkUrl.searchParams``, the first value of each name."""
        return self._target.query

    @property
    def cookies(self) -> Mapping[str, str]:
        """The ``Cookie`` header as npm ``cookie`` parses it (§1.4)."""
        if self._cookies is None:
            self._cookies = parse_cookies(self._headers.get("cookie", ""))
        return self._cookies

    @property
    def all_headers(self) -> Mapping[str, str]:
        """Every header by lowercase name, empty ones included, sorted as Fetch iterates them (the refresh
        call forwards them as ``request_headers``)."""
        return dict(sorted(self._combined.items()))

    def header(self, name: str) -> str | None:
        """A header's value, ``None`` when missing or empty."""
        return self._headers.get(name)

    @property
    def origin(self) -> str:
        """``clerkUrl.origin``."""
        return self._target.url.origin

    @property
    def pathname(self) -> str:
        """``clerkUrl.pathname`` (what organization patterns match)."""
        return self._target.url.pathname


def original_request(method: str, url: OwnUrl, headers: Iterable[tuple[str, str]]) -> RequestView:
    """The request a proxy asks about (api.md §2), first found wins.

    Method: ``X-Forwarded-Method``, ``X-Original-Method``, else ``method``. URL: ``X-Original-URL`` (relative
    ones against the forwarded origin), else ``X-Forwarded-Proto`` + ``X-Forwarded-Host`` + (``X-Forwarded-Uri``
    or ``X-Original-URI``), else the request's own URL re-based as in §1.1. Cookies and the other headers are
    the client's, which proxies forward.
    """
    return _asked_about(method, url, headers, forwarded=True)


def own_or_original_request(method: str, url: OwnUrl, headers: Iterable[tuple[str, str]]) -> RequestView:
    """``/auth`` and ``/has``: the request itself (its URL re-based as in §1.1), unless the caller names the request
    it asks about with ``X-Original-URL`` / ``X-Original-Method``, a service asking about a request it received
    (api.md §2). No other ``X-Forwarded-*`` moves the method or the URL."""
    return _asked_about(method, url, headers, forwarded=False)


def _asked_about(method: str, url: OwnUrl, headers: Iterable[tuple[str, str]], *, forwarded: bool) -> RequestView:
    combined = combine_headers(headers)
    get = combined.get
    original_method = (get("x-forwarded-method") if forwarded else None) or get("x-original-method") or method
    original_url = get("x-original-url")
    host, forwarded_host, forwarded_proto = get("host"), get("x-forwarded-host"), get("x-forwarded-proto")
    forwarded_uri = (get("x-forwarded-uri") or get("x-original-uri")) if forwarded else None

    def resolve() -> _Target:
        absolute = _absolute_target(original_url)
        if absolute is not None:
            return absolute
        inputs = _UrlInputs(_url_text(url), host, forwarded_host, forwarded_proto, original_url, forwarded_uri)
        return (_original_memo if inputs.short else _original_target)(inputs)

    return RequestView(original_method, resolve, combined)


#: an ``X-Original-URL`` that starts so is parsed alike with any base (WHATWG: a special scheme followed by
#: ``//`` leaves the base unread), which is what every recipe sends (``$scheme://$http_host$request_uri``)
_BASE_FREE_PREFIXES: Final = ("http://", "https://")


def _absolute_target(original_url: str | None) -> _Target | None:
    """The effective URL of an ``X-Original-URL`` that needs no base, without the request's own URL (which
    ``_original_target`` would parse only to ignore it); ``None`` where the base could matter."""
    if not original_url or not original_url.startswith(_BASE_FREE_PREFIXES):
        return None
    if len(original_url) > URL_MEMO_MAX_INPUT:
        return _parse_absolute(original_url)
    return _absolute_memo(original_url)


def _parse_absolute(original_url: str) -> _Target | None:
    parsed = parse_url(original_url)
    return _Target.of(replace(parsed, fragment=None)) if parsed is not None and parsed.special else None


_absolute_memo = lru_cache(maxsize=URL_MEMO_SIZE)(_parse_absolute)
