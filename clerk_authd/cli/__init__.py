"""``clerk-authd``: run the service, try it without a Clerk account, check a deployment, explain a token.

::

    clerk-authd serve [--host H] [--port P] [--workers N] [--env-file F] [--dev]
    clerk-authd dev-token [--user U] [--session S] [--org O] [--role R] [--permissions P,..] [--ttl S] [--claims JSON]
    clerk-authd check [--env-file F]
    clerk-authd explain (TOKEN | -) [--env-file F]
    clerk-authd proxy-config PROXY [--listen H:P] [--upstream URL] [--authd URL] [--requirements Q]
                             [--verdict-cache DIR] [--file F]
    clerk-authd --version

Configuration is read from the environment and ``.env`` (or ``--env-file``); flags win (api.md §1).
Exit codes: 0 success, 1 a check failed (``check``, ``explain``), 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from clerk_authd.cli.check import check
from clerk_authd.cli.dev_token import print_dev_token
from clerk_authd.cli.exits import EXIT_CONFIG
from clerk_authd.cli.explain import explain
from clerk_authd.cli.proxy_config import add_parser as add_proxy_config
from clerk_authd.cli.proxy_config import run as proxy_config
from clerk_authd.cli.serve import serve
from clerk_authd.errors import ConfigError
from clerk_authd.version import __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="clerk-authd", description="Decide requests exactly as Clerk does.")
    parser.add_argument("--version", action="version", version=f"clerk-authd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--host", help="listen address (CLERK_AUTHD_HOST, default 127.0.0.1)")
    serve.add_argument("--port", help="listen port (CLERK_AUTHD_PORT, default 8787)")
    serve.add_argument("--workers", help="worker processes (CLERK_AUTHD_WORKERS, default 1)")
    serve.add_argument("--env-file", help="read variables from this file instead of ./.env")
    serve.add_argument("--dev", action="store_true", help="use an embedded development issuer (no Clerk account)")

    token = commands.add_parser("dev-token", help="print a token that a --dev server accepts")
    token.add_argument("--user", default="user_dev", help="sub (default user_dev)")
    token.add_argument("--session", default="sess_dev", help="sid (default sess_dev)")
    token.add_argument("--org", help="active organization id (org_...)")
    token.add_argument("--role", help="role in the organization (admin, org:admin)")
    token.add_argument("--permissions", default="", help="comma list of org:<feature>:<permission>")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until exp (default 3600)")
    token.add_argument("--claims", help="JSON object of extra claims, merged over the defaults")
    token.add_argument("--env-file", help="read variables from this file instead of ./.env")

    check = commands.add_parser("check", help="print the resolved configuration and fetch the JWKS once")
    check.add_argument("--env-file", help="read variables from this file instead of ./.env")

    explain = commands.add_parser("explain", help="decode and verify a token, check by check")
    explain.add_argument("token", help="the token, or - to read it from standard input")
    explain.add_argument("--env-file", help="read variables from this file instead of ./.env")
    explain.add_argument(
        "--dev", action="store_true", help="check against the development issuer (the default when no key is set)"
    )
    add_proxy_config(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``clerk-authd``; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args)
        if args.command == "dev-token":
            return print_dev_token(args)
        if args.command == "check":
            return check(args)
        if args.command == "proxy-config":
            return proxy_config(args)
        return explain(args)
    except ConfigError as exc:
        print(f"clerk-authd: {exc}", file=sys.stderr)
        return EXIT_CONFIG
