"""The benchmark's nginx: one ``auth_request`` gateway in front of a trivial upstream, with and without auth.

One nginx (one worker process, like the one service worker) serves three locations that all proxy to the same
upstream (a second server block of the same nginx answering an empty 200), so their ratios isolate the auth:

- ``/plain``: no auth, the nginx floor;
- ``/protected``: ``auth_request`` to clerk_authd's ``/verify`` on every request, identity headers copied;
- ``/cached``: the same, through the nginx recipe's verdict cache.

The ``/cached`` location caches exactly as ``proxy-config nginx --verdict-cache DIR`` does (``recipes.nginx``:
its directives, its key, its zone), so the benchmark measures the recipe's own verdict cache.

The cached verdicts live in memory where the machine has a tmpfs (``/dev/shm``): nginx opens and reads the
cache file on every hit, and on this machine a tmpfs answered about 30 % more hits than the disk's page cache.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Final, Self
from urllib.error import URLError
from urllib.request import urlopen

from clerk_authd.recipes import nginx as nginx_recipe
from clerk_authd.rules.names import IDENTITY_HEADERS
from loadtests.servers import stop_process_group

#: the recipe's caching directives, in this file's indentation
VERDICT_CACHE: Final = "".join(f"    {line}\n" for line in nginx_recipe.VERDICT_CACHE)
#: keeps the connection to an upstream open between requests (with ``proxy_http_version 1.1`` and the upstream's
#: ``keepalive``). It is in every location, as in the recipe: a location that sets any ``proxy_set_header`` of its
#: own inherits none from ``http``, so one set there is lost exactly where the identity headers are copied, and
#: each request then opened a new connection (the cached location ran at half its rate for it)
KEEP_ALIVE: Final = '    proxy_set_header Connection "";\n'


def _auth_location(name: str, service: str, cache: str) -> str:
    return f"""
  location = {name} {{
    internal;
    proxy_pass {service}/verify;
{KEEP_ALIVE}    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
    proxy_set_header X-Original-Method $request_method;
    proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
{cache}  }}"""


def _protected_location(path: str, auth: str) -> str:
    copies = "".join(
        f"    auth_request_set ${_var(h)} $upstream_http_{_var(h)};\n    proxy_set_header {h} ${_var(h)};\n"
        for h in IDENTITY_HEADERS
    )
    return f"""
  location = {path} {{
    auth_request {auth};
{copies}{KEEP_ALIVE}    proxy_pass http://upstream;
  }}"""


def _var(header: str) -> str:
    return header.replace("-", "_")


def _temp_paths(directory: Path) -> str:
    """Every temporary path nginx may write, inside its prefix (Debian's defaults are under /var/lib)."""
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    return "".join(f"  {kind}_temp_path {directory};\n" for kind in kinds)


def nginx_config(prefix: Path, cache: Path, *, listen_port: int, upstream_port: int, service_url: str) -> str:
    """The whole nginx.conf: one worker, logs off, keep-alive to the service and to the upstream."""
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers as root can use the prefix's files
    return f"""{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
{_temp_paths(prefix / "tmp")}
  {nginx_recipe.verdict_cache_zone(str(cache))}
  upstream clerk_authd {{ server {service_url.removeprefix("http://")}; keepalive 64; }}
  upstream upstream {{ server 127.0.0.1:{upstream_port}; keepalive 64; }}
  proxy_http_version 1.1;
  server {{
    listen 127.0.0.1:{upstream_port};
    # says whom the gateway let through, so a check can see the identity headers arrive, cached or not
    location / {{ add_header X-Upstream-Saw-User $http_x_clerk_user_id; return 200; }}
  }}
  server {{
    listen 127.0.0.1:{listen_port};
{_auth_location("/_auth", "http://clerk_authd", "")}
{_auth_location("/_auth_cached", "http://clerk_authd", VERDICT_CACHE)}
{_protected_location("/protected", "/_auth")}
{_protected_location("/cached", "/_auth_cached")}
  location = /plain {{
{KEEP_ALIVE}    proxy_pass http://upstream;
  }}
  }}
}}
"""


def nginx_path() -> str:
    """The ``nginx`` executable (Debian's ``nginx-light``), or how to get it."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if found is None:
        raise RuntimeError("nginx is not installed (apt-get install -y nginx-light)")
    return found


class Nginx:
    """nginx with ``nginx_config`` in its own prefix directory, on ports the caller got free from the kernel."""

    def __init__(self, prefix: Path, *, listen_port: int, upstream_port: int, service_url: str) -> None:
        self.prefix = prefix
        self.url = f"http://127.0.0.1:{listen_port}"
        (prefix / "tmp").mkdir(parents=True, exist_ok=True)
        memory = Path("/dev/shm")  # noqa: S108 - a private directory made inside it, removed at stop
        self._cache = Path(tempfile.mkdtemp(prefix="clerk-authd-verdicts-", dir=memory if memory.is_dir() else prefix))
        self._cache.chmod(0o755)
        self._config = prefix / "nginx.conf"
        self._config.write_text(
            nginx_config(
                prefix, self._cache, listen_port=listen_port, upstream_port=upstream_port, service_url=service_url
            )
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout_s: float = 10.0) -> None:
        """Start nginx and wait until ``/plain`` answers."""
        command = [nginx_path(), "-p", str(self.prefix), "-c", str(self._config), "-e", str(self.prefix / "error.log")]
        self._process = subprocess.Popen(  # noqa: S603  # nginx from PATH, our own config
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = (self.prefix / "error.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"nginx exited with {self._process.returncode}:\n{log}")
            with contextlib.suppress(URLError, OSError), urlopen(f"{self.url}/plain", timeout=1):  # noqa: S310
                return
            time.sleep(0.1)
        raise RuntimeError(f"nginx did not answer within {ready_timeout_s:g}s")

    def stop(self) -> None:
        """Stop nginx's process group (quit, then kill) and remove the cached verdicts."""
        process, self._process = self._process, None
        if process is not None:
            stop_process_group(process)
        shutil.rmtree(self._cache, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
