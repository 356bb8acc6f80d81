"""``clerk-authd proxy-config PROXY``: print a complete, runnable configuration for PROXY (api.md §4).

The recipe is built from the current settings (the service's address and ``accepts``) and the flags; the
integration tests run exactly this output and ``deploy/`` holds it for the default settings. HAProxy's recipe is
several files (HAProxy's Lua action, Traefik's dynamic configuration): the main one is printed, ``--file NAME``
prints another, and ``--list-files`` names them all.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from clerk_authd.cli.exits import EXIT_CONFIG, EXIT_OK
from clerk_authd.config import load_settings, read_sources
from clerk_authd.recipes import PROXIES, RecipeError, options_from_settings, render


def add_parser(commands: Any) -> None:
    """Register ``proxy-config`` on the subcommand parsers of ``clerk-authd``."""
    parser = commands.add_parser("proxy-config", help="print a runnable proxy configuration")
    parser.add_argument("proxy", choices=PROXIES)
    parser.add_argument("--listen", help="HOST:PORT the proxy listens on (default 127.0.0.1:8080)")
    parser.add_argument("--upstream", help="http://HOST:PORT of the application (default http://127.0.0.1:3000)")
    parser.add_argument("--authd", help="http://HOST:PORT of clerk-authd (default: CLERK_AUTHD_HOST:CLERK_AUTHD_PORT)")
    parser.add_argument("--requirements", default="", help="query of requirements, e.g. permission=org:x:read")
    parser.add_argument(
        "--verdict-cache",
        metavar="DIR",
        help="nginx only: keep allowed answers in DIR (a tmpfs) for their max-age; off by default",
    )
    parser.add_argument("--file", help="print this file of the recipe instead of its main one")
    parser.add_argument("--list-files", action="store_true", help="print the names of the recipe's files")
    parser.add_argument("--env-file", help="read variables from this file instead of ./.env")


def run(args: argparse.Namespace) -> int:
    """Print the recipe; 2 with a message naming the bad option."""
    settings = load_settings(read_sources(args.env_file), require_keys=False)
    try:
        options = options_from_settings(
            settings,
            listen=args.listen,
            upstream=args.upstream,
            authd=args.authd,
            requirements=args.requirements,
            verdict_cache=args.verdict_cache,
        )
        files = render(args.proxy, options)
    except RecipeError as exc:
        print(f"clerk-authd: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.list_files:
        sys.stdout.write("".join(f"{name}\n" for name in files))
        return EXIT_OK
    name = args.file if args.file is not None else next(iter(files))
    if name not in files:
        print(f"clerk-authd: --file: the {args.proxy} recipe has {', '.join(files)}", file=sys.stderr)
        return EXIT_CONFIG
    sys.stdout.write(files[name])
    return EXIT_OK
