"""How JavaScript does it: the few pieces of ECMAScript semantics that decide Clerk's answers.

Clerk's SDK runs on JavaScript, and its messages and comparisons are JavaScript's: a claim is rendered with
``JSON.stringify`` (``undefined`` included), a date with ``Date.toUTCString``, a cookie is read with ``parseInt``
or ``Number``, a claim is tested for truthiness or compared with ``<`` after ``ToNumber``. The conformance table
and Clerk's debug headers compare those outputs byte for byte, and the comparisons decide which cookie wins or
when a handshake starts, so we reproduce them here, once, instead of using Python's close-but-different
equivalents (``str.strip``, ``bool``, ``json.dumps``, ``datetime``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

#: The characters JavaScript's ``String.prototype.trim`` removes (WhiteSpace + LineTerminator). Python's
#: ``str.strip()`` differs (it strips U+001C..U+001F and U+0085, and keeps U+FEFF).
JS_WHITESPACE: Final = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
#: ECMAScript's time range: a Date beyond ±8.64e15 ms is ``Invalid Date``.
MAX_DATE_MS: Final = 8.64e15


class _Undefined:
    """JavaScript's ``undefined``: how a missing claim or header member reads in Clerk's messages."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED: Final = _Undefined()


# --- truthiness and comparison ---------------------------------------------------------------------------------


def js_truthy(value: object) -> bool:
    """JavaScript truthiness of a JSON value (or ``UNDEFINED``): ``{}`` and ``[]`` are true, unlike in Python;
    ``0``, ``NaN``, ``''``, ``null`` and ``undefined`` are false."""
    if value is UNDEFINED:
        return False
    if value is None or isinstance(value, bool | int | float | str):
        return bool(value) and not (isinstance(value, float) and math.isnan(value))
    return True


def js_less_than(left: object, right: object) -> bool:
    """JS ``left < right`` for JSON values: two strings compare as strings, anything else after ``ToNumber``
    (so ``undefined`` and ``NaN`` compare false with everything). ``a > b`` is ``js_less_than(b, a)``."""
    if isinstance(left, str) and isinstance(right, str):
        return left < right
    return js_to_number(left) < js_to_number(right)


# --- numbers ---------------------------------------------------------------------------------------------------

_JS_DECIMAL = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_JS_RADIX = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}
_RADIX_DIGITS = {16: re.compile(r"[0-9a-fA-F]+"), 8: re.compile(r"[0-7]+"), 2: re.compile(r"[01]+")}
_DECIMAL_DIGITS = re.compile(r"[0-9]+")


def js_number(text: str) -> float:
    """JS ``Number(string)``: whitespace-trimmed decimal (or 0x/0o/0b) literal, ``""`` is 0, else NaN."""
    text = text.strip(JS_WHITESPACE)
    if not text:
        return 0.0
    if _JS_DECIMAL.fullmatch(text):
        return float(text.replace("Infinity", "inf"))
    radix = _JS_RADIX.get(text[:2])
    if radix is not None and _RADIX_DIGITS[radix].fullmatch(text[2:]):
        return float(int(text[2:], radix))
    return math.nan


def js_parse_int(text: str) -> float:
    """JS ``parseInt(string)``: leading whitespace, a sign, ``0x`` for hex, then as many digits as there are."""
    text = text.lstrip(JS_WHITESPACE)
    sign = -1.0 if text.startswith("-") else 1.0
    text = text[1:] if text[:1] in ("-", "+") else text
    radix = 10
    if text[:2] in ("0x", "0X"):
        text, radix = text[2:], 16
    digits = (_RADIX_DIGITS[16] if radix == 16 else _DECIMAL_DIGITS).match(text)
    found = digits.group() if digits else ""
    if not found:
        return math.nan
    try:
        return sign * (float(found) if radix == 10 else float(int(found, 16)))
    except OverflowError:
        return sign * math.inf


def js_to_number(value: object) -> float:
    """JS ``ToNumber`` of a JSON value, as ``<`` applies it to a claim (``null`` is 0, an object NaN)."""
    if value is None or isinstance(value, bool):
        return float(bool(value))
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        return js_number(value)
    if isinstance(value, list):
        if not value:
            return 0.0
        if len(value) == 1 and not isinstance(value[0], dict | list):
            return js_number("" if value[0] is None else str(value[0]))
    return math.nan


def js_number_str(value: float) -> str:
    """JS ``String(number)``: ``3``, ``2.5``, ``1e+21``, ``1e-7``, ``Infinity``, ``NaN``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return js_json(value)  # JSON.stringify renders a finite number exactly as String() does


# --- rendering -------------------------------------------------------------------------------------------------

_WEEKDAYS: Final = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE: Final = re.compile(r'["\\\x00-\x1f\ud800-\udfff]')


def js_time_ms(ms: float) -> str:
    """``new Date(ms).toUTCString()``; ``Invalid Date`` outside ECMAScript's time range."""
    if not math.isfinite(ms) or abs(ms) > MAX_DATE_MS:
        return "Invalid Date"
    days, second_of_day = divmod(math.trunc(ms) // 1000, 86_400)
    year, month, day = _civil_from_days(days)
    hour, rest = divmod(second_of_day, 3600)
    minute, second = divmod(rest, 60)
    year_text = f"{'-' if year < 0 else ''}{abs(year):04d}"
    return (
        f"{_WEEKDAYS[(days + 4) % 7]}, {day:02d} {_MONTHS[month - 1]} {year_text} "
        f"{hour:02d}:{minute:02d}:{second:02d} GMT"
    )


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of a day count from 1970-01-01 (H. Hinnant's algorithm).

    ``datetime`` stops at year 9999; JavaScript dates reach ±275760.
    """
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


class _Raw(str):
    """Already-rendered JSON text on ``js_json``'s work stack (as opposed to a string value to quote)."""

    __slots__ = ()


def js_json(value: object) -> str:
    """``JSON.stringify(value)`` for a parsed JSON value, and ``undefined`` for ``UNDEFINED``.

    Iterative, so a deeply nested claim cannot exhaust the stack while we render an error message.
    """
    if value is UNDEFINED:
        return "undefined"
    out: list[str] = []
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            out.append(item)
        elif item is None or item is UNDEFINED:
            out.append("null")
        elif isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, int | float):
            out.append(_js_number(item))
        elif isinstance(item, str):
            out.append(_js_string(item))
        elif isinstance(item, Mapping):
            stack.append(_Raw("}"))
            keys = _js_key_order(item)
            for index in range(len(keys) - 1, -1, -1):
                stack.append(item[keys[index]])
                stack.append(_Raw(_js_string(keys[index]) + ":"))
                if index:
                    stack.append(_Raw(","))
            stack.append(_Raw("{"))
        elif isinstance(item, list | tuple):
            stack.append(_Raw("]"))
            for index in range(len(item) - 1, -1, -1):
                stack.append(item[index])
                if index:
                    stack.append(_Raw(","))
            stack.append(_Raw("["))
        else:
            raise TypeError(f"{type(item).__name__} is not a JSON value")
    return "".join(out)


def _js_string(text: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _js_key_order(obj: Mapping[str, Any]) -> list[str]:
    """JavaScript's own-property order: array-index keys ascending, then the rest in insertion order."""
    indices = sorted((key for key in obj if _is_array_index(key)), key=int)
    return indices + [key for key in obj if not _is_array_index(key)]


def _is_array_index(key: str) -> bool:
    return key.isascii() and key.isdigit() and (key == "0" or key[0] != "0") and int(key) < 2**32 - 1


def _js_number(value: float) -> str:
    """``Number.prototype.toString`` as ``JSON.stringify`` uses it (non-finite numbers become ``null``)."""
    if isinstance(value, int) and abs(value) < 2**53:
        return str(value)
    try:
        number = float(value)
    except OverflowError:  # an integer literal beyond double range is Infinity in JS
        return "null"
    if not math.isfinite(number):
        return "null"
    if number == 0:
        return "0"
    _, digit_tuple, exponent = Decimal(repr(abs(number))).as_tuple()
    if not isinstance(exponent, int):  # only NaN/Infinity have a letter exponent, excluded above
        raise TypeError(f"unexpected decimal exponent {exponent!r}")
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    point = exponent + len(digit_tuple)  # number = 0.<digits> × 10**point
    if len(digits) <= point <= 21:
        body = digits + "0" * (point - len(digits))
    elif 0 < point <= 21:
        body = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        body = "0." + "0" * -point + digits
    else:
        mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
        body = f"{mantissa}e{'+' if point > 0 else '-'}{abs(point - 1)}"
    return ("-" if number < 0 else "") + body


def put_defined(out: dict[str, Any], key: str, value: object) -> None:
    """Set ``key`` unless ``value`` is JS's ``undefined`` (``None`` here), as ``JSON.stringify`` drops it."""
    if value is not None:
        out[key] = value


def json_list(value: object) -> object:
    """Tuples (our immutable lists) as JSON lists; everything else unchanged."""
    return list(value) if isinstance(value, tuple) else value
