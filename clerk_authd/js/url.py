"""The WHATWG URL standard, as far as a request's URL needs it: JS's ``new URL(text, base)`` and ``URLSearchParams``.

Clerk builds ``clerkUrl`` with Node's WHATWG parser, and every decision that reads the URL (the handshake's
``redirect_url``, organization patterns on the path, the cross-origin referrer check, satellite redirects) sees
its serialization. Python's ``urllib`` normalises differently (hosts, dot segments, percent-encoding, IPv4
shorthands), so this module reimplements the parser and serializer for the URLs a request can carry (``file:``
excepted), and never raises on hostile input: ``None`` is where JS throws. An exact fast path
(``_parse_canonical``) serves the common, already-canonical http(s) URL without running the state machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final

from clerk_authd.js.form import form_encode, parse_form
from clerk_authd.js.host import DOMAIN, OCTET, parse_host
from clerk_authd.js.percent import C0_CONTROL, C0_CONTROL_SET, percent_encode, well_formed

SPECIAL_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
_C0_OR_SPACE: Final = "".join(chr(code) for code in range(0x21))
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_FRAGMENT_SET = re.compile(f'[{C0_CONTROL_SET} "<>`]')
_QUERY_SET = re.compile(f'[{C0_CONTROL_SET} "#<>]')
_SPECIAL_QUERY_SET = re.compile(f"[{C0_CONTROL_SET} \"#<>']")
_PATH_SET = re.compile(f'[{C0_CONTROL_SET} "#<>?`{{}}]')
_USERINFO_SET = re.compile(f'[{C0_CONTROL_SET} "#<>?`{{}}/:;=@\\[\\\\\\]^|]')
#: URLs the WHATWG parser leaves as they are (see ``_parse_canonical``). The host is a domain whose last label
#: starts with a letter, so it cannot end in a number (an IPv4 address in another form) and has no ``xn--``
#: label (those the slow path checks), or an IPv4 address already in dotted-decimal form (the gateway's
#: ``http://127.0.0.1:8787/verify``)
_CANONICAL = re.compile(
    rf"(https?)://({DOMAIN}|(?:{OCTET}\.){{3}}{OCTET})(?::([1-9][0-9]{{0,4}}))?"
    r"((?:/[A-Za-z0-9\-._~!$&'()*+,;=:@%]*)*)(?:\?([A-Za-z0-9\-._~!$&()*+,;=:@%/?]*))?"
)
_SINGLE_DOT: Final = frozenset({".", "%2e"})
_DOUBLE_DOT: Final = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})


def _parse_path(text: str, segments: list[str], *, special: bool) -> tuple[str, ...]:
    """The path state from just after a separator: dot segments resolved, each segment percent-encoded."""
    pieces = re.split(r"[/\\]", text) if special else text.split("/")
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        lowered = piece.lower()
        if lowered in _DOUBLE_DOT:
            if segments:
                segments.pop()
            if last:
                segments.append("")
        elif lowered in _SINGLE_DOT:
            if last:
                segments.append("")
        else:
            segments.append(_PATH_SET.sub(percent_encode, piece))
    return tuple(segments)


def _split_tail(text: str, *, special: bool) -> tuple[str, str | None, str | None]:
    """``path?query#fragment`` → the raw path and the encoded query and fragment."""
    text, hash_sign, fragment = text.partition("#")
    path, question, query = text.partition("?")
    query_set = _SPECIAL_QUERY_SET if special else _QUERY_SET
    return (
        path,
        query_set.sub(percent_encode, query) if question else None,
        _FRAGMENT_SET.sub(percent_encode, fragment) if hash_sign else None,
    )


@dataclass(frozen=True, slots=True)
class Url:
    """A parsed WHATWG URL (``file:`` excepted); ``path`` is a tuple of segments, or a ``str`` when opaque."""

    scheme: str
    username: str
    password: str
    host: str | None
    port: int | None
    path: tuple[str, ...] | str
    query: str | None
    fragment: str | None

    @property
    def special(self) -> bool:
        """True for http(s), ws(s) and ftp, whose URLs have hosts, default ports and an origin."""
        return self.scheme in SPECIAL_PORTS

    @property
    def href(self) -> str:
        """The URL serializer's output (JS ``url.href`` / ``toString()``)."""
        out = self.scheme + ":"
        if self.host is not None:
            out += "//"
            if self.username or self.password:
                out += self.username + (":" + self.password if self.password else "") + "@"
            out += self.host + (f":{self.port}" if self.port is not None else "")
        if isinstance(self.path, str):
            out += self.path
        else:
            if self.host is None and len(self.path) > 1 and self.path[0] == "":
                out += "/."
            out += "".join("/" + segment for segment in self.path)
        if self.query is not None:
            out += "?" + self.query
        if self.fragment is not None:
            out += "#" + self.fragment
        return out

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` for special schemes; ``"null"`` (an opaque origin) otherwise."""
        if not self.special or self.host is None:
            return "null"
        return f"{self.scheme}://{self.host}" + (f":{self.port}" if self.port is not None else "")

    @property
    def hostname(self) -> str:
        """The host without the port."""
        return self.host or ""

    @property
    def pathname(self) -> str:
        """The serialized path."""
        return self.path if isinstance(self.path, str) else "".join("/" + segment for segment in self.path)

    @property
    def search(self) -> str:
        """``?query``, or ``""`` when the query is empty or absent."""
        return "?" + self.query if self.query else ""

    def params(self) -> list[tuple[str, str]]:
        """``url.searchParams`` as a list of pairs."""
        return parse_form(self.query) if self.query else []

    def with_params(self, params: Iterable[tuple[str, str]]) -> Url:
        """The URL after a ``searchParams`` mutation: the query re-serialized, dropped when it ends up empty."""
        serialized = "&".join(f"{form_encode(name)}={form_encode(value)}" for name, value in params)
        return replace(self, query=serialized or None)

    def without_params(self, *names: str) -> Url:
        """``searchParams.delete(name)`` for each of ``names`` (the query is re-serialized even if none was there)."""
        return self.with_params((name, value) for name, value in self.params() if name not in names)

    def appending(self, name: str, value: str) -> Url:
        """``searchParams.append(name, value)``."""
        return self.with_params([*self.params(), (name, value)])

    def setting(self, name: str, value: str) -> Url:
        """``searchParams.set(name, value)``: the first ``name`` takes the value, later ones go, else appended."""
        out: list[tuple[str, str]] = []
        found = False
        for key, old in self.params():
            if key != name:
                out.append((key, old))
            elif not found:
                out.append((key, value))
                found = True
        return self.with_params(out if found else [*out, (name, value)])


def _after_slashes(scheme: str, rest: str, *, special: bool) -> Url | None:
    """Authority, path, query and fragment after the ``//`` (for a special URL: after every leading slash of
    either kind); the authority ends at the first ``/``, ``?`` or ``#`` (and ``\\`` when special)."""
    delimiters = "/\\?#" if special else "/?#"
    end = min((found for found in map(rest.find, delimiters) if found >= 0), default=len(rest))
    return _with_authority(scheme, rest[:end], rest[end:], special=special)


def _with_authority(scheme: str, authority: str, tail: str, *, special: bool) -> Url | None:
    userinfo, at_sign, hostport = authority.rpartition("@")
    username, _, password = userinfo.partition(":")
    if at_sign and not hostport:
        return None
    inside, colon = False, -1
    for index, char in enumerate(hostport):
        if char == "[":
            inside = True
        elif char == "]":
            inside = False
        elif char == ":" and not inside:
            colon = index
            break
    host_text, port_text = (hostport[:colon], hostport[colon + 1 :]) if colon >= 0 else (hostport, "")
    if special and not host_text:
        return None
    if port_text and not (port_text.isascii() and port_text.isdigit()):
        return None
    port = int(port_text) if port_text else None
    if port is not None and port > 65535:
        return None
    if port is not None and SPECIAL_PORTS.get(scheme) == port:
        port = None
    host = parse_host(host_text, special=special) if host_text or special else ""
    if host is None:
        return None
    path_text, query, fragment = _split_tail(tail, special=special)
    if special:
        path = _parse_path(path_text[1:] if path_text else "", [], special=True)
    else:
        path = _parse_path(path_text[1:], [], special=False) if path_text else ()
    return Url(
        scheme,
        _USERINFO_SET.sub(percent_encode, username),
        _USERINFO_SET.sub(percent_encode, password),
        host,
        port,
        path,
        query,
        fragment,
    )


def _relative(text: str, base: Url) -> Url | None:
    special = base.special
    separators = "/\\" if special else "/"
    if text[:1] and text[0] in separators:
        if len(text) > 1 and text[1] in separators:
            if special:
                return _after_slashes(base.scheme, text.lstrip("/\\"), special=True)
            return _after_slashes(base.scheme, text[2:], special=False)
        path_text, query, fragment = _split_tail(text, special=special)
        return replace(base, path=_parse_path(path_text[1:], [], special=special), query=query, fragment=fragment)
    if text.startswith("?"):
        _, query, fragment = _split_tail(text, special=special)
        return replace(base, query=query, fragment=fragment)
    if text.startswith("#"):
        return replace(base, fragment=_split_tail(text, special=special)[2])
    if not text:
        return replace(base, fragment=None)
    path_text, query, fragment = _split_tail(text, special=special)
    segments = list(base.path[:-1]) if isinstance(base.path, tuple) else []
    return replace(base, path=_parse_path(path_text, segments, special=special), query=query, fragment=fragment)


def _parse_canonical(text: str) -> Url | None:
    """The common case, quickly: an http(s) URL the WHATWG parser would not change (a lowercase host that is
    not an IDN, or a dotted-decimal IPv4 address; no default port, no dot segment, nothing to percent-encode).
    ``None`` otherwise."""
    match = _CANONICAL.fullmatch(text)
    if match is None:
        return None
    scheme, host, port_text, path_text, query = match.groups()
    port = int(port_text) if port_text else None
    if port is not None and (port > 65535 or port == SPECIAL_PORTS[scheme]):
        return None
    segments = tuple(path_text[1:].split("/")) if path_text else ("",)
    if any(segment.lower() in _SINGLE_DOT or segment.lower() in _DOUBLE_DOT for segment in segments):
        return None
    return Url(scheme, "", "", host, port, segments, query, None)


def parse_url(text: str, base: Url | None = None) -> Url | None:
    """JS ``new URL(text, base)``; ``None`` where JS throws. ``file:`` URLs are not supported (``None``)."""
    canonical = _parse_canonical(text)
    return canonical if canonical is not None else _parse_any(text, base)


def _parse_any(text: str, base: Url | None) -> Url | None:
    """The WHATWG state machine, for every URL the fast path declines."""
    text = _TAB_OR_NEWLINE.sub("", well_formed(text).strip(_C0_OR_SPACE))
    match = _SCHEME.match(text)
    if match is None:
        if base is None or isinstance(base.path, str):
            return None
        return _relative(text, base)
    scheme, rest = match.group()[:-1].lower(), text[match.end() :]
    if scheme == "file":
        return None
    if scheme in SPECIAL_PORTS:
        if base is not None and base.scheme == scheme and not rest.startswith("//"):
            return _relative(rest, base)
        return _after_slashes(scheme, rest.lstrip("/\\"), special=True)
    if rest.startswith("//"):
        return _after_slashes(scheme, rest[2:], special=False)
    path_text, query, fragment = _split_tail(rest, special=False)
    if path_text.startswith("/"):
        return Url(scheme, "", "", None, None, _parse_path(path_text[1:], [], special=False), query, fragment)
    return Url(scheme, "", "", None, None, C0_CONTROL.sub(percent_encode, path_text), query, fragment)
