"""WHATWG percent-encoding: the C0 control set every other encode set extends, and UTF-8 escapes."""

from __future__ import annotations

import re
from typing import Final

C0_CONTROL_SET: Final = "\\x00-\\x1f\\x7f-\\U0010ffff"
C0_CONTROL = re.compile(f"[{C0_CONTROL_SET}]")


def percent_encode(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8"))


def well_formed(text: str) -> str:
    """JS's ``toWellFormed``: lone surrogates (possible in a Python ``str``) become U+FFFD."""
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
