"""``clerk-authd serve``: resolve the settings (flags over environment over ``.env``), listen, and run.

Sanic is imported only when the service really starts, so the other subcommands stay light."""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import socket
import sys
import tempfile
from functools import partial
from typing import Final

from clerk_authd.cli.dev_token import default_azp
from clerk_authd.cli.exits import EXIT_CONFIG, EXIT_OK
from clerk_authd.config import Settings, load_settings, read_sources
from clerk_authd.testing.dev_issuer import DevIssuer, dev_token, refuse_live_keys, state_dir

#: connections the kernel queues before a worker accepts them (Sanic's default)
_BACKLOG: Final = 100


def _flag_overrides(args: argparse.Namespace) -> dict[str, str]:
    flags = {"CLERK_AUTHD_HOST": args.host, "CLERK_AUTHD_PORT": args.port, "CLERK_AUTHD_WORKERS": args.workers}
    return {name: str(value) for name, value in flags.items() if value is not None}


def serve(args: argparse.Namespace) -> int:
    """``serve``: resolve the settings (flags over environment over .env), listen, and run until stopped."""
    source = read_sources(args.env_file)
    overrides = _flag_overrides(args)
    issuer: DevIssuer | None = None
    if args.dev:
        refuse_live_keys({**source, **overrides})
        issuer = DevIssuer(state_dir(source))
        issuer.start()
        overrides.update(issuer.overrides())
    try:
        settings = load_settings(source, overrides)
        try:
            sock = listen(settings.host, settings.port)
        except OSError as exc:
            print(
                f"clerk-authd: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr
            )
            return EXIT_CONFIG
        with sock:
            print(f"clerk-authd: listening on {listen_url(sock)}", flush=True)
            if issuer is not None:
                _print_dev_welcome(settings, issuer, sock)
            run(settings, sock)
    finally:
        if issuer is not None:
            issuer.stop()
    return EXIT_OK


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here rather than by Sanic so that ``--port 0`` works: the kernel picks a free
    port, ``serve`` prints it, and every worker inherits the same socket (``OSError`` when it cannot be bound)."""
    from sanic.server.socket import bind_socket  # noqa: PLC0415 - only serve needs Sanic

    return bind_socket(host, port, backlog=_BACKLOG)


def listen_url(sock: socket.socket, *, reachable: bool = False) -> str:
    """``http://host:port`` of a listening socket; ``reachable`` puts loopback for a wildcard address."""
    host, port = sock.getsockname()[:2]
    if reachable and host in ("0.0.0.0", "::"):  # noqa: S104 - compared, not bound
        host = "127.0.0.1" if sock.family == socket.AF_INET else "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _print_dev_welcome(settings: Settings, issuer: DevIssuer, sock: socket.socket) -> None:
    token = dev_token(issuer.mint, azp=default_azp(settings.authorized_parties))
    print(f"clerk-authd: development issuer at {issuer.url} (not for production)", flush=True)
    print(f"curl -i -H 'Authorization: Bearer {token}' {listen_url(sock, reachable=True)}/verify", flush=True)


def run(settings: Settings, sock: socket.socket) -> None:
    """Serve ``settings`` on ``sock``: one worker in this process, or Sanic's worker manager with one process per
    worker (each builds the app from the same settings and accepts on the same socket)."""
    from sanic import Sanic  # noqa: PLC0415 - only serve needs Sanic's worker machinery
    from sanic.worker.loader import AppLoader  # noqa: PLC0415 - same reason

    from clerk_authd.service.app import create_app  # noqa: PLC0415 - same reason
    from clerk_authd.service.limits import protocol_of  # noqa: PLC0415 - same reason

    single = settings.workers == 1
    if not single and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        directory = tempfile.mkdtemp(prefix="clerk-authd-metrics-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # read by each worker's prometheus_client at import
    loader = AppLoader(factory=partial(create_app, settings))
    app = loader.load()
    app.prepare(
        sock=sock,
        workers=settings.workers,
        single_process=single,
        access_log=False,
        motd=False,
        protocol=protocol_of(app),
    )
    if single:
        Sanic.serve_single(primary=app)
    else:
        Sanic.serve(primary=app, app_loader=loader)
