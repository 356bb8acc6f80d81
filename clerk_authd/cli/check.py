"""``clerk-authd check``: the resolved configuration with secrets masked, then one JWKS fetch."""

from __future__ import annotations

import argparse
import asyncio
import sys

import orjson

from clerk_authd.clerk.runtime import ClerkRuntime
from clerk_authd.cli.exits import EXIT_FAILED, EXIT_OK
from clerk_authd.config import Settings, load_settings, read_sources


def check(args: argparse.Namespace) -> int:
    """``check``: the resolved configuration (secrets masked), then one JWKS fetch; non-zero on failure."""
    settings = load_settings(read_sources(args.env_file))
    print(orjson.dumps(settings.masked(), option=orjson.OPT_INDENT_2).decode())
    return asyncio.run(_check_keys(settings))


async def _check_keys(settings: Settings) -> int:
    runtime = ClerkRuntime(settings)
    await runtime.open()
    try:
        status = runtime.key_status()
    finally:
        await runtime.close()
    if settings.jwt_key:
        print("keys: CLERK_JWT_KEY (networkless): ok")
    elif status.ready:
        print(f"keys: fetched the JWKS from {settings.api_url}: {len(status.kids)} usable ({', '.join(status.kids)})")
    else:
        print(f"keys: FAILED: {status.last_error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
