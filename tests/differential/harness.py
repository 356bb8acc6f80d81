"""Both sides of the differential run, on loopback against one FakeClerk.

``Harness.start`` runs FakeClerk and one Sanic app per configuration (``clerk_middleware`` and a handler answering
``get_auth(request, accepts_token="any")`` as JSON) on an event loop in a background thread, then the real
``@clerk/express`` (``server.js``, one Express app per configuration with the same handler) as a Node process.
``Harness.call`` sends one request to one side and reads the answer as a client sees it: the status, the headers
Clerk writes (as the bytes on the wire, decoded Latin-1 so that each byte is one character) and the JSON body.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from clerk_authd.config import Settings
from clerk_authd.sanic import clerk_middleware, get_auth
from clerk_authd.sanic.express_options import settings_from_options
from clerk_authd.service.app import create_app
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import serve_on_loopback, unique_app_name

HERE = Path(__file__).resolve().parent
#: the headers Clerk's answers are compared on; every other header is the framework's own
COMPARED_HEADERS = (
    "x-clerk-auth-status",
    "x-clerk-auth-reason",
    "x-clerk-auth-message",
    "location",
    "cache-control",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "set-cookie",
)
START_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Config:
    """One middleware configuration, in Clerk's Express option names (camelCase) and ours (snake_case)."""

    express: Mapping[str, Any]
    sanic: Mapping[str, Any]


@dataclass(frozen=True)
class Probe:
    """One request as both sides receive it."""

    method: str
    path: str
    headers: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Observed:
    """An answer as a client reads it: status, Clerk's headers in order (repeats kept), the JSON body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: Any

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (lowercase), else ``None``."""
        return next((value for key, value in self.headers if key == name), None)

    def summary(self) -> dict[str, Any]:
        """A readable form for failure messages."""
        return {"status": self.status, "headers": [list(h) for h in self.headers], "body": self.body}


def node_available() -> str | None:
    """Why the Node side cannot run here, or ``None`` when node and npm are on the PATH."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not on the PATH" if missing else None


def ensure_node_modules() -> None:
    """``npm ci`` from the committed lock file when ``node_modules`` is missing (``.ci/run`` does it in CI)."""
    if (HERE / "node_modules" / "@clerk" / "express").is_dir():
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True, timeout=300)


def settings_for(config: Config, fake: FakeClerk) -> Settings:
    """The configuration's settings against ``fake``, read as ``clerk_middleware`` reads its options.

    The budget of Backend API calls that requests may trigger (``CLERK_AUTHD_BAPI_RATE``/``_BURST``, a bound Clerk
    does not have) is lifted: the run triggers hundreds in seconds, which the bound rightly refuses, and what is
    compared here is the decision each call leads to. The bound has its own tests (``tests/service``).
    """
    settings = settings_from_options({"secret_key": fake.secret_key, "api_url": fake.url, **config.sanic})
    return replace(settings, bapi_rate=1_000_000.0, bapi_burst=100_000)


def sanic_app(name: str, config: Config, fake: FakeClerk) -> Sanic[Any, Any]:
    """A user's app as the Sanic SDK documents it, answering every path and method as the Express app does."""
    app: Sanic[Any, Any] = Sanic(unique_app_name(f"diff_{name}"), configure_logging=False)
    clerk_middleware(app, settings=settings_for(config, fake))

    async def dump(request: Request, path: str = "") -> HTTPResponse:
        return json_response({"auth": get_auth(request, accepts_token="any").to_json()})

    methods = ["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]
    app.add_route(dump, "/", methods=methods, name="root")
    app.add_route(dump, "/<path:path>", methods=methods, name="any")
    return app


def service_app(config: Config, fake: FakeClerk) -> Sanic[Any, Any]:
    """The service on the same configuration (its variables are the options' variables)."""
    settings = settings_for(config, fake)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    app = create_app(settings, name=unique_app_name("diff_service"))
    root.handlers[:] = handlers  # create_app configures the process's logging; the test run keeps its own
    root.setLevel(level)
    return app


class Harness:
    """FakeClerk, the Sanic apps and the Express apps, started once for the whole run."""

    def __init__(self, configs: Mapping[str, Config]) -> None:
        self.configs = dict(configs)
        #: the clock of the scenario being run: FakeClerk stamps refreshed tokens with it, so both sides get the same
        self.now = time.time()
        self.fake = FakeClerk(clock=lambda: self.now)
        self.ports: dict[str, dict[str, int]] = {"python": {}, "service": {}, "node": {}}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="differential", daemon=True)
        self._stops: list[Callable[[], Awaitable[None]]] = []
        self._node: subprocess.Popen[bytes] | None = None
        self._node_log = Path(tempfile.gettempdir()) / f"clerk-authd-differential-node-{os.getpid()}.log"

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start everything, then let each Express app load the keys (the Sanic apps load them before serving), so
        that no scenario's Backend API failure switch meets Clerk's first JWKS fetch."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start_python(), self._loop).result(START_TIMEOUT_S)
        self._start_node()
        token = self.fake.session_token()
        for config in self.configs:
            self.call("node", config, Probe("GET", "/", (("host", "warm.up"), ("authorization", f"Bearer {token}"))))

    async def _start_python(self) -> None:
        await self.fake.start()
        for name, config in self.configs.items():
            for side, app in (
                ("python", sanic_app(name, config, self.fake)),
                ("service", service_app(config, self.fake)),
            ):
                url, stop = await serve_on_loopback(app)
                self._stops.append(stop)
                self.ports[side][name] = int(url.rsplit(":", 1)[1])

    def _start_node(self) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CLERK_")}
        configs = {name: config.express for name, config in self.configs.items()}
        spec = {"apiUrl": self.fake.url, "secretKey": self.fake.secret_key, "configs": configs}
        with self._node_log.open("wb") as log:  # Popen keeps its own descriptor
            self._node = subprocess.Popen(
                ["node", str(HERE / "server.js")],
                cwd=HERE,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self._node.stdin is not None
        assert self._node.stdout is not None
        self._node.stdin.write(json.dumps(spec).encode())
        self._node.stdin.close()
        stdout = self._node.stdout
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)  # the ports line, or nothing if Node failed: its log says why
        if not line or not line[0]:
            raise RuntimeError(f"the Node server did not start; see {self._node_log}")
        self.ports["node"] = json.loads(line[0])["ports"]

    def stop(self) -> None:
        if self._node is not None:
            self._node.terminate()
            self._node.wait(10)
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._stop_python(), self._loop).result(START_TIMEOUT_S)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _stop_python(self) -> None:
        for stop in reversed(self._stops):
            await stop()
        await self.fake.stop()

    # -- calls -------------------------------------------------------------------------------------------

    def call(self, side: str, config: str, request: Probe) -> Observed:
        """One request to one side; redirects are not followed."""
        connection = http.client.HTTPConnection("127.0.0.1", self.ports[side][config], timeout=CALL_TIMEOUT_S)
        try:
            connection.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers:
                connection.putheader(name, value.encode("latin-1"))
            connection.endheaders()
            response = connection.getresponse()
            raw = response.read()
            headers = tuple(
                (name.lower(), value) for name, value in response.getheaders() if name.lower() in COMPARED_HEADERS
            )
            body = (
                json.loads(raw)
                if raw and response.getheader("content-type", "").startswith("application/json")
                else None
            )
            return Observed(response.status, headers, body)
        finally:
            connection.close()
