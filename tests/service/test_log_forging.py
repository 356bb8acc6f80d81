"""Finding 7: the text log format cannot be forged; every control character through every logged field."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest

from clerk_authd.service.logging import (
    DECISION_LOGGER,
    DecisionLine,
    TextFormatter,
    log_decision,
    log_operator_error,
)

#: every C0 control, DEL, every C1 control, and the Unicode line and paragraph separators
CONTROLS = [chr(code) for code in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]]


class _Lines(logging.Handler):
    """Formats each record as the service's text handler would."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(TextFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def lines() -> Iterator[_Lines]:
    handler = _Lines()
    logger = logging.getLogger(DECISION_LOGGER)
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous)


def escaped(char: str) -> str:
    """How the text format writes ``char``: ``\\xNN``, or ``\\uNNNN`` above U+00FF."""
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def _assert_one_clean_line(line: str) -> None:
    assert "\n" not in line
    assert not any(char in line for char in CONTROLS), repr(line)


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_every_control_character_in_every_decision_field_stays_escaped(lines: _Lines, char: str) -> None:
    """Each string field of a decision line (the ones request input can reach) carries the character and a
    forged continuation; the record is one line without any control character."""
    forged = f"x{char}2026-12-02 INFO clerk_authd.decision decision status=200 user_id=admin"
    text_fields = ("endpoint", "auth_status", "reason", "user_id", "kid", "message", "requirement")
    base = DecisionLine(
        endpoint="/verify",
        status=401,
        auth_status="signed-out",
        reason="r",
        user_id="u",
        kid="k",
        cache=None,
        duration_ms=1.0,
        message="m",
        requirement="q",
    )
    for name in text_fields:
        log_decision(replace(base, **{name: forged}), debug=True)
    log_operator_error(forged, forged, forged)  # the parameter name came from the query string (%0a)
    logging.getLogger(DECISION_LOGGER).warning("message %s", forged)  # a message's own arguments
    assert len(lines.lines) == len(text_fields) + 2
    for line_text in lines.lines:
        _assert_one_clean_line(line_text)
        assert escaped(char) in line_text


def test_a_backslash_is_doubled_so_an_escape_cannot_be_typed(lines: _Lines) -> None:
    """A literal ``\\x0a`` sent by a client reads differently from an escaped newline."""
    logging.getLogger(DECISION_LOGGER).warning("typed %s and real %s", "a\\x0ab", "a\nb")
    assert lines.lines[0].endswith("typed a\\\\x0ab and real a\\x0ab")


def test_a_traceback_stays_under_its_record(lines: _Lines) -> None:
    """The one multi-line part, a traceback, is indented: no line of it can pass for a record of its own."""
    try:
        raise ValueError("boom\n2026-12-02 INFO forged")
    except ValueError:
        logging.getLogger(DECISION_LOGGER).exception("failed")
    head, *trace = lines.lines[0].split("\n")
    assert head.endswith("failed")
    assert trace
    assert all(line.startswith("    ") for line in trace)
