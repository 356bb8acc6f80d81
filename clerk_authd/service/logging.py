"""One structured log line per decision, and the service's log set-up (JSON by default, or text).

A decision line says what an operator needs to explain an answer: endpoint, HTTP status, Clerk's
status and reason, the user, the key id, whether the verified-token cache answered, and how long it
took. It never holds a token, a cookie or a redirect URL (a handshake URL carries the session token);
``CLERK_AUTHD_DEBUG`` adds Clerk's message, which names claims but never contains a token.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

DECISION_LOGGER = "clerk_authd.decision"
_decision_log = logging.getLogger(DECISION_LOGGER)
#: the attribute of a LogRecord that carries a line's structured fields
_FIELDS = "clerk_fields"
#: marks the one handler ``configure_logging`` owns
_HANDLER_MARK = "clerk_authd_handler"
_SANIC_LOGGERS = ("sanic.root", "sanic.error", "sanic.server", "sanic.websockets", "sanic.access")


@dataclass(slots=True)
class DecisionLine:
    """The facts of one answered decision; ``None`` fields are left out of the line."""

    endpoint: str
    status: int
    auth_status: str
    reason: str | None
    user_id: str | None
    kid: str | None
    cache: Literal["hit", "miss"] | None
    duration_ms: float
    message: str | None = None
    requirement: str | None = None

    def fields(self, *, with_message: bool) -> dict[str, object]:
        """The line's fields in their order, empty ones left out (built directly: this runs per request)."""
        out: dict[str, object] = {"endpoint": self.endpoint, "status": self.status}
        if self.auth_status:
            out["auth_status"] = self.auth_status
        if self.reason:
            out["reason"] = self.reason
        if self.user_id:
            out["user_id"] = self.user_id
        if self.kid:
            out["kid"] = self.kid
        if self.cache:
            out["cache"] = self.cache
        out["duration_ms"] = round(self.duration_ms, 3)
        if self.requirement:
            out["requirement"] = self.requirement
        if with_message and self.message:
            out["message"] = self.message
        return out


def log_decision(line: DecisionLine, *, debug: bool) -> None:
    """Write the decision line (INFO; WARNING for a 5xx, which an operator must act on).

    One line per request went through the logging module's per-record machinery (a LogRecord, its handler
    chain, a formatter: about 15 % of a cached ``/verify``). Where the result is certain to be what
    ``JsonFormatter`` would write to our one handler (``_direct_stream``), the line is built with orjson and
    written to that handler's stream directly: the same bytes, under the same lock, and, on a running event loop,
    together with the other lines of the same loop iteration (``_write_soon``): one write instead of one per
    request. Anywhere else (text format, another handler such as pytest's ``caplog``, a filter) it goes through
    ``logging`` as before.
    """
    level = logging.WARNING if line.status >= 500 else logging.INFO
    if not _decision_log.isEnabledFor(level):
        return
    fields = line.fields(with_message=debug)
    direct = _direct_stream()
    if direct is None:
        _decision_log.log(level, "decision", extra={_FIELDS: fields})
        return
    body: dict[str, object] = {
        "ts": round(time.time(), 3),
        "level": _LEVEL_NAMES[level],
        "logger": DECISION_LOGGER,
        "msg": "decision",
    }
    body.update(fields)
    _write_soon(orjson.dumps(body, default=str).decode("utf-8") + "\n", *direct)


#: decision lines not yet written, and whether a write of them is scheduled on the event loop
_pending: list[str] = []
_write_scheduled = False


def _write_soon(text: str, stream: Any, lock: AbstractContextManager[Any]) -> None:
    """Write ``text`` once the event loop has answered the requests it is handling now, with their lines; at
    once without a running loop. A line waits at most one loop iteration (microseconds under load)."""
    global _write_scheduled  # noqa: PLW0603 - the one pending batch of this process
    _pending.append(text)
    if _write_scheduled:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _write_pending(stream, lock)
        return
    _write_scheduled = True
    loop.call_soon(_write_pending, stream, lock)


def _write_pending(stream: Any, lock: AbstractContextManager[Any]) -> None:
    global _write_scheduled  # noqa: PLW0603 - see _write_soon
    _write_scheduled = False
    text = "".join(_pending)
    _pending.clear()
    with lock:
        stream.write(text)
        stream.flush()


_LEVEL_NAMES: Final = {logging.INFO: "info", logging.WARNING: "warning"}
#: the handler ``configure_logging`` owns, while it writes JSON
_json_handler: logging.StreamHandler[Any] | None = None


def _direct_stream() -> tuple[Any, AbstractContextManager[Any]] | None:
    """Our JSON handler's stream and lock when a decision record would reach that handler and nothing else: the
    root's only handler, with no filter, the decision logger and root without filters or other handlers."""
    handler = _json_handler
    root = logging.root
    if handler is None or handler.filters or root.filters or _decision_log.filters or _decision_log.handlers:
        return None
    handlers = root.handlers
    lock = handler.lock
    if len(handlers) != 1 or handlers[0] is not handler or not _decision_log.propagate or lock is None:
        return None
    return handler.stream, lock


def log_operator_error(endpoint: str, parameter: str, why: str) -> None:
    """A 400 is the operator's mistake (a proxy configured with a bad requirement): say which parameter."""
    _decision_log.warning(
        "bad request", extra={_FIELDS: {"endpoint": endpoint, "status": 400, "parameter": parameter, "why": why}}
    )


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        body.update(getattr(record, _FIELDS, {}))
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(body, default=str).decode("utf-8")


#: C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators: anything a terminal or a log
#: shipper may take as the end of a line or a control sequence
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\\\\]")


def _escaped(char: re.Match[str]) -> str:
    found = char.group()
    if found == "\\":
        return "\\\\"
    code = ord(found)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` on one line: every control character as ``\\xNN`` (``\\uNNNN``), and ``\\`` as ``\\\\``."""
    return _CONTROL.sub(_escaped, text)


def _indented(text: str) -> str:
    """A traceback or stack under its record: each of its lines escaped and indented, never a record of its own."""
    return "\n".join("    " + escape_controls(line) for line in text.split("\n"))


class TextFormatter(logging.Formatter):
    """``<time> <level> <logger> <msg> key=value ...`` for people reading a terminal.

    Messages and values can carry request input (a query parameter's name, a token header's ``kid``), so every
    control character is escaped and a record is always exactly one line: a ``%0a`` cannot forge a second one.
    A traceback, the one multi-line part, is indented under its record.
    """

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return _indented(stack_info)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, _FIELDS, {})
        if not fields:
            return text
        head, newline, trace = text.partition("\n")
        pairs = (f"{escape_controls(str(k))}={escape_controls(str(v))}" for k, v in fields.items())
        return " ".join([head, *pairs]) + newline + trace


def configure_logging(log_format: Literal["json", "text"], level: str) -> None:
    """Write every log line (ours and Sanic's) to stderr in the chosen format, at ``level``.

    One handler on the root logger, added once and reformatted on later calls; Sanic's loggers lose their
    own handlers and propagate to it. Sanic's access log is turned off where the app is built: one
    decision line already covers each request.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, _HANDLER_MARK, False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    global _json_handler  # noqa: PLW0603 - the one handler this function owns, for log_decision's direct path
    _json_handler = handler if log_format == "json" and isinstance(handler, logging.StreamHandler) else None
    root.setLevel(level)
    for name in _SANIC_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
