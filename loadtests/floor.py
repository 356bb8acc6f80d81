"""``python -m loadtests.floor``: the Sanic floor, the fastest answer a Sanic worker gives (an empty 200).

The benchmark's denominator: the same framework, event loop and connection handling as ``clerk-authd serve``
(one process, access log off, keep-alive on, uvloop when installed), and no work at all, so a scenario's ratio
over it is what clerk_authd's own work costs. It binds the socket the way ``serve`` does (``--port 0`` lets
the kernel pick) and prints ``sanic-floor: listening on <url>``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from clerk_authd.cli.serve import listen, listen_url


async def empty(request: Request, path: str = "") -> HTTPResponse:
    """An empty 200, whatever the path and method."""
    return HTTPResponse()


def floor_app() -> Sanic[Any, Any]:
    """One route for every path and method, with the settings ``clerk-authd serve`` uses."""
    app: Sanic[Any, Any] = Sanic("sanic_floor", configure_logging=False)
    app.config.ACCESS_LOG = False
    app.config.MOTD = False
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    app.add_route(empty, "/", methods=methods, name="root")
    app.add_route(empty, "/<path:path>", methods=methods)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the floor on ``--host``/``--port`` in this process until stopped."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sock = listen(args.host, args.port)
    print(f"sanic-floor: listening on {listen_url(sock)}", flush=True)
    app = floor_app()
    app.prepare(sock=sock, single_process=True, access_log=False, motd=False)
    Sanic.serve_single(primary=app)


if __name__ == "__main__":
    main()
