"""Request headers as Node's IncomingMessage and Fetch hand them to Clerk: repeated ones joined, values trimmed, an
empty value absent (clerk-semantics §1.2).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Final, TypeVar, overload

#: Headers Node keeps only the first of when repeated (``IncomingMessage`` ``matchKnownFields``).
_FIRST_WINS: Final = frozenset(
    {
        "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host",
        "if-modified-since", "if-unmodified-since", "last-modified", "location", "max-forwards",
        "proxy-authorization", "referer", "retry-after", "server", "user-agent",
    }
)  # fmt: skip
#: what Node trims around header names and values (HTTP's optional whitespace)
HTTP_WHITESPACE: Final = "\t\n\r "
T = TypeVar("T")


def combine_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Repeated headers as Node joins them (``cookie`` with ``; ``, most with ``, ``), Fetch-trimmed.

    Empty values are kept here: ``x-forwarded-host: ""`` means "present but empty" to the URL rules.
    """
    combined: dict[str, str] = {}
    joined = False
    for raw_name, raw_value in pairs:
        name = raw_name.strip(HTTP_WHITESPACE).lower()
        value = raw_value.strip(HTTP_WHITESPACE)
        if name not in combined:
            combined[name] = value
        elif name == "cookie":
            combined[name] += "; " + value
            joined = True
        elif name not in _FIRST_WINS:
            combined[name] += ", " + value
            joined = True
    if not joined:  # every value is trimmed already; only a join with an empty value can leave an edge
        return combined
    return {name: value.strip(HTTP_WHITESPACE) for name, value in combined.items()}


class Headers(Mapping[str, str]):
    """Request headers by case-insensitive name; a header with an empty value is absent (Clerk's ``getHeader``)."""

    __slots__ = ("_values",)

    def __init__(self, combined: Mapping[str, str]) -> None:
        """``combined`` is ``combine_headers``' answer, whose names are lowercase already."""
        self._values = {name: value for name, value in combined.items() if value}

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, /, default: str | T) -> str | T: ...
    def get(self, name: str, /, default: object = None) -> object:
        """The value of ``name`` (any case), else ``default``: one dict lookup, read on every request."""
        return self._values.get(name.lower(), default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({sorted(self._values)})"  # names only: values carry tokens


def node_wire(value: str) -> str:
    """``value`` held so that a UTF-8 ``surrogateescape`` writer (Sanic) puts Node's bytes on the wire: Latin-1.

    Node writes a header string as Latin-1 (``é`` goes out as ``0xE9``), and every header Clerk sets is a ByteString
    (``Headers`` refuses a character beyond U+00FF). Sanic encodes header values as UTF-8 with ``surrogateescape``,
    under which the lone surrogate U+DC80+b is written as the single byte b (PEP 383); so each character
    U+0080-U+00FF is held as that surrogate. ASCII passes unchanged (the hot path); a value with a character beyond
    U+00FF, which Node cannot write at all, is left to UTF-8.
    """
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value
