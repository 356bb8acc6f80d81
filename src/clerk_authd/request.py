"""A framework-free view of one HTTP request, read the way Clerk's SDK reads it (clerk-semantics §1).

Clerk runs on Node and the Fetch API, so every fact it takes from a request passes through WHATWG and npm
semantics that Python's standard library does not share. This module reproduces the parts that decide
outcomes, and never raises on hostile input, falling back where Clerk falls back:

- the URL (``clerkUrl``): a WHATWG URL parser and serializer for the URLs a request can carry, rebuilt from
  ``x-forwarded-host`` / ``x-forwarded-proto`` as ``deriveUrlFromHeaders`` does (§1.1), and, for the proxy
  endpoints, from ``X-Original-URL`` and friends (api.md §2);
- headers as Node combines repeated ones and Fetch trims them; an empty value counts as absent (§1.2);
- cookies as npm ``cookie`` 1.1.1 parses them: first occurrence wins, quotes kept, percent-decoding only
  when it succeeds (§1.4);
- the query as ``URLSearchParams`` parses it, and JS's ``parseInt`` / ``Number`` for the numeric cookies;
- the token carriers (§1.3, §1.5, §1.6): the ``Authorization`` token, the suffixed-or-not cookie choice, the
  dev-browser token, the handshake token and nonce, and the redirect counter.
"""

from __future__ import annotations

import ipaddress
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final
from urllib.parse import unquote_to_bytes

import orjson

from clerk_authd.claims import JS_WHITESPACE, js_truthy
from clerk_authd.compact import MAX_TOKEN_LENGTH, b64url_decode
from clerk_authd.instance import Instance, strip_scheme
from clerk_authd.tokens import js_json

# --- WHATWG URL ------------------------------------------------------------------------------------------

SPECIAL_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
_C0_OR_SPACE: Final = "".join(chr(code) for code in range(0x21))
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_C0_CONTROL_SET: Final = "\\x00-\\x1f\\x7f-\\U0010ffff"
_C0_CONTROL = re.compile(f"[{_C0_CONTROL_SET}]")
_FRAGMENT_SET = re.compile(f'[{_C0_CONTROL_SET} "<>`]')
_QUERY_SET = re.compile(f'[{_C0_CONTROL_SET} "#<>]')
_SPECIAL_QUERY_SET = re.compile(f"[{_C0_CONTROL_SET} \"#<>']")
_PATH_SET = re.compile(f'[{_C0_CONTROL_SET} "#<>?`{{}}]')
_USERINFO_SET = re.compile(f'[{_C0_CONTROL_SET} "#<>?`{{}}/:;=@\\[\\\\\\]^|]')
_FORM_UNSAFE = re.compile(r"[^A-Za-z0-9*\-._ ]")
_FORBIDDEN_HOST: Final = frozenset("\x00\t\n\r #/:<>?@[\\]^|")
_FORBIDDEN_DOMAIN: Final = _FORBIDDEN_HOST | frozenset(chr(code) for code in range(0x20)) | {"%", "\x7f"}
_IDEOGRAPHIC_STOPS = re.compile("[\u3002\uff0e\uff61]")
#: Unicode categories UTS #46 disallows in a domain (controls, separators, unassigned, private use)
_DISALLOWED: Final = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp", "Zs"})
_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
#: URLs the WHATWG parser leaves as they are (see ``_parse_canonical``); the last label starts with a letter,
#: so the host cannot end in a number (an IPv4 address), and ``xn--`` labels are excluded by the caller's slow path
_CANONICAL = re.compile(
    rf"(https?)://((?:(?!xn--){_LABEL}\.)*(?!xn--)[a-z](?:[a-z0-9-]*[a-z0-9])?)(?::([1-9][0-9]{{0,4}}))?"
    r"((?:/[A-Za-z0-9\-._~!$&'()*+,;=:@%]*)*)(?:\?([A-Za-z0-9\-._~!$&()*+,;=:@%/?]*))?"
)
_SINGLE_DOT: Final = frozenset({".", "%2e"})
_DOUBLE_DOT: Final = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})


def _percent_encode(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8"))


def well_formed(text: str) -> str:
    """JS's ``toWellFormed``: lone surrogates (possible in a Python ``str``) become U+FFFD."""
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def form_encode(text: str) -> str:
    """``application/x-www-form-urlencoded`` byte serializing, as ``URLSearchParams.toString`` does."""
    return _FORM_UNSAFE.sub(_percent_encode, well_formed(text)).replace(" ", "+")


def _form_decode(text: str) -> str:
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    return unquote_to_bytes(text).decode("utf-8", "replace")


def parse_form(query: str) -> list[tuple[str, str]]:
    """``URLSearchParams`` parsing: ``&``-separated pairs, first ``=``, ``+`` as space, lenient percent-decoding."""
    pairs: list[tuple[str, str]] = []
    for piece in query.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            pairs.append((_form_decode(name), _form_decode(value)))
    return pairs


def _ipv4_number(text: str) -> int | None:
    radix = 10
    if text[:2] in ("0x", "0X"):
        text, radix = text[2:], 16
    elif len(text) > 1 and text[0] == "0":
        text, radix = text[1:], 8
    if not text:
        return 0
    digits = {10: "0123456789", 16: "0123456789abcdefABCDEF", 8: "01234567"}[radix]
    if not all(char in digits for char in text):
        return None
    return int(text, radix)


def _ends_in_number(host: str) -> bool:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    last = parts[-1]
    return bool(last) and ((last.isascii() and last.isdigit()) or _ipv4_number(last) is not None)


def _parse_ipv4(host: str) -> str | None:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    numbers = [_ipv4_number(part) if part else None for part in parts]
    if len(numbers) > 4 or any(number is None for number in numbers):
        return None
    values = [number for number in numbers if number is not None]
    if any(value > 255 for value in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    address = values[-1] + sum(value * 256 ** (3 - index) for index, value in enumerate(values[:-1]))
    return ".".join(str((address >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def _serialize_ipv6(address: int) -> str:
    pieces = [(address >> (112 - 16 * index)) & 0xFFFF for index in range(8)]
    best_start, best_length, start = -1, 1, -1
    for index in range(9):
        if index < 8 and pieces[index] == 0:
            start = index if start < 0 else start
        elif start >= 0:
            if index - start > best_length:
                best_start, best_length = start, index - start
            start = -1
    if best_start < 0:
        return ":".join(f"{piece:x}" for piece in pieces)
    head = ":".join(f"{piece:x}" for piece in pieces[:best_start])
    tail = ":".join(f"{piece:x}" for piece in pieces[best_start + best_length :])
    return f"{head}::{tail}"


def _domain_to_ascii(domain: str) -> str | None:
    """UTS #46 ToASCII as WHATWG uses it, approximated per label: NFKC-lowercased, Punycode when not ASCII."""
    labels: list[str] = []
    for label in _IDEOGRAPHIC_STOPS.sub(".", domain).split("."):
        mapped = label.lower() if label.isascii() else unicodedata.normalize("NFKC", label).lower()
        if not mapped.isascii():
            if any(char == "\ufffd" or unicodedata.category(char) in _DISALLOWED for char in mapped):
                return None
            mapped = "xn--" + mapped.encode("punycode").decode("ascii")
        elif mapped.startswith("xn--"):
            try:
                if not mapped[4:].encode("ascii").decode("punycode"):
                    return None
            except UnicodeError:
                return None
        labels.append(mapped)
    ascii_domain = ".".join(labels)
    return ascii_domain or None


def _parse_host(text: str, *, special: bool) -> str | None:
    """WHATWG host parsing; ``None`` is failure."""
    if text.startswith("["):
        if not text.endswith("]") or "%" in text:
            return None
        try:
            return f"[{_serialize_ipv6(int(ipaddress.IPv6Address(text[1:-1])))}]"
        except ValueError:
            return None
    if not special:
        if any(char in _FORBIDDEN_HOST for char in text):
            return None
        return _C0_CONTROL.sub(_percent_encode, text)
    domain = unquote_to_bytes(text).decode("utf-8", "replace") if "%" in text else text
    ascii_domain = _domain_to_ascii(domain)
    if ascii_domain is None or any(char in _FORBIDDEN_DOMAIN for char in ascii_domain):
        return None
    if _ends_in_number(ascii_domain):
        return _parse_ipv4(ascii_domain)
    return ascii_domain


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
            segments.append(_PATH_SET.sub(_percent_encode, piece))
    return tuple(segments)


def _split_tail(text: str, *, special: bool) -> tuple[str, str | None, str | None]:
    """``path?query#fragment`` → the raw path and the encoded query and fragment."""
    text, hash_sign, fragment = text.partition("#")
    path, question, query = text.partition("?")
    query_set = _SPECIAL_QUERY_SET if special else _QUERY_SET
    return (
        path,
        query_set.sub(_percent_encode, query) if question else None,
        _FRAGMENT_SET.sub(_percent_encode, fragment) if hash_sign else None,
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


def _after_special_scheme(scheme: str, rest: str) -> Url | None:
    """Authority, path, query and fragment of a special URL; leading slashes (either kind) already skipped."""
    end = len(rest)
    for delimiter in "/\\?#":
        found = rest.find(delimiter)
        if 0 <= found < end:
            end = found
    return _with_authority(scheme, rest[:end], rest[end:], special=True)


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
    host = _parse_host(host_text, special=special) if host_text or special else ""
    if host is None:
        return None
    path_text, query, fragment = _split_tail(tail, special=special)
    if special:
        path = _parse_path(path_text[1:] if path_text else "", [], special=True)
    else:
        path = _parse_path(path_text[1:], [], special=False) if path_text else ()
    return Url(
        scheme,
        _USERINFO_SET.sub(_percent_encode, username),
        _USERINFO_SET.sub(_percent_encode, password),
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
                return _after_special_scheme(base.scheme, text.lstrip("/\\"))
            rest = text[2:]
            end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
            return _with_authority(base.scheme, rest[:end], rest[end:], special=False)
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
    """The common case, quickly: an http(s) URL the WHATWG parser would not change (lowercase host that is not
    an IP address or IDN, no default port, no dot segment, nothing to percent-encode). ``None`` otherwise."""
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
    if canonical is not None:
        return canonical
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
        return _after_special_scheme(scheme, rest.lstrip("/\\"))
    if rest.startswith("//"):
        rest = rest[2:]
        end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
        return _with_authority(scheme, rest[:end], rest[end:], special=False)
    path_text, query, fragment = _split_tail(rest, special=False)
    if path_text.startswith("/"):
        return Url(scheme, "", "", None, None, _parse_path(path_text[1:], [], special=False), query, fragment)
    return Url(scheme, "", "", None, None, _C0_CONTROL.sub(_percent_encode, path_text), query, fragment)


# --- JavaScript number coercions -----------------------------------------------------------------------

_JS_DECIMAL = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_JS_RADIX = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}
_RADIX_DIGITS = {16: re.compile(r"[0-9a-fA-F]+"), 8: re.compile(r"[0-7]+"), 2: re.compile(r"[01]+")}


def js_number(text: str) -> float:
    """JS ``Number(string)``: whitespace-trimmed decimal (or 0x/0o/0b) literal, ``""`` is 0, else NaN."""
    text = text.strip(JS_WHITESPACE)
    if not text:
        return 0.0
    if _JS_DECIMAL.fullmatch(text):
        return float(text.replace("Infinity", "inf"))
    radix = _JS_RADIX.get(text[:2])
    if radix is not None and _RADIX_DIGITS[radix].fullmatch(text[2:]):
        return float(int(text[2:], radix))
    return math.nan


def js_parse_int(text: str) -> float:
    """JS ``parseInt(string)``: leading whitespace, a sign, ``0x`` for hex, then as many digits as there are."""
    text = text.lstrip(JS_WHITESPACE)
    sign = -1.0 if text.startswith("-") else 1.0
    text = text[1:] if text[:1] in ("-", "+") else text
    radix = 10
    if text[:2] in ("0x", "0X"):
        text, radix = text[2:], 16
    digits = re.match(r"[0-9a-fA-F]*" if radix == 16 else r"[0-9]*", text)
    found = digits.group() if digits else ""
    if not found:
        return math.nan
    try:
        return sign * (float(found) if radix == 10 else float(int(found, 16)))
    except OverflowError:
        return sign * math.inf


def js_to_number(value: object) -> float:
    """JS ``ToNumber`` of a JSON value, as ``<`` applies it to a claim (``null`` is 0, an object NaN)."""
    if value is None or isinstance(value, bool):
        return float(bool(value))
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        return js_number(value)
    if isinstance(value, list):
        if not value:
            return 0.0
        if len(value) == 1 and not isinstance(value[0], dict | list):
            return js_number("" if value[0] is None else str(value[0]))
    return math.nan


def js_number_str(value: float) -> str:
    """JS ``String(number)``: ``3``, ``2.5``, ``1e+21``, ``1e-7``, ``Infinity``, ``NaN``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return js_json(value)  # JSON.stringify renders a finite number exactly as String() does


# --- headers, cookies, query ---------------------------------------------------------------------------

#: Headers Node keeps only the first of when repeated (``IncomingMessage`` ``matchKnownFields``).
_FIRST_WINS: Final = frozenset(
    {
        "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host",
        "if-modified-since", "if-unmodified-since", "last-modified", "location", "max-forwards",
        "proxy-authorization", "referer", "retry-after", "server", "user-agent",
    }
)  # fmt: skip
_HTTP_WHITESPACE: Final = "\t\n\r "


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
    out: list[str] = []
    pending = bytearray()
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            hex_digits = text[index + 1 : index + 3]
            if len(hex_digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in hex_digits):
                return None
            pending.append(int(hex_digits, 16))
            index += 3
            continue
        if pending:
            try:
                out.append(pending.decode("utf-8"))
            except UnicodeDecodeError:
                return None
            pending.clear()
        out.append(char)
        index += 1
    if pending:
        try:
            out.append(pending.decode("utf-8"))
        except UnicodeDecodeError:
            return None
    return "".join(out)


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


# --- token carriers ------------------------------------------------------------------------------------

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


def peek_payload(token: str) -> dict[str, Any] | None:
    """A JWT's payload, decoded without any check beyond JSON (Clerk's loose ``decodeJwt``); ``None`` if it is not.

    Only a hint for choosing cookies: the token then chosen is decoded strictly and verified.
    """
    parts = token.split(".")
    if len(parts) != 3 or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        payload = orjson.loads(b64url_decode(parts[1]))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _iat(token: str) -> object:
    payload = peek_payload(token) if token else None
    iat = payload.get("iat") if payload is not None else None
    return iat if js_truthy(iat) else 0


def _js_greater(left: object, right: object) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left > right
    return js_to_number(left) > js_to_number(right)


def uses_suffixed_cookies(cookies: Mapping[str, str], instance: Instance, now: float) -> bool:
    """``usesSuffixedCookies()`` (§1.6): the rules in order, the first that fires decides."""
    suffix = instance.cookie_suffix
    session = cookies.get(SESSION_COOKIE) or ""
    suffixed_session = cookies.get(f"{SESSION_COOKIE}_{suffix}") or ""
    client_uat = cookies.get(CLIENT_UAT_COOKIE) or None
    suffixed_uat = cookies.get(f"{CLIENT_UAT_COOKIE}_{suffix}") or None
    if session:
        payload = peek_payload(session)
        issuer = payload.get("iss") if payload is not None else None
        if not js_truthy(issuer):
            return False
        if not isinstance(issuer, str) or strip_scheme(issuer) != instance.original_frontend_api:
            return True
    if not suffixed_uat and not suffixed_session:
        return False
    if suffixed_uat != "0" and client_uat != "0" and _js_greater(_iat(session), _iat(suffixed_session)):
        return False
    if suffixed_uat == "0" and client_uat != "0":
        return False
    non_production = instance.instance_type != "production"
    if non_production and suffixed_uat != "0" and client_uat == "0" and _expired(suffixed_session, now):
        return False
    return not (not suffixed_uat and suffixed_session)


def _expired(token: str, now: float) -> bool:
    payload = peek_payload(token) if token else None
    return payload is not None and js_to_number(payload.get("exp")) <= math.floor(now)


@dataclass(frozen=True, slots=True)
class Carriers:
    """Where this request's tokens are (``AuthenticateContext``'s cookie, header and handshake values).

    Computed once per request, at the request's clock; values are ``None`` when absent or empty.
    """

    token_in_header: str | None = field(default=None, repr=False)
    session_token_in_cookie: str | None = field(default=None, repr=False)
    suffixed: bool = False
    client_uat: float = 0.0
    refresh_token_in_cookie: str | None = field(default=None, repr=False)
    dev_browser_token: str | None = field(default=None, repr=False)
    handshake_token: str | None = field(default=None, repr=False)
    handshake_nonce: str | None = field(default=None, repr=False)
    redirect_count: float = 0.0

    @property
    def session_token(self) -> str | None:
        """Clerk's ``sessionToken`` getter: the cookie token, else the header token."""
        return self.session_token_in_cookie or self.token_in_header

    @classmethod
    def header_only(cls, view: RequestView) -> Carriers:
        """For ``acceptsToken`` ``m2m_token`` / ``api_key``: only the header is read (§1.6, last paragraph)."""
        return cls(token_in_header=parse_authorization(view.header("authorization")))

    @classmethod
    def read(cls, view: RequestView, instance: Instance, now: float) -> Carriers:
        """Every carrier, with the suffixed-or-not cookie choice made once at ``now`` (seconds)."""
        cookies = view.cookies
        suffixed = uses_suffixed_cookies(cookies, instance, now)
        suffix = instance.cookie_suffix

        def either(name: str) -> str | None:
            return cookies.get(f"{name}_{suffix}" if suffixed else name) or None

        client_uat = js_parse_int(either(CLIENT_UAT_COOKIE) or "")
        redirect_count = js_number(cookies.get(REDIRECT_COUNT_COOKIE) or "")
        return cls(
            token_in_header=parse_authorization(view.header("authorization")),
            session_token_in_cookie=either(SESSION_COOKIE),
            suffixed=suffixed,
            client_uat=0.0 if math.isnan(client_uat) else client_uat + 0.0,
            refresh_token_in_cookie=cookies.get(f"{REFRESH_COOKIE}_{suffix}") or None,
            dev_browser_token=view.query.get(DEV_BROWSER) or either(DEV_BROWSER),
            handshake_token=view.query.get(HANDSHAKE) or cookies.get(HANDSHAKE) or None,
            handshake_nonce=view.query.get(HANDSHAKE_NONCE) or cookies.get(HANDSHAKE_NONCE) or None,
            redirect_count=0.0 if math.isnan(redirect_count) else redirect_count + 0.0,
        )
