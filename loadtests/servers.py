"""One server of a benchmark (``clerk-authd serve``, the Sanic floor, the ``@clerk/express`` peer): started on
a loopback port, measured, always stopped.

Each server binds port 0 itself and prints ``<name>: listening on <url>``; we read the URL from its log, so no
port is picked here and freed for someone else to take before the server binds it.

A server runs in its own process group and its own empty working directory (so no stray ``.env`` is read),
with an environment holding only the configuration we pass plus the basics a process needs. Its memory and
CPU are read from the whole process tree, since Sanic may run a manager process beside its workers: what an
operator pays for per replica.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self
from urllib.parse import urlsplit

import psutil  # type: ignore[import-untyped]  # psutil ships no type information

LOOPBACK = "127.0.0.1"
#: variables of the parent worth keeping; anything CLERK_* from the caller's shell would change the answers
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")
_STOP_GRACE_S = 5.0
_LOG_TAIL_CHARS = 3000
#: what ``clerk-authd serve`` prints once its socket is bound
_LISTENING: Final = re.compile(r"^[\w-]+: listening on (http://\S+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Usage:
    """Resident memory and CPU time (user + system) of a server's process tree at one moment."""

    rss_bytes: int
    cpu_s: float


def clerk_authd_command() -> list[str]:
    """The ``clerk-authd`` entry point of this interpreter's environment (beside ``sys.executable``)."""
    beside = Path(sys.executable).parent / "clerk-authd"
    found = str(beside) if beside.exists() else shutil.which("clerk-authd")
    if found is None:
        raise RuntimeError("clerk-authd is not installed in this environment (pip install -e .)")
    return [found]


def log_tail(path: Path) -> str:
    """The end of a log file, for an error message."""
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-_LOG_TAIL_CHARS:]


def http_request(
    base_url: str, path: str, headers: Mapping[str, str] | None = None, method: str = "GET"
) -> tuple[int, str]:
    """``method path`` on the server at ``base_url``, with ``headers``: status and body."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname or LOOPBACK, address.port, timeout=5)
    try:
        connection.request(method, path, headers=dict(headers or {}))
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


class ServerProcess:
    """``args`` run with ``config`` as its environment, listening where it says; ready when ``ready_path``
    answers 200."""

    def __init__(
        self, args: list[str], config: Mapping[str, str], *, workdir: Path, name: str, ready_path: str
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._workdir = workdir
        self._ready_path = ready_path
        self._env = {name: os.environ[name] for name in _INHERITED if name in os.environ} | dict(config)
        self._args = args
        self._process: subprocess.Popen[bytes] | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The server's base URL, as it announced it once listening."""
        if self._url is None:
            raise RuntimeError(f"{self.name} is not listening yet")
        return self._url

    @classmethod
    def clerk_authd(cls, config: Mapping[str, str], *, workers: int, workdir: Path, name: str) -> ServerProcess:
        """``clerk-authd serve`` configured by ``config``, ready once ``/readyz`` answers 200 (keys loaded)."""
        args = [*clerk_authd_command(), "serve", "--host", LOOPBACK, "--port", "0", "--workers", str(workers)]
        return cls(args, config, workdir=workdir, name=name, ready_path="/readyz")

    def start(self, ready_timeout_s: float = 30.0) -> None:
        """Start the server, read the URL it listens on, and wait until it is ready."""
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603  # our own entry point, arguments built above
                self._args,
                cwd=self._workdir,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self._process.returncode}:\n{log_tail(self.log_path)}")
            if self._url is None:
                announced = _LISTENING.search(self.log_path.read_text(errors="replace"))
                self._url = announced.group(1) if announced is not None else None
            if self._url is not None and self._status(self._ready_path) == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} was not ready within {ready_timeout_s:g}s:\n{log_tail(self.log_path)}")

    def _status(self, path: str) -> int | None:
        try:
            return self.get(path)[0]
        except OSError:
            return None

    def get(self, path: str, headers: Mapping[str, str] | None = None, method: str = "GET") -> tuple[int, str]:
        """``method path`` on the server, with ``headers``: status and body."""
        return http_request(self.url, path, headers, method)

    def usage(self) -> Usage:
        """Memory and CPU time of the server and every process it started."""
        if self._process is None:
            raise RuntimeError(f"{self.name} is not started")
        root = psutil.Process(self._process.pid)
        rss, cpu = 0, 0.0
        for process in [root, *root.children(recursive=True)]:
            try:
                with process.oneshot():
                    rss += process.memory_info().rss
                    times = process.cpu_times()
                    cpu += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return Usage(rss, cpu)

    def stop(self) -> None:
        """Stop the whole process group (``stop_process_group``)."""
        process, self._process = self._process, None
        if process is not None:
            stop_process_group(process)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """Stop ``process``'s group: SIGTERM, SIGKILL after a grace period, then SIGKILL any straggler."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
