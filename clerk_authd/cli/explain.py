"""``clerk-authd explain``: every check of a token with its verdict, the request state and the auth object.

The failed check is the one the verification error names (``TokenVerificationError.check``); the token itself
is never printed, only a fingerprint."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Final

from clerk_authd.clerk.cache import token_digest
from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.clerk.runtime import ClerkRuntime
from clerk_authd.clerk.tokens import verify_session_token
from clerk_authd.cli.exits import EXIT_FAILED, EXIT_OK
from clerk_authd.config import Settings, load_settings, read_sources
from clerk_authd.errors import CHECKS, TokenVerificationError
from clerk_authd.js.values import js_json
from clerk_authd.rules.jwt import looks_like_jwt, peek_jwt
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.tokentypes import API_KEY_PREFIX, M2M_TOKEN_PREFIX, OAUTH_TOKEN_PREFIX, accepts_option
from clerk_authd.testing.dev_issuer import dev_mint, dev_variables, refuse_live_keys, state_dir

#: the variables that name a key; with none of them set, explain checks against the development issuer
_KEY_VARIABLES: Final = ("CLERK_SECRET_KEY", "CLERK_PUBLISHABLE_KEY", "CLERK_JWT_KEY")
#: an opaque token is secret after its type prefix, so explain shows no more of it
_OPAQUE_PREFIXES: Final = (API_KEY_PREFIX, M2M_TOKEN_PREFIX, OAUTH_TOKEN_PREFIX)


def explain(args: argparse.Namespace) -> int:
    """``explain``: every check of a token with its verdict, the request state and the auth object."""
    token = sys.stdin.read().strip() if args.token == "-" else args.token.strip()
    source = read_sources(args.env_file)
    keyless = not any(source.get(name, "").strip() for name in _KEY_VARIABLES)
    if args.dev or keyless:
        refuse_live_keys(source)
        print("configuration: the development issuer of serve --dev" + (" (no key is set)" if keyless else ""))
        settings = load_settings(source, dev_variables(dev_mint(state_dir(source)), api_url=None))
    else:
        settings = load_settings(source, require_keys=False)
    report, ok = asyncio.run(explain_token(token, settings))
    print(report)
    return EXIT_OK if ok else EXIT_FAILED


def fingerprint(token: str) -> str:
    """How explain names a token: what kind it is, its length and a digest; never any of its secret.

    A JWT's first characters are its base64url header (``eyJhbGciOi``), public, so they are shown; an opaque
    token (``ak_``, ``mt_``, ``oat_``) is all secret after its prefix, so only the prefix is.
    """
    if looks_like_jwt(token):
        shown = token[:12]
    else:
        shown = next((prefix for prefix in _OPAQUE_PREFIXES if token.startswith(prefix)), "")
    return f"{shown}… ({len(token)} chars, blake2b {token_digest(token).hex()[:16]})"


async def explain_token(token: str, settings: Settings) -> tuple[str, bool]:
    """The report of ``explain`` and whether the token verifies, with the settings' keys and checks."""
    lines = [f"token     {fingerprint(token)}"]
    decoded = peek_jwt(token)
    if decoded is not None:
        lines.append(f"header    {js_json(decoded.header)}")
        lines.append(f"claims    {js_json(decoded.payload)}")
    runtime = ClerkRuntime(settings)
    await runtime.open()
    try:
        options = AuthenticateOptions.from_settings(settings).verify_options(runtime.keys, time.time)
        try:
            await verify_session_token(token, options)
            failed, failure = None, ""
        except TokenVerificationError as exc:
            failed, failure = exc.check, exc.full_message()
        lines.extend(_check_lines(failed, failure))
        state_lines, signed_in = await _state_lines(token, runtime)
    finally:
        await runtime.close()
    return "\n".join([*lines, *state_lines]), failed is None and signed_in


def _check_lines(failed: str | None, failure: str) -> list[str]:
    """Each check: ``ok`` before the failure, ``FAIL`` with Clerk's message, ``-`` (not reached) after it."""
    lines = ["checks    (Clerk's order; the first failure decides)"]
    reached = True
    for name in CHECKS:
        if not reached:
            lines.append(f"  -     {name:<10} not reached")
        elif name == failed:
            lines.append(f"  FAIL  {name:<10} {failure}")
            reached = False
        else:
            lines.append(f"  ok    {name}")
    return lines


async def _state_lines(token: str, runtime: ClerkRuntime) -> tuple[list[str], bool]:
    """Clerk's request state for the token in an ``Authorization`` header, and its auth object."""
    view = RequestView.build("GET", "http://localhost/", [("authorization", f"Bearer {token}")])
    state = await runtime.authenticate(view, accepts_token=accepts_option(runtime.settings.accepts_token))
    detail = f" ({state.reason}) {state.message or ''}".rstrip() if state.reason else ""
    auth = state.to_auth()
    rendered = js_json(auth.to_json(include_claims=False)) if auth is not None else "null"
    return [f"state     {state.status}{detail}", f"auth      {rendered}"], state.status == "signed-in"
