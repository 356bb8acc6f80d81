"""Organization sync: which organization a URL path asks to be active (clerk-semantics §11).

Clerk matches ``organizationSyncOptions`` patterns with path-to-regexp **v6**. This module ports the part
of v6 Clerk relies on (lexer, parser, ``tokensToRegexp`` with ``end``, non-strict, case-insensitive,
delimiter ``/#?``, prefixes ``./``), so a pattern matches here exactly when it matches in Clerk, and a
pattern v6 rejects is rejected at start-up.

The compiled expression runs on RE2, not ``re``: a backtracking engine spends time polynomial in the path
length on patterns with two parameters in one segment (``/o/:id-:rest``: ~200 ms for a 6.4 KB path, and any
anonymous page load can send one), RE2 linear time. RE2 keeps the leftmost-first, lazy-quantifier submatch
rules of JavaScript's engine; it lacks lookaround and backreferences, so a custom parameter pattern that uses
them is refused at start-up (it cannot be matched in bounded time).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import re2

_DELIMITER = "/#?"
_PREFIXES = "./"
_ESCAPE = re.compile(r"([.+*?=^!:${}()\[\]|/\\])")
_DEFAULT_PATTERN = "[^" + _ESCAPE.sub(r"\\\1", _DELIMITER) + "]+?"
_NAME_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


class PatternError(ValueError):
    """A pattern path-to-regexp v6 would refuse to compile."""


@dataclass(frozen=True, slots=True)
class _Lexeme:
    kind: str  # MODIFIER ESCAPED_CHAR OPEN CLOSE NAME PATTERN CHAR END
    index: int
    value: str


@dataclass(frozen=True, slots=True)
class _Param:
    name: str | int
    prefix: str
    suffix: str
    pattern: str
    modifier: str


def _escape(text: str) -> str:
    return _ESCAPE.sub(r"\\\1", text)


def _lex(text: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in "*+?":
            out.append(_Lexeme("MODIFIER", i, char))
            i += 1
        elif char == "\\":
            out.append(_Lexeme("ESCAPED_CHAR", i, text[i + 1 : i + 2]))
            i += 2
        elif char in "{}":
            out.append(_Lexeme("OPEN" if char == "{" else "CLOSE", i, char))
            i += 1
        elif char == ":":
            j = i + 1
            while j < len(text) and text[j] in _NAME_CHARS:
                j += 1
            if j == i + 1:
                raise PatternError(f"Missing parameter name at {i}")
            out.append(_Lexeme("NAME", i, text[i + 1 : j]))
            i = j
        elif char == "(":
            i = _lex_group(text, i, out)
        else:
            out.append(_Lexeme("CHAR", i, char))
            i += 1
    out.append(_Lexeme("END", i, ""))
    return out


def _lex_group(text: str, start: int, out: list[_Lexeme]) -> int:
    count, j, pattern = 1, start + 1, ""
    if text[j : j + 1] == "?":
        raise PatternError(f'Pattern cannot start with "?" at {j}')
    while j < len(text):
        if text[j] == "\\":
            pattern += text[j : j + 2]
            j += 2
            continue
        if text[j] == ")":
            count -= 1
            if count == 0:
                j += 1
                break
        elif text[j] == "(":
            count += 1
            if text[j + 1 : j + 2] != "?":
                raise PatternError(f"Capturing groups are not allowed at {j}")
        pattern += text[j]
        j += 1
    if count:
        raise PatternError(f"Unbalanced pattern at {start}")
    if not pattern:
        raise PatternError(f"Missing pattern at {start}")
    out.append(_Lexeme("PATTERN", start, pattern))
    return j


class _Parser:
    def __init__(self, text: str) -> None:
        self.lexemes = _lex(text)
        self.pos = 0
        self.key = 0

    def _try(self, kind: str) -> str | None:
        lexeme = self.lexemes[self.pos]
        if lexeme.kind == kind:
            self.pos += 1
            return lexeme.value
        return None

    def _must(self, kind: str) -> str:
        value = self._try(kind)
        if value is None:
            lexeme = self.lexemes[self.pos]
            raise PatternError(f"Unexpected {lexeme.kind} at {lexeme.index}, expected {kind}")
        return value

    def _text(self) -> str:
        out = ""
        while (value := self._try("CHAR")) is not None or (value := self._try("ESCAPED_CHAR")) is not None:
            out += value
        return out

    def _next_key(self) -> int:
        self.key += 1
        return self.key - 1

    def parse(self) -> list[str | _Param]:
        result: list[str | _Param] = []
        path = ""
        while self.pos < len(self.lexemes):
            char = self._try("CHAR")
            name = self._try("NAME")
            pattern = self._try("PATTERN")
            if name is not None or pattern is not None:
                prefix = char or ""
                if prefix not in _PREFIXES or not prefix:
                    path += prefix
                    prefix = ""
                if path:
                    result.append(path)
                    path = ""
                key: str | int = name if name else self._next_key()
                result.append(_Param(key, prefix, "", pattern or _DEFAULT_PATTERN, self._try("MODIFIER") or ""))
                continue
            value = char if char is not None else self._try("ESCAPED_CHAR")
            if value is not None:
                path += value
                continue
            if path:
                result.append(path)
                path = ""
            if self._try("OPEN") is not None:
                prefix = self._text()
                group_name = self._try("NAME") or ""
                group_pattern = self._try("PATTERN") or ""
                suffix = self._text()
                self._must("CLOSE")
                group_key: str | int = group_name or (self._next_key() if group_pattern else "")
                result.append(
                    _Param(
                        group_key,
                        prefix,
                        suffix,
                        _DEFAULT_PATTERN if group_name and not group_pattern else group_pattern,
                        self._try("MODIFIER") or "",
                    )
                )
                continue
            self._must("END")
        return result


def _to_regex_source(tokens: list[str | _Param], keys: list[str | int]) -> str:
    route = "^"
    for token in tokens:
        if isinstance(token, str):
            route += _escape(token)
            continue
        prefix, suffix = _escape(token.prefix), _escape(token.suffix)
        if not token.pattern:
            route += f"(?:{prefix}{suffix}){token.modifier}"
            continue
        keys.append(token.name)
        if prefix or suffix:
            if token.modifier in ("+", "*"):
                mod = "?" if token.modifier == "*" else ""
                route += f"(?:{prefix}((?:{token.pattern})(?:{suffix}{prefix}(?:{token.pattern}))*){suffix}){mod}"
            else:
                route += f"(?:{prefix}({token.pattern}){suffix}){token.modifier}"
        else:
            if token.modifier in ("+", "*"):
                raise PatternError(f'Can not repeat "{token.name}" without a prefix and suffix')
            route += f"({token.pattern}){token.modifier}"
    return route + f"[{_escape(_DELIMITER)}]?$"


class PathMatcher:
    """path-to-regexp v6 ``match(patterns)``: all patterns as one case-insensitive alternation."""

    __slots__ = ("_keys", "_regex")

    def __init__(self, patterns: Sequence[str]) -> None:
        self._keys: list[str | int] = []
        try:
            sources = [_to_regex_source(_Parser(p).parse(), self._keys) for p in patterns]
            self._regex = re2.compile("(?i)(?:" + "|".join(sources) + ")")
        except (PatternError, re2.error) as exc:
            detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            raise PatternError(f'Invalid pattern "{",".join(patterns)}": {detail}') from exc

    def match(self, path: str) -> dict[str | int, str] | None:
        """The named and numbered parameters of the first matching pattern, or ``None``."""
        found = self._regex.match(path)
        if found is None:
            return None
        return {key: value for key, value in zip(self._keys, found.groups(), strict=True) if value is not None}


@dataclass(frozen=True, slots=True)
class OrgTarget:
    """What the URL asks for: an organization by id or slug, or the personal account."""

    kind: Literal["organization", "personal_account"]
    organization_id: str | None = None
    organization_slug: str | None = None

    @property
    def query_value(self) -> str:
        """The ``organization_id`` handshake parameter: the id, else the slug, else ``""``."""
        return self.organization_id or self.organization_slug or ""


class OrganizationMatcher:
    """Clerk's ``OrganizationMatcher``: organization patterns first, then personal-account patterns."""

    __slots__ = ("_org", "_personal")

    def __init__(self, org_patterns: Sequence[str] = (), personal_account_patterns: Sequence[str] = ()) -> None:
        self._org = PathMatcher(org_patterns) if org_patterns else None
        self._personal = PathMatcher(personal_account_patterns) if personal_account_patterns else None

    def find_target(self, path: str) -> OrgTarget | None:
        """The target for ``path`` (a URL's pathname, not decoded), or ``None`` when nothing matches."""
        if self._org is not None:
            params = self._org.match(path)
            if params is not None:
                if "id" in params:
                    return OrgTarget("organization", organization_id=params["id"])
                if "slug" in params:
                    return OrgTarget("organization", organization_slug=params["slug"])
        if self._personal is not None and self._personal.match(path) is not None:
            return OrgTarget("personal_account")
        return None
