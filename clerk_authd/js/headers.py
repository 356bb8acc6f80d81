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
_HTTP_WHITESPACE: Final = "\t\n\r "
T = TypeVar("T")


def combine_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Repeated headers as Node joins them (``cookie`` with ``; ``, most with ``, ``), Fetch-trimmed.

    Empty values are kept here: ``x-forwarded-host: ""`` means "present but empty" to the URL rules.
    """
    combined: dict[str, str] = {}
    joined = False
    for raw_name, raw_value in pairs:
        name = raw_name.strip(_HTTP_WHITESPACE).lower()
        value = raw_value.strip(_HTTP_WHITESPACE)
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
