"""application/x-www-form-urlencoded: how URLSearchParams parses and serializes a query."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from clerk_authd.js.percent import percent_encode, well_formed

_FORM_UNSAFE = re.compile(r"[^A-Za-z0-9*\-._ ]")


def form_encode(text: str) -> str:
    """``application/x-www-form-urlencoded`` byte serializing, as ``URLSearchParams.toString`` does."""
    return _FORM_UNSAFE.sub(percent_encode, well_formed(text)).replace(" ", "+")


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
