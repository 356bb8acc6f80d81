"""WHATWG hosts: domains through IDNA (UTS 46, non-transitional), IPv4 with its shorthands, IPv6 compressed, as Node's
URL parser serializes them.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Final
from urllib.parse import unquote_to_bytes

from clerk_authd.js.percent import C0_CONTROL, percent_encode

_FORBIDDEN_HOST: Final = frozenset("\x00\t\n\r #/:<>?@[\\]^|")
_FORBIDDEN_DOMAIN: Final = _FORBIDDEN_HOST | frozenset(chr(code) for code in range(0x20)) | {"%", "\x7f"}
_IDEOGRAPHIC_STOPS = re.compile("[\u3002\uff0e\uff61]")
#: Unicode categories UTS #46 disallows in a domain (controls, separators, unassigned, private use)
_DISALLOWED: Final = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp", "Zs"})
LABEL: Final = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
DOMAIN: Final = rf"(?:(?!xn--){LABEL}\.)*(?!xn--)[a-z](?:[a-z0-9-]*[a-z0-9])?"
#: 0 to 255 in decimal, without a leading zero (which the IPv4 parser would read as octal)
OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"


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


def _ipv4_parts(host: str) -> list[str]:
    """The dot-separated parts of a host, one trailing empty part (``a.b.``) dropped."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    return parts


def _ends_in_number(host: str) -> bool:
    last = _ipv4_parts(host)[-1]
    return bool(last) and ((last.isascii() and last.isdigit()) or _ipv4_number(last) is not None)


def _parse_ipv4(host: str) -> str | None:
    numbers = [_ipv4_number(part) if part else None for part in _ipv4_parts(host)]
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


def parse_host(text: str, *, special: bool) -> str | None:
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
        return C0_CONTROL.sub(percent_encode, text)
    domain = unquote_to_bytes(text).decode("utf-8", "replace") if "%" in text else text
    ascii_domain = _domain_to_ascii(domain)
    if ascii_domain is None or any(char in _FORBIDDEN_DOMAIN for char in ascii_domain):
        return None
    if _ends_in_number(ascii_domain):
        return _parse_ipv4(ascii_domain)
    return ascii_domain
