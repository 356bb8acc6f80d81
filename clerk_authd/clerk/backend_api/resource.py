"""Typed Backend API results: frozen dataclasses built from Clerk's JSON, and the shape of a list.

Every resource has Clerk's fields in snake_case, each with a default, and keeps the members it does not know
in ``extra``: a field Clerk adds tomorrow (or drops) never breaks a caller, and is still readable today. Nested
resources (a user's email addresses, a membership's organization) are typed too; anything else (metadata, a
verification's raw links) stays the JSON Clerk sent, with lists as tuples so a result stays frozen.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Generic, Self, TypeVar

from clerk_authd.errors import BackendAPIError


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    """The base of every typed result: ``from_json`` fills the fields and keeps the rest in ``extra``.

    ``nested`` names the fields holding other resources (one, or a list of them), per subclass.
    """

    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    nested: ClassVar[dict[str, type[Resource]]] = {}

    @classmethod
    def from_json(cls, data: object) -> Self:
        """The resource of a JSON object; anything else is a malformed answer (``BackendAPIError``)."""
        if not isinstance(data, dict):
            raise BackendAPIError(f"Clerk answered with a {cls.__name__} that is not a JSON object", status=200)
        names = _field_names(cls)
        known = {name: _convert(cls.nested.get(name), data[name]) for name in names if name in data}
        return cls(**known, extra={key: value for key, value in data.items() if key not in names})


def _field_names(cls: type[Resource]) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls) if f.name != "extra")


def _convert(resource: type[Resource] | None, value: Any) -> Any:
    if isinstance(value, list):
        return tuple(resource.from_json(item) if resource is not None else item for item in value)
    if resource is not None and isinstance(value, dict):
        return resource.from_json(value)
    return value


R = TypeVar("R", bound=Resource)


@dataclass(frozen=True, slots=True)
class PaginatedResourceResponse(Generic[R]):
    """One page of a list, as ``@clerk/backend`` returns it: the items and how many exist in all."""

    data: tuple[R, ...]
    total_count: int

    @classmethod
    def from_json(cls, resource: type[R], body: object) -> PaginatedResourceResponse[R]:
        """Clerk's ``{"data": [...], "total_count": n}``; a bare array (``GET /users``) counts itself."""
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise BackendAPIError(f"Clerk answered a list of {resource.__name__} without a data array", status=200)
        total = body.get("total_count") if isinstance(body, dict) else None
        count = total if isinstance(total, int) and not isinstance(total, bool) else len(items)
        return cls(tuple(resource.from_json(item) for item in items), count)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeletedObject(Resource):
    """What Clerk answers a deletion of a user, an organization or an identifier with."""

    object: str = ""
    id: str | None = None
    slug: str | None = None
    deleted: bool = False
