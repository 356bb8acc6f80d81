"""``clerk-authd`` as a user runs it: subprocesses, a real port, FakeClerk or the embedded development issuer."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import aiohttp
import pytest

from clerk_authd.cli.explain import fingerprint
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.servers import IDENTITY_HEADERS

CLI = [sys.executable, "-m", "clerk_authd"]
#: every wait has a deadline well inside pytest-timeout's 120 s, so a stuck server fails the test instead of hanging
STARTUP_S = 15.0
STOP_S = 10.0
RUN_S = 20.0
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)
LISTENING = "clerk-authd: listening on "


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment without CLERK_* variables, a private dev-state directory, run from an empty directory."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("CLERK_", "PROMETHEUS_"))}
    env["CLERK_AUTHD_DEV_STATE"] = str(tmp_path / "dev-state")
    return env


def run_cli(
    args: list[str], env: Mapping[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=dict(env), cwd=cwd, input=stdin, capture_output=True, text=True, timeout=RUN_S, check=False
    )


async def read_line(process: asyncio.subprocess.Process) -> str:
    """The next line ``process`` prints on stdout."""
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), STARTUP_S)
    assert line, "serve ended early"
    return line.decode().strip()


@dataclass(frozen=True)
class Served:
    """A ``clerk-authd serve`` process, the URL it said it listens on, and the file its stderr goes to."""

    process: asyncio.subprocess.Process
    url: str
    log: Path

    async def next_line(self) -> str:
        """The next line ``serve`` prints on stdout."""
        return await read_line(self.process)

    async def wait_logged(self, text: str, count: int = 1) -> None:
        """Until ``text`` appears ``count`` times in the log."""
        deadline = time.monotonic() + STARTUP_S
        while self.log.read_text(errors="replace").count(text) < count:
            assert self.process.returncode is None, "serve ended early"
            assert time.monotonic() < deadline, f"{text!r} not logged {count} times"
            await asyncio.sleep(0.05)

    async def wait_ready(self) -> None:
        """Until ``/readyz`` answers 200 (the keys are loaded)."""
        deadline = time.monotonic() + STARTUP_S
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            return
                assert time.monotonic() < deadline, f"{self.url} did not become ready"
                await asyncio.sleep(0.1)


@asynccontextmanager
async def serving(args: list[str], env: Mapping[str, str], cwd: Path) -> AsyncIterator[Served]:
    """``clerk-authd serve --port 0 ...`` in the background: the kernel picks a free port and the server binds it
    itself (no port is picked, freed and raced for), then says which; stopped with SIGTERM as an operator would."""
    log = cwd / "serve.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *CLI,
            "serve",
            "--port",
            "0",
            *args,
            env=dict(env),
            cwd=cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        line = await read_line(process)
        assert line.startswith(LISTENING), line
        yield Served(process, line.removeprefix(LISTENING), log)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_S)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)  # the server and its workers, nothing else
            await process.wait()


async def test_serve_dev_prints_a_curl_that_is_allowed(clean_env: dict[str, str], tmp_path: Path) -> None:
    """``serve --dev`` says where it listens, runs the embedded issuer and prints a curl that gets 200 with the
    identity headers. Flags win over the environment (a bad CLERK_AUTHD_PORT is never read)."""
    env = {**clean_env, "CLERK_AUTHD_PORT": "not-a-port"}
    async with serving(["--dev"], env, tmp_path) as served:
        issuer = await served.next_line()
        assert re.fullmatch(
            r"clerk-authd: development issuer at http://127\.0\.0\.1:\d+ \(not for production\)", issuer
        )
        curl = await served.next_line()
        words = shlex.split(curl)
        assert words[:2] == ["curl", "-i"]
        header, url = words[words.index("-H") + 1], words[-1]
        assert url == f"{served.url}/verify"
        name, _, value = header.partition(": ")
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http, http.get(url, headers={name: value}) as r:
            assert r.status == 200
            assert r.headers["X-Clerk-Auth-Status"] == "signed-in"
            assert r.headers["X-Clerk-User-Id"] == "user_dev"
            for identity_header in IDENTITY_HEADERS:
                assert identity_header in r.headers


async def test_a_dev_token_is_accepted_by_a_dev_server_started_apart(clean_env: dict[str, str], tmp_path: Path) -> None:
    """The development key persists in the state directory: ``dev-token`` signs what ``serve --dev`` accepts."""
    async with serving(["--dev"], clean_env, tmp_path) as served:
        await served.wait_ready()
        made = run_cli(["dev-token", "--user", "user_42", "--org", "org_7", "--role", "admin",
                        "--permissions", "org:invoices:read"], clean_env, tmp_path)  # fmt: skip
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip()
        url = f"{served.url}/verify?permission=org:invoices:read"
        async with (
            aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
            http.get(url, headers={"Authorization": f"Bearer {token}"}) as r,
        ):
            assert r.status == 200
            assert (r.headers["X-Clerk-User-Id"], r.headers["X-Clerk-Org-Id"]) == ("user_42", "org_7")


def test_serve_on_a_port_in_use_says_so(clean_env: dict[str, str], tmp_path: Path) -> None:
    """A listen address that cannot be bound stops serve with exit code 2 and a message naming it."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        refused = run_cli(["serve", "--dev", "--port", str(port)], clean_env, tmp_path)
    assert refused.returncode == 2
    assert f"clerk-authd: cannot listen on 127.0.0.1:{port}: " in refused.stderr


def test_the_dev_state_directory_may_be_set_in_dotenv(clean_env: dict[str, str], tmp_path: Path) -> None:
    """CLERK_AUTHD_DEV_STATE is read like every other variable: from .env too, not only the environment."""
    env = {name: value for name, value in clean_env.items() if name != "CLERK_AUTHD_DEV_STATE"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    (tmp_path / ".env").write_text(f"CLERK_AUTHD_DEV_STATE={tmp_path / 'from-dotenv'}\n")
    made = run_cli(["dev-token"], env, tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "from-dotenv" / "dev-key.pem").is_file()
    assert not (tmp_path / "xdg").exists()


def test_dev_token_piped_into_explain_shows_a_valid_token(clean_env: dict[str, str], tmp_path: Path) -> None:
    """Every check passes, the state is signed-in, the exit code 0; the token itself is never printed."""
    token = run_cli(["dev-token", "--user", "user_42"], clean_env, tmp_path).stdout.strip()
    explained = run_cli(["explain", "-"], clean_env, tmp_path, stdin=token + "\n")
    assert explained.returncode == 0, explained.stdout + explained.stderr
    out = explained.stdout
    assert "state     signed-in" in out
    assert '"userId":"user_42"' in out
    assert re.findall(r"^  (\S+) +signature", out, re.MULTILINE) == ["ok"]
    assert "FAIL" not in out
    assert token not in out
    assert token.split(".")[2] not in out


def test_explain_names_the_failing_check(clean_env: dict[str, str], tmp_path: Path) -> None:
    """An expired token fails at exp with Clerk's message; later checks are not reached; exit code 1."""
    token = run_cli(["dev-token", "--ttl", "-120"], clean_env, tmp_path).stdout.strip()
    explained = run_cli(["explain", token], clean_env, tmp_path)
    assert explained.returncode == 1
    assert re.search(r"^  FAIL  exp +JWT is expired\.", explained.stdout, re.MULTILINE)
    assert re.search(r"^  -     nbf +not reached", explained.stdout, re.MULTILINE)
    garbage = run_cli(["explain", "not.a.token"], clean_env, tmp_path)
    assert garbage.returncode == 1
    assert re.search(r"^  FAIL  format ", garbage.stdout, re.MULTILINE)


def test_serve_dev_refuses_live_keys(clean_env: dict[str, str], tmp_path: Path) -> None:
    """A production key anywhere in the configuration stops --dev before anything starts."""
    (tmp_path / ".env").write_text("CLERK_SECRET_KEY=sk_live_abc\n")
    refused = run_cli(["serve", "--dev", "--port", "0"], clean_env, tmp_path)
    assert refused.returncode == 2
    assert "CLERK_SECRET_KEY: --dev refuses to run with a live key configured" in refused.stderr


def test_a_bad_configuration_lists_every_problem(clean_env: dict[str, str], tmp_path: Path) -> None:
    """serve stops with one message naming each bad variable."""
    env = {**clean_env, "CLERK_AUTHD_PORT": "http", "CLERK_AUTHD_LOG_FORMAT": "xml"}
    refused = run_cli(["serve"], env, tmp_path)
    assert refused.returncode == 2
    for name in ("CLERK_AUTHD_PORT", "CLERK_AUTHD_LOG_FORMAT", "CLERK_PUBLISHABLE_KEY", "CLERK_SECRET_KEY"):
        assert name in refused.stderr


async def test_check_prints_masked_settings_and_fetches_the_keys(
    fake_clerk: FakeClerk, clean_env: dict[str, str], tmp_path: Path
) -> None:
    """Exit 0 with the key ids when the JWKS loads (settings from --env-file); secrets are masked; exit 1 when
    Clerk is down."""
    variables = {
        "CLERK_PUBLISHABLE_KEY": fake_clerk.publishable_key,
        "CLERK_SECRET_KEY": fake_clerk.secret_key,
        "CLERK_API_URL": fake_clerk.url,
    }
    (tmp_path / "staging.env").write_text("".join(f"{name}={value}\n" for name, value in variables.items()))
    process = await asyncio.create_subprocess_exec(
        *CLI,
        "check",
        "--env-file",
        "staging.env",
        env=clean_env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), RUN_S)
    assert process.returncode == 0
    assert fake_clerk.mint.kid in out.decode()
    assert fake_clerk.secret_key not in out.decode()
    fake_clerk.go_down()
    process = await asyncio.create_subprocess_exec(
        *CLI,
        "check",
        env={**clean_env, **variables},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), RUN_S)
    assert process.returncode == 1
    assert "jwk-remote-failed-to-load" in err.decode()


async def test_several_workers_serve_and_count_together(
    fake_clerk: FakeClerk, clean_env: dict[str, str], tmp_path: Path
) -> None:
    """--workers 2: each worker loads its keys and accepts on the one socket; /metrics adds up every worker's
    decisions."""
    env = {
        **clean_env,
        "CLERK_PUBLISHABLE_KEY": fake_clerk.publishable_key,
        "CLERK_SECRET_KEY": fake_clerk.secret_key,
        "CLERK_API_URL": fake_clerk.url,
    }
    token = fake_clerk.session_token(user_id="user_1", ttl_s=600)
    async with serving(["--workers", "2"], env, tmp_path) as served:
        await served.wait_logged('"Worker ready', count=2)
        # Sanic's manager hangs if it is stopped before it has seen every worker's acknowledgement, which it
        # polls every 0.1 s after the worker logs "Worker ready"; give it that poll before the test may stop it.
        await asyncio.sleep(0.3)
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector, timeout=HTTP_TIMEOUT) as http:
            for _ in range(20):
                async with http.get(f"{served.url}/verify", headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status == 200
            async with http.get(f"{served.url}/metrics") as r:
                text = await r.text()
    counted = re.search(r'^clerk_authd_decisions_total\{endpoint="/verify",reason="",status="200"\} (\S+)$', text, re.M)
    assert counted is not None
    assert float(counted.group(1)) == 20
    assert fake_clerk.jwks_fetches >= 2


@pytest.mark.parametrize("token", ["ak_" + "s3cr3tValue" * 3, "mt_" + "s3cr3tValue" * 3, "oat_" + "s3cr3tValue" * 3])
def test_the_fingerprint_of_an_opaque_token_shows_none_of_its_secret(token: str) -> None:
    """Finding 8: ``explain`` printed 9 characters of an API key's secret; now only its type prefix."""
    shown = fingerprint(token)
    assert "s3c" not in shown
    assert shown.startswith(token.split("_", maxsplit=1)[0] + "_…")
    assert f"({len(token)} chars" in shown


def test_the_fingerprint_of_a_jwt_shows_its_public_header_start() -> None:
    """A JWT begins with its base64url header, which is public: those characters still help tell tokens apart."""
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"
    assert fingerprint(token).startswith("eyJhbGciOiJS…")


#: (the head's header lines, given a session token; how the answer starts)
WIRE_CASES: Final = [
    pytest.param(lambda t: f"Authorization: Bearer {t}", b"HTTP/1.1 200 OK\r\n", id="a-cached-session"),
    pytest.param(
        lambda t: "X-Original-URL: https://app.example.test/\r\nSec-Fetch-Dest: empty",
        b"HTTP/1.1 401 Unauthorized\r\n",
        id="signed-out-decided-in-full",
    ),
]


@pytest.mark.parametrize(("lines", "status_line"), WIRE_CASES)
async def test_a_served_verify_is_answered_on_the_wire_as_sanic_answers_it(
    clean_env: dict[str, str], tmp_path: Path, lines: Callable[[str], str], status_line: bytes
) -> None:
    """On a real server (where Sanic's start-up rewrite of its HTTP code has run), the wire lane's answer to a
    head sent in one write is byte for byte Sanic's answer to it sent in two (``tests/service/test_wire_lane.py``
    tells the two apart); only the seconds left to the token may tick between them."""
    async with serving(["--dev"], clean_env, tmp_path) as served:
        await served.wait_ready()
        token = run_cli(["dev-token"], clean_env, tmp_path).stdout.strip()
        head = f"GET /verify?accepts=session_token HTTP/1.1\r\nHost: authd\r\n{lines(token)}\r\n\r\n"
        parts = urlsplit(served.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        answers = []
        try:
            for chunks in ([head], [head], [head[:20], head[20:]]):  # verified, then on the wire, then by Sanic
                for chunk in chunks:
                    writer.write(chunk.encode())
                    await writer.drain()
                    await asyncio.sleep(0.05)
                answers.append(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STOP_S))
        finally:
            writer.close()
    first, on_wire, by_sanic = (re.sub(rb"(max-age=|x-accel-expires: )\d+", rb"\1N", answer) for answer in answers)
    assert on_wire == by_sanic == first
    assert on_wire.startswith(status_line + b"content-length: 0\r\nconnection: keep-alive\r\n")
