"""Cookies as npm ``cookie`` 1.1.1 parses them: first occurrence wins, quotes kept, percent-decoding only where
it succeeds (clerk-semantics §1.4)."""

from __future__ import annotations

import re

_ESCAPE_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


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
