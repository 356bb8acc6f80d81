"""``clerk-authd``: run the service, try it without a Clerk account, check a deployment, explain a token.

::

    clerk-authd serve [--host H] [--port P] [--workers N] [--env-file F] [--dev]
    clerk-authd dev-token [--user U] [--session S] [--org O] [--role R] [--permissions P,..] [--ttl S] [--claims JSON]
    clerk-authd check [--env-file F]
    clerk-authd explain (TOKEN | -) [--env-file F]

Configuration is read from the environment and ``.env`` (or ``--env-file``); flags win (api.md §1).
Exit codes: 0 success, 1 a check failed (``check``, ``explain``), 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Final

import orjson

from clerk_authd.clerk.authenticate import AuthenticateOptions
from clerk_authd.clerk.cache import token_digest
from clerk_authd.clerk.tokens import verify_session_token
from clerk_authd.cli import proxy_config
from clerk_authd.config import Settings, load_settings, read_sources
from clerk_authd.errors import ConfigError, TokenVerificationError
from clerk_authd.js.values import js_json
from clerk_authd.reasons import Reason
from clerk_authd.rules.jwt import peek_jwt
from clerk_authd.rules.request import RequestView
from clerk_authd.testing.dev_issuer import (
    DEFAULT_AZP,
    DevIssuer,
    dev_mint,
    dev_token,
    dev_variables,
    parse_claims,
    refuse_live_keys,
    state_dir,
)

if TYPE_CHECKING:
    from clerk_authd.clerk.runtime import ClerkRuntime

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_CONFIG: Final = 2
_KEY_VARIABLES: Final = ("CLERK_SECRET_KEY", "CLERK_PUBLISHABLE_KEY", "CLERK_JWT_KEY")
#: connections the kernel queues before a worker accepts them (Sanic's default)
_BACKLOG: Final = 100


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="clerk-authd", description="Decide requests exactly as Clerk does.")
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
    proxy_config.add_parser(commands)
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
            return proxy_config.run(args)
        return explain(args)
    except ConfigError as exc:
        print(f"clerk-authd: {exc}", file=sys.stderr)
        return EXIT_CONFIG


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
    token = dev_token(issuer.mint, azp=_default_azp(settings.authorized_parties))
    print(f"clerk-authd: development issuer at {issuer.url} (not for production)", flush=True)
    print(f"curl -i -H 'Authorization: Bearer {token}' {listen_url(sock, reachable=True)}/verify", flush=True)


def run(settings: Settings, sock: socket.socket) -> None:
    """Serve ``settings`` on ``sock``: one worker in this process, or Sanic's worker manager with one process per
    worker (each builds the app from the same settings and accepts on the same socket)."""
    from sanic import Sanic  # noqa: PLC0415 - only serve needs Sanic's worker machinery
    from sanic.worker.loader import AppLoader  # noqa: PLC0415 - same reason

    from clerk_authd.service.app import create_app  # noqa: PLC0415 - same reason

    single = settings.workers == 1
    if not single and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        directory = tempfile.mkdtemp(prefix="clerk-authd-metrics-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # read by each worker's prometheus_client at import
    loader = AppLoader(factory=partial(create_app, settings))
    app = loader.load()
    app.prepare(sock=sock, workers=settings.workers, single_process=single, access_log=False, motd=False)
    if single:
        Sanic.serve_single(primary=app)
    else:
        Sanic.serve(primary=app, app_loader=loader)


def _default_azp(authorized_parties: tuple[str, ...]) -> str:
    return authorized_parties[0] if authorized_parties else DEFAULT_AZP


def print_dev_token(args: argparse.Namespace) -> int:
    """``dev-token``: a token signed with the development key (the same key ``serve --dev`` publishes)."""
    source = read_sources(args.env_file)
    parties = tuple(p.strip() for p in source.get("CLERK_AUTHORIZED_PARTIES", "").split(",") if p.strip())
    try:
        claims = parse_claims(args.claims) if args.claims else None
        permissions = tuple(p.strip() for p in args.permissions.split(",") if p.strip())
        token = dev_token(
            dev_mint(state_dir(source)),
            user=args.user,
            session=args.session,
            org=args.org,
            role=args.role,
            permissions=permissions,
            ttl_s=args.ttl,
            azp=_default_azp(parties),
            claims=claims,
        )
    except ValueError as exc:
        print(f"clerk-authd dev-token: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(token)
    return EXIT_OK


def check(args: argparse.Namespace) -> int:
    """``check``: the resolved configuration (secrets masked), then one JWKS fetch; non-zero on failure."""
    settings = load_settings(read_sources(args.env_file))
    print(orjson.dumps(settings.masked(), option=orjson.OPT_INDENT_2).decode())
    return asyncio.run(_check_keys(settings))


async def _check_keys(settings: Settings) -> int:
    from clerk_authd.clerk.runtime import ClerkRuntime  # noqa: PLC0415 - keeps dev-token free of Sanic's import cost

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


# --- explain ---------------------------------------------------------------------------------------------------

#: verifyToken's checks in Clerk's order (tokens.py), then our opt-in sid check
CHECKS: Final = (
    "format",
    "header",
    "key",
    "typ",
    "alg",
    "signature",
    "sub",
    "aud",
    "azp",
    "iss",
    "exp",
    "nbf",
    "iat",
    "sid",
)
_REASON_CHECKS: Final = {
    Reason.JWK_KID_MISMATCH: "key",
    Reason.JWK_FAILED_TO_RESOLVE: "key",
    Reason.JWK_LOCAL_MISSING: "key",
    Reason.JWK_REMOTE_FAILED_TO_LOAD: "key",
    Reason.SECRET_KEY_INVALID: "key",
    Reason.TOKEN_INVALID_ALGORITHM: "alg",
    Reason.TOKEN_INVALID_SIGNATURE: "signature",
    Reason.TOKEN_INVALID_AUTHORIZED_PARTIES: "azp",
    Reason.TOKEN_INVALID_ISSUER: "iss",
    Reason.TOKEN_EXPIRED: "exp",
    Reason.TOKEN_NOT_ACTIVE_YET: "nbf",
    Reason.TOKEN_IAT_IN_THE_FUTURE: "iat",
}
#: the other failures, told apart by the start of Clerk's message
_MESSAGE_CHECKS: Final = (
    ("Invalid session token category", "header"),
    ("Unsupported JWT header", "header"),
    ("Invalid JWT type", "typ"),
    ("Error verifying JWT signature", "alg"),
    ("Subject claim", "sub"),
    ("Invalid JWT audience", "aud"),
    ("Session claim (sid)", "sid"),
    ("JWT expiry date claim (exp) is too far", "exp"),
)


def failed_check(error: TokenVerificationError) -> str:
    """Which of ``CHECKS`` a verification error comes from."""
    if error.reason in _REASON_CHECKS:
        return _REASON_CHECKS[error.reason]
    for prefix, name in _MESSAGE_CHECKS:
        if error.message.startswith(prefix):
            return name
    for name in ("exp", "nbf", "iat"):  # a time claim that is not a number names itself
        if f"({name})" in error.message:
            return name
    return "format"


def fingerprint(token: str) -> str:
    """How explain names a token: its first characters, its length and a digest; never the whole token."""
    return f"{token[:12]}… ({len(token)} chars, blake2b {token_digest(token).hex()[:16]})"


async def explain_token(token: str, settings: Settings) -> tuple[str, bool]:
    """The report of ``explain`` and whether the token verifies, with the settings' keys and checks."""
    from clerk_authd.clerk.runtime import ClerkRuntime  # noqa: PLC0415 - keeps dev-token light

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
            failed, failure = failed_check(exc), exc.full_message()
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
    from clerk_authd.rules.tokentypes import accepts_option  # noqa: PLC0415 - as on main; the integrator splits this file

    view = RequestView.build("GET", "http://localhost/", [("authorization", f"Bearer {token}")])
    state = await runtime.authenticate(view, accepts_token=accepts_option(runtime.settings.accepts_token))
    detail = f" ({state.reason}) {state.message or ''}".rstrip() if state.reason else ""
    auth = state.to_auth()
    rendered = js_json(auth.to_json(include_claims=False)) if auth is not None else "null"
    return [f"state     {state.status}{detail}", f"auth      {rendered}"], state.status == "signed-in"
