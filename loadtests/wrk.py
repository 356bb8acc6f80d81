"""One bounded wrk run of one scenario: the request it repeats, and what wrk measured.

Every run gets a generated Lua script, because wrk's ``done`` hook is the only way to read its latency
percentiles exactly (``--latency`` prints them rounded) and because two kinds of scenario vary a header per
request: a *pool* (distinct pre-minted tokens, one per request in turn, read from a file by each wrk thread)
and a *flood* (a distinct token per request, made by the script itself from a counter, so a million of them
need no file). wrk counts an answer of 400 or more as a "status error"; a scenario says which kind of
answer it expects, and ``WrkResult.wrong_answers`` counts the others.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

#: what wrk's ``done`` hook prints, on one line, for ``WrkResult.parse``
_MARK: Final = "WRKJSON "
#: how long wrk may take beyond its own duration (connecting, the ``done`` hook) before it is killed
_GRACE_S: Final = 30
Expect = Literal["ok", "rejected"]


@dataclass(frozen=True, slots=True)
class Request:
    """The request a scenario repeats. ``vary`` names the header a pool or a flood changes per request:
    its value is ``prefix + token + suffix``."""

    path: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    vary: str = ""
    prefix: str = ""
    suffix: str = ""
    #: a file of tokens, one a line, used in turn (``vary`` must be set)
    pool: Path | None = None
    #: ``(head, width)``: the token is ``head`` and the request counter, zero-padded to ``width``, then ``A``
    flood: tuple[str, int] | None = None


@dataclass(frozen=True, slots=True)
class WrkResult:
    """wrk's summary of one run."""

    requests: int
    duration_s: float
    status_errors: int
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def throughput_rps(self) -> float:
        """Requests answered per second."""
        return self.requests / self.duration_s

    def wrong_answers(self, expect: Expect) -> int:
        """Answers of the wrong kind (a 4xx where a 2xx belongs or the reverse), plus socket errors."""
        wrong = self.status_errors if expect == "ok" else self.requests - self.status_errors
        return wrong + self.socket_errors

    @classmethod
    def parse(cls, output: str) -> WrkResult:
        """The figures the script's ``done`` hook printed."""
        line = next((line for line in output.splitlines() if line.startswith(_MARK)), None)
        if line is None:
            raise RuntimeError(f"wrk printed no summary:\n{output[-2000:]}")
        data = json.loads(line.removeprefix(_MARK))
        return cls(
            requests=int(data["requests"]),
            duration_s=data["duration_us"] / 1e6,
            status_errors=int(data["status"]),
            socket_errors=sum(int(data[kind]) for kind in ("connect", "read", "write", "timeout")),
            p50_ms=data["p50_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
        )


def _lua_string(text: str) -> str:
    """A Lua string literal holding ``text`` (JSON's escapes are a subset of Lua's for ASCII)."""
    return json.dumps(text, ensure_ascii=True)


def lua_script(request: Request) -> str:
    """The wrk script that sends ``request`` and prints the summary line."""
    lines = [f"wrk.method = {_lua_string(request.method)}", f"wrk.path = {_lua_string(request.path)}"]
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in request.headers.items()]
    if request.body:
        lines.append(f"wrk.body = {_lua_string(request.body)}")
    vary, prefix, suffix = _lua_string(request.vary), _lua_string(request.prefix), _lua_string(request.suffix)
    if request.pool is not None:
        lines += [
            "local tokens, n = {}, 0",
            f"for line in io.lines({_lua_string(str(request.pool))}) do tokens[#tokens + 1] = line end",
            "request = function()",
            "  n = n % #tokens + 1",
            f"  wrk.headers[{vary}] = {prefix} .. tokens[n] .. {suffix}",
            "  return wrk.format()",
            "end",
        ]
    elif request.flood is not None:
        head, width = request.flood
        lines += [
            "local n = 0",
            "request = function()",
            "  n = n + 1",
            f'  wrk.headers[{vary}] = {prefix} .. {_lua_string(head)} .. string.format("%0{width}dA", n) .. {suffix}',
            "  return wrk.format()",
            "end",
        ]
    lines += [
        "done = function(summary, latency, requests)",
        "  local e = summary.errors",
        f"  io.write(string.format('{_MARK}"
        '{"requests":%d,"duration_us":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,'
        '"p50_us":%f,"p99_us":%f}\\n\', summary.requests, summary.duration, e.status, e.connect, e.read,'
        " e.write, e.timeout, latency:percentile(50), latency:percentile(99)))",
        "end",
    ]
    return "\n".join(lines) + "\n"


def wrk_path() -> str:
    """The ``wrk`` executable (Debian's package), or an explanation of how to get it."""
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    return found


def run_wrk(url: str, request: Request, *, connections: int, seconds: float, script: Path) -> WrkResult:
    """Drive ``url`` with ``request`` from one wrk thread and ``connections`` connections for ``seconds``."""
    script.write_text(lua_script(request))
    command = [wrk_path(), "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), url]
    completed = subprocess.run(  # noqa: S603  # wrk from PATH, arguments built above
        command, capture_output=True, text=True, timeout=seconds + _GRACE_S, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    return WrkResult.parse(completed.stdout)
