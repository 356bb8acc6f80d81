"""The README's "try it with nginx, no Clerk account" as a user runs it: ``serve --dev``, ``scripts/demo-app``,
``proxy-config nginx`` into a real nginx, ``dev-token``, and the three requests with the answers it promises.

Only the ports differ from the README (free ones, so that tests never collide): ``serve --port 0`` says
which it bound, and the recipe gets ``--listen``, ``--upstream`` and ``--authd`` for them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import aiohttp

from tests.cli.test_cli import HTTP_TIMEOUT, run_cli, serving
from tests.proxies.conftest import free_port, proxy_command, require_binary, spawn, wait_listening

ROOT = Path(__file__).resolve().parents[2]


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("CLERK_", "PROMETHEUS_"))}
    env["CLERK_AUTHD_DEV_STATE"] = str(tmp_path / "dev-state")
    return env


async def test_a_new_user_gets_a_signed_in_request_through_nginx(tmp_path: Path) -> None:
    """The app sees the identity of the dev token, never a forged header; a signed-out API call is 401."""
    binary = require_binary("nginx")
    env = _clean_env(tmp_path)
    app_port, nginx_port = free_port(), free_port()
    app = spawn([str(ROOT / "scripts" / "demo-app"), str(app_port)], tmp_path, env, tmp_path / "demo-app.log")
    nginx: subprocess.Popen[bytes] | None = None
    try:
        async with serving(["--dev"], env, tmp_path) as served:
            await served.wait_ready()
            directory = tmp_path / "clerk-nginx"
            directory.mkdir()
            flags = ["--listen", f"127.0.0.1:{nginx_port}", "--upstream", f"http://127.0.0.1:{app_port}"]
            recipe = run_cli(["proxy-config", "nginx", *flags, "--authd", served.url], env, tmp_path)
            assert recipe.returncode == 0, recipe.stderr
            (directory / "nginx.conf").write_text(recipe.stdout)
            log = directory / "nginx.log"
            nginx = spawn(proxy_command("nginx", binary, directory), directory, env, log)
            await wait_listening(nginx_port, nginx, log)
            await wait_listening(app_port, app, log)
            made = run_cli(["dev-token", "--org", "org_1", "--role", "admin"], env, tmp_path)
            assert made.returncode == 0, made.stderr
            bearer = {"Authorization": f"Bearer {made.stdout.strip()}"}
            front = f"http://127.0.0.1:{nginx_port}"
            async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
                async with http.get(f"{front}/orders?page=2", headers=bearer) as response:
                    lines = (await response.text()).splitlines()
                assert lines[0] == "GET /orders?page=2"
                for line in (
                    "X-Clerk-Auth-Status: signed-in",
                    "X-Clerk-User-Id: user_dev",
                    "X-Clerk-Org-Role: org:admin",
                ):
                    assert line in lines
                async with http.get(front + "/", headers={**bearer, "X-Clerk-Org-Role": "org:owner"}) as response:
                    roles = [line for line in (await response.text()).splitlines() if "Org-Role" in line]
                assert roles == ["X-Clerk-Org-Role: org:admin"]
                async with http.get(f"{front}/api/orders") as response:
                    assert response.status == 401
    finally:
        for process in (nginx, app):
            if process is not None:
                process.send_signal(signal.SIGTERM)
        for process in (nginx, app):
            if process is not None:
                await asyncio.to_thread(process.wait, 10)
