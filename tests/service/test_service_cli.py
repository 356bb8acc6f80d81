"""``clerk-authd`` as a user runs it: subprocesses, a real port, FakeClerk or the embedded development issuer."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp
import pytest

from clerk_authd.testing.fake_clerk import FakeClerk
from tests.service.conftest import IDENTITY_HEADERS

CLI = [sys.executable, "-m", "clerk_authd.cli"]
STARTUP_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
        [*CLI, *args], env=dict(env), cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


@contextmanager
def serving(args: list[str], env: Mapping[str, str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """``clerk-authd serve ...`` in the background, stopped with SIGTERM as an operator would."""
    process = subprocess.Popen(
        [*CLI, "serve", *args],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the server and its workers, nothing else
            process.wait()


async def wait_healthy(base: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{base} did not become ready")
            await asyncio.sleep(0.1)


@asynccontextmanager
async def async_serving(
    args: list[str], env: Mapping[str, str], cwd: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Like ``serving``, for tests whose own event loop must keep answering (FakeClerk runs in it)."""
    process = await asyncio.create_subprocess_exec(
        *CLI,
        "serve",
        *args,
        env=dict(env),
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)  # the server and its workers, nothing else
            await process.wait()


async def wait_workers_ready(process: asyncio.subprocess.Process, count: int) -> None:
    """Wait for Sanic's "Worker ready" line from each worker (stopping a worker mid-start-up hangs Sanic)."""
    assert process.stderr is not None
    ready = 0
    while ready < count:
        line = await asyncio.wait_for(process.stderr.readline(), STARTUP_S)
        assert line, "the server ended before its workers were ready"
        ready += b'"Worker ready' in line
    # Sanic's manager hangs if it is stopped before it has seen every worker's acknowledgement, which it
    # polls every 0.1 s after the worker logs "Worker ready"; give it that poll before the test may stop it.
    await asyncio.sleep(0.3)


async def test_serve_dev_prints_a_curl_that_is_allowed(clean_env: dict[str, str], tmp_path: Path) -> None:
    """``serve --dev`` runs the embedded issuer; the curl it prints gets 200 with the identity headers.
    Flags win over the environment (a bad CLERK_AUTHD_PORT is never read)."""
    port = free_port()
    env = {**clean_env, "CLERK_AUTHD_PORT": "not-a-port"}
    with serving(["--dev", "--port", str(port)], env, tmp_path) as process:
        assert process.stdout is not None
        curl = ""
        while not curl.startswith("curl "):
            line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), STARTUP_S)
            assert line, "serve --dev ended without printing a curl"
            curl = line.strip()
        words = shlex.split(curl)
        header, url = words[words.index("-H") + 1], words[-1]
        name, _, value = header.partition(": ")
        await wait_healthy(f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as http, http.get(url, headers={name: value}) as response:
            assert response.status == 200
            assert response.headers["X-Clerk-Auth-Status"] == "signed-in"
            assert response.headers["X-Clerk-User-Id"] == "user_dev"
            for identity_header in IDENTITY_HEADERS:
                assert identity_header in response.headers


async def test_a_dev_token_is_accepted_by_a_dev_server_started_apart(clean_env: dict[str, str], tmp_path: Path) -> None:
    """The development key persists in the state directory: ``dev-token`` signs what ``serve --dev`` accepts."""
    port = free_port()
    with serving(["--dev", "--port", str(port)], clean_env, tmp_path):
        await wait_healthy(f"http://127.0.0.1:{port}")
        made = run_cli(["dev-token", "--user", "user_42", "--org", "org_7", "--role", "admin",
                        "--permissions", "org:invoices:read"], clean_env, tmp_path)  # fmt: skip
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip()
        url = f"http://127.0.0.1:{port}/verify?permission=org:invoices:read"
        async with aiohttp.ClientSession() as http, http.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200
            assert (r.headers["X-Clerk-User-Id"], r.headers["X-Clerk-Org-Id"]) == ("user_42", "org_7")


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
    refused = run_cli(["serve", "--dev", "--port", str(free_port())], clean_env, tmp_path)
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
    out, _ = await process.communicate()
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
    _, err = await process.communicate()
    assert process.returncode == 1
    assert "jwk-remote-failed-to-load" in err.decode()


async def test_several_workers_serve_and_count_together(
    fake_clerk: FakeClerk, clean_env: dict[str, str], tmp_path: Path
) -> None:
    """--workers 2: each worker loads its keys; /metrics adds up every worker's decisions."""
    port = free_port()
    env = {
        **clean_env,
        "CLERK_PUBLISHABLE_KEY": fake_clerk.publishable_key,
        "CLERK_SECRET_KEY": fake_clerk.secret_key,
        "CLERK_API_URL": fake_clerk.url,
    }
    base = f"http://127.0.0.1:{port}"
    token = fake_clerk.session_token(user_id="user_1", ttl_s=600)
    async with async_serving(["--port", str(port), "--workers", "2"], env, tmp_path) as process:
        await wait_workers_ready(process, 2)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            for _ in range(20):
                async with http.get(f"{base}/verify", headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status == 200
                await asyncio.sleep(0)
            async with http.get(f"{base}/metrics") as r:
                text = await r.text()
    counted = re.search(r'^clerk_authd_decisions_total\{endpoint="/verify",reason="",status="200"\} (\S+)$', text, re.M)
    assert counted is not None
    assert float(counted.group(1)) == 20
    assert fake_clerk.jwks_fetches >= 2
