"""How FakeClerk's lists answer: filters on repeated query parameters, Clerk's ``order_by``, limit/offset pages.

Defaults are Clerk's: ``order_by=-created_at``, ``limit=10``, ``offset=0``; a ``limit`` or ``offset`` that is not
a non-negative integer is a 400, as Clerk's validation answers it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from multidict import MultiMapping

from clerk_authd.testing.fake_clerk.store import JSON, StoreError

Query = MultiMapping[str]


def _int(query: Query, name: str, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise StoreError(400, "form_param_format_invalid", f"{name} must be a non-negative integer", param=name)
    return int(text)


def listed(items: Iterable[JSON], query: Query, *, bare: bool = False) -> Any:
    """Order by ``order_by`` (ties by creation), then one page of ``limit`` from ``offset``."""
    order = query.get("order_by", "-created_at")
    field = order.lstrip("+-")
    ranked = sorted(enumerate(items), key=lambda pair: (pair[1].get(field) is None, pair[1].get(field) or 0, pair[0]))
    ordered = [item for _, item in (reversed(ranked) if order.startswith("-") else ranked)]
    offset, limit = _int(query, "offset", 0), _int(query, "limit", 10)
    data = ordered[offset : offset + limit]
    return data if bare else {"data": data, "total_count": len(ordered)}


def matches(query: Query, name: str, values: Iterable[Any]) -> bool:
    """No ``name`` filter, or one of its values among ``values``."""
    wanted = query.getall(name, [])
    return not wanted or any(value in wanted for value in values)


def contains(query: Query, texts: Iterable[Any]) -> bool:
    needle = query.get("query", "").lower()
    return not needle or any(needle in str(text).lower() for text in texts if text)
