"""Real nginx, Caddy and HAProxy on loopback, run from ``proxy-config``'s own output, in front of an echo upstream
and a real clerk-authd against FakeClerk (``tests.servers``' ``service``: a production instance with a sign-in URL).

Each proxy runs in the test's own directory (its pid, logs, temp files; Caddy's ``HOME``/``XDG_*`` too, so it
writes nothing outside), on ports the kernel picked. A missing binary skips the test outside CI and fails it in
CI (``CI=true``), where ``.ci/run`` installs all three.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from clerk_authd.config import load_settings
from clerk_authd.recipes import options_from_settings, render
from tests.servers import Answer, Running

PROXIES = ("nginx", "caddy", "haproxy")
BINARIES = {"nginx": "nginx", "caddy": "caddy", "haproxy": "haproxy"}
START_DEADLINE_S = 15.0


def free_port() -> int:
    """A loopback port nothing listens on right now (the proxy binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(proxy: str) -> str:
    """The proxy's binary; outside CI a missing one skips, in CI it fails (CI must run every suite)."""
    path = shutil.which(BINARIES[proxy])
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{BINARIES[proxy]} is not installed, and CI must run the {proxy} suite (.ci/run)")
        pytest.skip(f"{BINARIES[proxy]} is not installed (apt-get install nginx-light caddy haproxy)")
    return path


# --- the upstream -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One request as the upstream got it."""

    method: str
    path_qs: str
    headers: list[tuple[str, str]]
    body_length: int

    def values(self, name: str) -> list[str]:
        """Every value of ``name`` under any spelling (case, ``_`` for ``-``)."""
        wanted = name.lower().replace("_", "-")
        return [v for k, v in self.headers if k.lower().replace("_", "-") == wanted]


@dataclass
class Upstream:
    """The application behind the proxy: it records what it received, and answers WebSocket upgrades on /ws."""

    url: str = ""
    received: list[Received] = field(default_factory=list)


def _raw_headers(request: web.Request) -> Iterator[tuple[str, str]]:
    """The headers exactly as they came, names in their own spelling (``X_Clerk_User_Id`` included)."""
    for name, value in request.raw_headers:
        yield name.decode("latin-1"), value.decode("latin-1")


async def _echo(upstream: Upstream, request: web.Request) -> web.StreamResponse:
    body = await request.read()
    record = Received(request.method, request.path_qs, list(_raw_headers(request)), len(body))
    upstream.received.append(record)
    if request.path == "/ws":
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"user": record.values("x-clerk-user-id")})
        await ws.close()
        return ws
    response = web.Response(text="ok")
    response.headers.add("Set-Cookie", "app=1; Path=/")
    return response


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    """The echo upstream on a free loopback port."""
    state = Upstream()
    app = web.Application(client_max_size=8 * 1024 * 1024)

    async def handle(request: web.Request) -> web.StreamResponse:
        return await _echo(state, request)

    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


# --- the proxies --------------------------------------------------------------------------------------------


@dataclass
class Proxy:
    """One proxy process from one recipe."""

    name: str
    url: str
    directory: Path
    process: subprocess.Popen[bytes]
    http: aiohttp.ClientSession

    async def call(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: list[tuple[str, str]] | dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        """Send one request through the proxy (redirects not followed)."""
        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        async with self.http.request(
            method, self.url + path, headers=CIMultiDict(pairs), data=body, allow_redirects=False
        ) as response:
            return Answer(response.status, response.headers, await response.read())

    def log(self) -> str:
        """What the proxy wrote, for a failing test's report."""
        return "".join(p.read_text(errors="replace") for p in sorted(self.directory.glob("*.log")))


def proxy_command(name: str, binary: str, directory: Path) -> list[str]:
    if name == "nginx":
        # as root, nginx's workers run as nobody, who cannot enter pytest's private tmp directory
        user = ["-g", "user root;"] if os.geteuid() == 0 else []
        return [binary, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", "stderr", *user]
    if name == "caddy":
        return [binary, "run", "--adapter", "caddyfile", "--config", str(directory / "Caddyfile")]
    return [binary, "-db", "-f", str(directory / "haproxy.cfg")]


def read_log(log: Path) -> str:
    return log.read_text(errors="replace")


def spawn(command: list[str], directory: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT)


async def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_DEADLINE_S
    while loop.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the proxy exited with {process.returncode}:\n{read_log(log)}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError(f"the proxy did not listen within {START_DEADLINE_S}s:\n{read_log(log)}")


StartProxy = Callable[..., Awaitable[Proxy]]


@pytest.fixture
async def start_proxy(tmp_path: Path) -> AsyncIterator[StartProxy]:
    """Start ``proxy`` from ``proxy-config``'s output for the service at ``authd`` and the upstream (and
    requirements, and nginx's verdict cache directory)."""
    processes: list[subprocess.Popen[bytes]] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:

        async def start(
            name: str, authd: str, upstream: Upstream, requirements: str = "", verdict_cache: str | None = None
        ) -> Proxy:
            binary = require_binary(name)
            directory = tmp_path / f"{name}-{len(processes)}"
            directory.mkdir()
            port = free_port()
            settings = load_settings({}, require_keys=False)
            options = options_from_settings(
                settings,
                listen=f"127.0.0.1:{port}",
                upstream=upstream.url,
                authd=authd,
                requirements=requirements,
                verdict_cache=verdict_cache,
            )
            for file_name, text in render(name, options).items():
                (directory / file_name).write_text(text)
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(directory),
                "XDG_CONFIG_HOME": str(directory / "config"),
                "XDG_DATA_HOME": str(directory / "data"),
            }
            log = directory / f"{name}.log"
            process = spawn(proxy_command(name, binary, directory), directory, env, log)
            processes.append(process)
            await wait_listening(port, process, log)
            return Proxy(name, f"http://127.0.0.1:{port}", directory, process, http)

        yield start
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(params=PROXIES)
async def front(request: Any, start_proxy: StartProxy, service: Running, upstream: Upstream) -> Proxy:
    """Each real proxy in turn, from its recipe, in front of ``upstream`` and ``service``."""
    return await start_proxy(request.param, service.url, upstream)
