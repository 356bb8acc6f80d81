"""How JavaScript does it: ``parseInt``, ``Number``, ``String``, ``JSON.stringify``, ``toUTCString``, truthiness
and ``<``, each as Clerk's SDK gets them from the engine."""

from __future__ import annotations

import math

import pytest

from clerk_authd.js.values import (
    UNDEFINED,
    js_json,
    js_less_than,
    js_number,
    js_number_str,
    js_parse_int,
    js_time_ms,
    js_truthy,
)

# --- numbers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("12abc", 12), ("  -5", -5), ("0x1A", 26), ("1e3", 1), ("abc", math.nan), ("", math.nan), ("+7.9", 7)],
)
def test_parse_int_reads_a_leading_integer(text: str, parsed: float) -> None:
    """``parseInt``: leading whitespace, a sign, ``0x``, then digits while they last."""
    result = js_parse_int(text)
    assert (math.isnan(result) and math.isnan(parsed)) or result == parsed


@pytest.mark.parametrize(
    ("text", "number"),
    [("3", 3), (" 3 ", 3), ("", 0), ("1e0", 1), ("0x10", 16), ("0b11", 3), ("2.5", 2.5), ("3abc", math.nan)],
)
def test_number_reads_a_whole_literal(text: str, number: float) -> None:
    """``Number``: the whole trimmed string must be a numeric literal; ``""`` is 0."""
    result = js_number(text)
    assert (math.isnan(result) and math.isnan(number)) or result == number


@pytest.mark.parametrize(
    ("number", "text"),
    [(4.0, "4"), (3.5, "3.5"), (1e21, "1e+21"), (1e-7, "1e-7"), (1e-6, "0.000001"), (math.inf, "Infinity")],
)
def test_numbers_render_as_js_strings(number: float, text: str) -> None:
    """``String(number)``, as the redirect-count cookie is written."""
    assert js_number_str(number) == text


# --- truthiness and comparison ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "truthy"),
    [
        (UNDEFINED, False),
        (None, False),
        (False, False),
        (0, False),
        (0.0, False),
        (math.nan, False),
        ("", False),
        (True, True),
        (-1, True),
        ("0", True),
        ([], True),
        ({}, True),
    ],
)
def test_truthiness_is_javascripts(value: object, truthy: bool) -> None:
    """``undefined``, ``null``, ``false``, ``0``, ``NaN`` and ``''`` are falsy; empty arrays and objects are not."""
    assert js_truthy(value) is truthy


@pytest.mark.parametrize(
    ("left", "right", "less"),
    [
        (1, 2, True),
        ("10", "9", True),
        ("10", 9, False),
        (None, 1, True),
        (UNDEFINED, 1, False),
        (1, UNDEFINED, False),
        ("abc", 1, False),
        ([5], 6, True),
        ({}, 1, False),
    ],
)
def test_less_than_compares_as_javascript(left: object, right: object, less: bool) -> None:
    """Two strings compare as strings, anything else as numbers (``undefined`` and objects are NaN)."""
    assert js_less_than(left, right) is less


# --- rendering -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (UNDEFINED, "undefined"),
        (None, "null"),
        (True, "true"),
        (1666648310, "1666648310"),
        (1666648310.0, "1666648310"),
        (60.5, "60.5"),
        (-0.0, "0"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (123456789012345680000.0, "123456789012345680000"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (2**53 + 1, "9007199254740992"),
        (10**400, "null"),
        (math.inf, "null"),
        ('a"b\\c\n\t\x01\x7fé', '"a\\"b\\\\c\\n\\t\\u0001\x7fé"'),
        ("\ud800", '"\\ud800"'),
        ({"b": 1, "10": 2, "2": [1, None, False], "01": {}}, '{"2":[1,null,false],"10":2,"b":1,"01":{}}'),
        ([], "[]"),
    ],
)
def test_js_json_renders_as_json_stringify(value: object, rendered: str) -> None:
    """Numbers, strings, key order and ``undefined`` come out as JavaScript's ``JSON.stringify`` writes them."""
    assert js_json(value) == rendered


def test_js_json_renders_deep_nesting_without_recursion() -> None:
    """A claim nested thousands of levels deep is rendered, not a ``RecursionError``."""
    deep: object = 1
    for _ in range(5000):
        deep = [deep]
    assert js_json(deep) == "[" * 5000 + "1" + "]" * 5000


@pytest.mark.parametrize(
    ("seconds", "rendered"),
    [
        (1666648310, "Mon, 24 Oct 2022 21:51:50 GMT"),
        (1666648310.999, "Mon, 24 Oct 2022 21:51:50 GMT"),
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
        (951782400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"),
        (8.64e12, "Sat, 13 Sep 275760 00:00:00 GMT"),
        (-62198755200, "Fri, 01 Jan -0001 00:00:00 GMT"),
        (8.64e12 + 1, "Invalid Date"),
        (math.nan, "Invalid Date"),
    ],
)
def test_js_time_renders_as_to_utc_string(seconds: float, rendered: str) -> None:
    """Dates come out as ``Date.prototype.toUTCString``, including years beyond 9999 and before year 1."""
    assert js_time_ms(seconds * 1000) == rendered
