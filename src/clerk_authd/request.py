"""A framework-free view of one HTTP request, read the way Clerk's SDK reads it (clerk-semantics §1).

Clerk runs on Node and the Fetch API, so every fact it takes from a request passes through Node, Fetch and npm
semantics that Python's standard library does not share. This module reproduces the parts that decide outcomes,
and never raises on hostile input, falling back where Clerk falls back:

- headers as Node combines repeated ones and Fetch trims them; an empty value counts as absent (§1.2);
- cookies as npm ``cookie`` 1.1.1 parses them: first occurrence wins, quotes kept, percent-decoding only when it
  succeeds (§1.4); the ``Authorization`` value as Clerk splits it (§1.3); the names of Clerk's cookies;
- the URL (``clerkUrl``, parsed by ``url.py``), rebuilt from ``x-forwarded-host`` / ``x-forwarded-proto`` as
  ``deriveUrlFromHeaders`` does (§1.1), and, for the proxy endpoints, from ``X-Original-URL`` and friends
  (api.md §2); the query as ``URLSearchParams`` parses it.

Which of the request's tokens Clerk then uses is ``carriers.py``'s business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from clerk_authd.url import Url, parse_url

# --- headers and cookies -------------------------------------------------------------------------------

#: Headers Node keeps only the first of when repeated (``IncomingMessage`` ``matchKnownFields``).
_FIRST_WINS: Final = frozenset(
    {
        "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host",
        "if-modified-since", "if-unmodified-since", "last-modified", "location", "max-forwards",
        "proxy-authorization", "referer", "retry-after", "server", "user-agent",
    }
)  # fmt: skip
_HTTP_WHITESPACE: Final = "\t\n\r "
_ESCAPE_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def combine_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Repeated headers as Node joins them (``cookie`` with ``; ``, most with ``, ``), Fetch-trimmed.

    Empty values are kept here: ``x-forwarded-host: ""`` means "present but empty" to the URL rules.
    """
    combined: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name = raw_name.strip(_HTTP_WHITESPACE).lower()
        value = raw_value.strip(_HTTP_WHITESPACE)
        if name not in combined:
            combined[name] = value
        elif name == "cookie":
            combined[name] += "; " + value
        elif name not in _FIRST_WINS:
            combined[name] += ", " + value
    return {name: value.strip(_HTTP_WHITESPACE) for name, value in combined.items()}


class Headers(Mapping[str, str]):
    """Request headers by case-insensitive name; a header with an empty value is absent (Clerk's ``getHeader``)."""

    __slots__ = ("_values",)

    def __init__(self, combined: Mapping[str, str]) -> None:
        self._values = {name.lower(): value for name, value in combined.items() if value}

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({sorted(self._values)})"  # names only: values carry tokens


def _strict_uri_decode(text: str) -> str | None:
    """JS ``decodeURIComponent``; ``None`` where it throws (a bad escape or bytes that are not UTF-8)."""
    if _BAD_ESCAPE.search(text):
        return None
    try:
        return _ESCAPE_RUN.sub(_decode_escapes, text)
    except UnicodeDecodeError:
        return None


def _decode_escapes(run: re.Match[str]) -> str:
    """One run of ``%XX`` escapes decoded as UTF-8; a run that splits or breaks a character fails, as JS throws."""
    return bytes.fromhex(run.group().replace("%", "")).decode("utf-8")


def parse_cookies(header: str) -> dict[str, str]:
    """npm ``cookie`` 1.1.1 ``parse``: ``;`` pairs, first ``=``, space/tab trimmed, quotes kept, first name wins.

    A value is percent-decoded only when it contains ``%`` and decodes cleanly; otherwise it stays raw.
    """
    cookies: dict[str, str] = {}
    length = len(header)
    if length < 2:
        return cookies
    index = 0
    while index < length:
        equals = header.find("=", index)
        if equals < 0:
            break
        semicolon = header.find(";", index)
        end = length if semicolon < 0 else semicolon
        if equals > end:
            index = header.rfind(";", 0, equals) + 1
            continue
        name = header[index:equals].strip(" \t")
        if name not in cookies:
            value = header[equals + 1 : end].strip(" \t")
            decoded = _strict_uri_decode(value) if "%" in value else None
            cookies[name] = value if decoded is None else decoded
        index = end + 1
    return cookies


# --- Clerk's names and the Authorization header --------------------------------------------------------

SESSION_COOKIE: Final = "__session"
REFRESH_COOKIE: Final = "__refresh"
CLIENT_UAT_COOKIE: Final = "__client_uat"
DEV_BROWSER: Final = "__clerk_db_jwt"
HANDSHAKE: Final = "__clerk_handshake"
HANDSHAKE_NONCE: Final = "__clerk_handshake_nonce"
REDIRECT_COUNT_COOKIE: Final = "__clerk_redirect_count"


def parse_authorization(value: str | None) -> str | None:
    """§1.3: ``split(' ', 2)``; a lone word is the token, ``Bearer <t>`` (case-sensitive) gives ``t``, else none."""
    if not value:
        return None
    pieces = value.split(" ")
    scheme, token = pieces[0], pieces[1] if len(pieces) > 1 else ""
    if not token:
        return scheme
    return token if scheme == "Bearer" else None


# --- the request view ----------------------------------------------------------------------------------

_FETCH_METHODS: Final = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"})
#: Express builds its Request on this origin when the request target is not absolute (clerk-semantics §1.1).
DUMMY_ORIGIN: Final = "http://clerk-dummy"
_DUMMY_BASE: Final = parse_url(DUMMY_ORIGIN + "/")


def _initial_url(target: str) -> Url:
    """The request's own URL: absolute, or origin-form against Express's dummy origin; ``/`` if unusable."""
    assert _DUMMY_BASE is not None  # noqa: S101 - a constant that parses
    parsed = parse_url(target, _DUMMY_BASE)
    if parsed is None or not parsed.special:
        return _DUMMY_BASE
    return parsed


def _first_value(value: str | None) -> str | None:
    return value.split(",")[0] if value is not None else None


def derive_url(initial: Url, combined: Mapping[str, str]) -> Url:
    """``deriveUrlFromHeaders`` (§1.1): origin from ``x-forwarded-host``/``-proto`` (else ``host``), same path."""
    host = _first_value(combined.get("x-forwarded-host"))
    if host is None:
        host = combined.get("host")
    proto = _first_value(combined.get("x-forwarded-proto"))
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
class RequestView:
    """One request as Clerk sees it. ``url`` is ``clerkUrl.href``; only ``method`` shows in ``repr``."""

    method: str
    url: str = field(repr=False)
    headers: Headers = field(repr=False)
    cookies: Mapping[str, str] = field(repr=False)
    query: Mapping[str, str] = field(repr=False)
    parsed_url: Url = field(repr=False)
    #: every header by lowercase name, empty ones included, sorted as Fetch iterates them (the refresh call
    #: forwards them as ``request_headers``)
    all_headers: Mapping[str, str] = field(repr=False)

    @classmethod
    def from_url(cls, method: str, url: Url, combined: Mapping[str, str]) -> RequestView:
        """A view of a request whose effective URL is already known."""
        query: dict[str, str] = {}
        for name, value in url.params():
            query.setdefault(name, value)
        headers = Headers(combined)
        return cls(
            method=_normalize_method(method),
            url=url.href,
            headers=headers,
            cookies=parse_cookies(headers.get("cookie", "")),
            query=query,
            parsed_url=url,
            all_headers=dict(sorted(combined.items())),
        )

    @classmethod
    def build(cls, method: str, url: str, headers: Iterable[tuple[str, str]]) -> RequestView:
        """The request as a Clerk SDK behind Express sees it: ``url`` (absolute or origin-form) re-based on
        ``x-forwarded-host``/``x-forwarded-proto`` or ``host``, exactly as §1.1 says."""
        combined = combine_headers(headers)
        return cls.from_url(method, derive_url(_initial_url(url), combined), combined)

    def header(self, name: str) -> str | None:
        """A header's value, ``None`` when missing or empty."""
        return self.headers.get(name)

    @property
    def origin(self) -> str:
        """``clerkUrl.origin``."""
        return self.parsed_url.origin

    @property
    def pathname(self) -> str:
        """``clerkUrl.pathname`` (what organization patterns match)."""
        return self.parsed_url.pathname


def original_request(method: str, url: str, headers: Iterable[tuple[str, str]]) -> RequestView:
    """The request a proxy asks about (api.md §2), first found wins.

    Method: ``X-Forwarded-Method``, ``X-Original-Method``, else ``method``. URL: ``X-Original-URL`` (relative
    ones against the forwarded origin), else ``X-Forwarded-Proto`` + ``X-Forwarded-Host`` + (``X-Forwarded-Uri``
    or ``X-Original-URI``), else the request's own URL re-based as in §1.1. Cookies and the other headers are
    the client's, which proxies forward.
    """
    combined = combine_headers(headers)
    own = derive_url(_initial_url(url), combined)
    original_method = combined.get("x-forwarded-method") or combined.get("x-original-method") or method
    target: Url | None = None
    if combined.get("x-original-url"):
        target = parse_url(combined["x-original-url"], own)
    uri = combined.get("x-forwarded-uri") or combined.get("x-original-uri")
    if target is None and uri:
        proto = _first_value(combined.get("x-forwarded-proto"))
        host = _first_value(combined.get("x-forwarded-host"))
        target = parse_url(f"{proto}://{host}{uri}" if proto and host else own.origin + uri)
    if target is None or not target.special:
        target = own
    return RequestView.from_url(original_method, replace(target, fragment=None), combined)
