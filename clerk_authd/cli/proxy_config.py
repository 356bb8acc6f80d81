"""``clerk-authd proxy-config PROXY``: print a complete, runnable configuration for PROXY (api.md §4).

The recipe is built from the current settings (the service's address and ``accepts``) and the flags; the
integration tests run exactly this output and ``deploy/`` holds it for the default settings. HAProxy's recipe is
two files: ``haproxy.cfg`` on standard output, and with ``--lua`` the Lua action it loads.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from clerk_authd.config import load_settings, read_sources
from clerk_authd.recipes import PROXIES, RecipeError, options_from_settings, render

EXIT_OK = 0
EXIT_USAGE = 2


def add_parser(commands: Any) -> None:
    """Register ``proxy-config`` on the subcommand parsers of ``clerk-authd``."""
    parser = commands.add_parser("proxy-config", help="print a runnable proxy configuration")
    parser.add_argument("proxy", choices=PROXIES)
    parser.add_argument("--listen", help="HOST:PORT the proxy listens on (default 127.0.0.1:8080)")
    parser.add_argument("--upstream", help="http://HOST:PORT of the application (default http://127.0.0.1:3000)")
    parser.add_argument("--authd", help="http://HOST:PORT of clerk-authd (default: CLERK_AUTHD_HOST:CLERK_AUTHD_PORT)")
    parser.add_argument("--requirements", default="", help="query of requirements, e.g. permission=org:x:read")
    parser.add_argument("--lua", action="store_true", help="haproxy: print the Lua action instead of haproxy.cfg")
    parser.add_argument("--env-file", help="read variables from this file instead of ./.env")


def run(args: argparse.Namespace) -> int:
    """Print the recipe; 2 with a message naming the bad option."""
    settings = load_settings(read_sources(args.env_file), require_keys=False)
    try:
        options = options_from_settings(
            settings, listen=args.listen, upstream=args.upstream, authd=args.authd, requirements=args.requirements
        )
        files = render(args.proxy, options)
    except RecipeError as exc:
        print(f"clerk-authd: {exc}", file=sys.stderr)
        return EXIT_USAGE
    names = list(files)
    if args.lua and len(names) < 2:
        print(f"clerk-authd: --lua: the {args.proxy} recipe has no Lua action", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(files[names[1] if args.lua else names[0]])
    return EXIT_OK
