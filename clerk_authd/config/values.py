"""How each kind of configuration value is read: one parser per kind, each raising ``ValueError`` with the
reason, and ``Reader``, which collects every problem instead of stopping at the first."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Literal, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


class Reader:
    """Reads raw values and remembers every problem instead of stopping at the first."""

    def __init__(self, source: Mapping[str, str]) -> None:
        self.source = source
        self.problems: list[str] = []

    def text(self, name: str, default: str = "") -> str:
        return self.source.get(name, default).strip() or default

    def typed(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        raw = self.source.get(name, "").strip()
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            self.problems.append(f"{name}={raw!r}: {exc}")
            return default

    def problem(self, name: str, why: str) -> None:
        self.problems.append(f"{name}: {why}")


def comma_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def clerk_truthy(raw: str) -> bool:
    """Clerk's ``isTruthy`` for ``CLERK_IS_SATELLITE``: ``true`` in any case, or an integer above 0."""
    if raw.lower() == "true":
        return True
    try:
        return int(raw) > 0
    except ValueError:
        return False


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ValueError(f"must be {bound}")
        return value

    return parse


def seconds(minimum: float, *, allow_equal: bool, unit: str = "seconds") -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(raw)
        if not math.isfinite(value) or value < minimum or (value == minimum and not allow_equal):
            relation = "at least" if allow_equal else "more than"
            raise ValueError(f"must be a finite number of {unit} {relation} {minimum:g}")
        return value

    return parse


def log_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("expected debug, info, warning, error or critical")
    return level


def log_format(raw: str) -> Literal["json", "text"]:
    if raw == "json":
        return "json"
    if raw == "text":
        return "text"
    raise ValueError("expected json or text")


def absolute_http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return raw.rstrip("/")
