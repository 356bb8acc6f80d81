"""``python -m loadtests.bench``: clerk_authd side by side with the Sanic floor and ``@clerk/express``, in one run.

It starts FakeClerk (in a thread) and mints the token pools with its key, then, one server at a time: the Sanic
floor (``loadtests/floor.py``: an empty 200), ``clerk-authd serve`` (one worker, default settings: cache on,
info-level decision log; then with the cache off, with the log off, and with ``--workers 2``), nginx in front
of the service (``loadtests/nginx.py``) and the real ``@clerk/express`` (``loadtests/peer``: ``clerkMiddleware``
and ``getAuth`` against the same FakeClerk). Each scenario is a bounded wrk run (one thread, the same number of
connections for every server, 8 for the latency rows) after one request checked by hand; every server is
stopped whatever happens. Then it measures memory: RSS after caching many distinct tokens (``memory.py``, in a
fresh process) and before and after a flood of distinct invalid tokens at the running service.

It prints the table and the ratios against the issue's targets, and writes ``bench.json``, ``bench.md`` and
``bench.png`` to ``--out``. It exits 1 when an answer was of the wrong kind (a 200 where a 401 belongs): a
benchmark of wrong answers measures nothing. Why wrk and one thread: the machine has two cores, one for the
server's worker and one for the load generator, and wrk, in C, leaves the server the bottleneck where a Python
generator would not.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from clerk_authd.rules.jwt import peek_jwt
from clerk_authd.testing.fake_clerk import FakeClerk, FakeClerkThread
from loadtests import ORIGINAL_REQUEST, original_request_headers
from loadtests.nginx import Nginx
from loadtests.report import Memory, ScenarioResult, chart, markdown, render, to_json
from loadtests.servers import LOOPBACK, ServerProcess, Usage, http_request, log_tail
from loadtests.tokens import AUTHORIZED_PARTY, GRANTED_PERMISSION, TokenPools, mint_pools
from loadtests.wrk import Expect, Request, WrkResult, run_wrk

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
PEER_DIR: Final = Path(__file__).resolve().parent / "peer"
#: a browser's XHR from the app's page: not a navigation, so never a handshake
BROWSER_XHR: Final = {"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors", "Accept": "*/*"}
#: a flood token's signature: 256 bytes of base64url (342 characters), the last 13 a counter and ``A``
_FLOOD_SIGNATURE_CHARS: Final = 342
_FLOOD_COUNTER_DIGITS: Final = 12


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=_positive, default=5, help="seconds per scenario (default 5)")
    parser.add_argument("--connections", type=_positive, default=32, help="wrk connections (default 32)")
    parser.add_argument("--pool", type=_positive, default=2000, help="distinct tokens for uncached (default 2000)")
    parser.add_argument("--cached-tokens", type=_positive, default=100_000, help="for the memory figure")
    parser.add_argument("--flood", type=_positive, default=1_000_000, help="distinct invalid tokens (default 1M)")
    parser.add_argument("--quick", action="store_true", help="1 s scenarios and small pools (the smoke test)")
    parser.add_argument("--no-peer", action="store_true", help="skip @clerk/express (needs node and npm ci)")
    parser.add_argument("--no-nginx", action="store_true", help="skip the nginx scenarios")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="where the JSON, Markdown, PNG go")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.pool, args.cached_tokens, args.flood = 1, 100, 2000, 1000
    return args


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


@dataclass(frozen=True, slots=True)
class Scenario:
    """One wrk run: ``request`` at ``url_path`` of a server, expecting answers of one kind (``exact`` status)."""

    name: str
    request: Request
    expect: Expect
    exact: int
    connections: int = 0  # 0: the run's --connections


def free_port() -> int:
    """A port the kernel says is free now, for nginx, which cannot report the port it bound."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


class Bench:
    """The servers, pools and results of one run."""

    def __init__(self, args: argparse.Namespace, fake: FakeClerk, workdir: Path) -> None:
        self.args = args
        self.fake = fake
        self.workdir = workdir
        self.results: dict[str, ScenarioResult] = {}
        #: every server's URL, so the smoke test can check that nothing listens there any more
        self.urls: dict[str, str] = {}
        progress(f"minting {args.pool + 51} tokens")
        self.pools: TokenPools = mint_pools(fake, valid=1, fresh=args.pool, bad_signature=50)
        self.pool_file = self._lines("pool.txt", self.pools.fresh)
        self.forged_file = self._lines("forged.txt", self.pools.bad_signature)
        self.token = self.pools.valid[0]

    def _lines(self, name: str, tokens: Sequence[str]) -> Path:
        path = self.workdir / name
        path.write_text("\n".join(tokens) + "\n")
        return path

    # -- the requests ----------------------------------------------------------------------------------------

    def bearer(self, path: str = "/verify", token: str | None = None) -> Request:
        """``path`` with the reused valid token (a cache hit after the first request)."""
        headers = {**original_request_headers(path), "Authorization": f"Bearer {token or self.token}"}
        return Request(path, headers=headers)

    def pooled(self, pool: Path, path: str = "/verify") -> Request:
        """``path`` with each token of ``pool`` in turn."""
        return Request(path, headers=original_request_headers(path), vary="Authorization", prefix="Bearer ", pool=pool)

    def cookie(self, path: str = "/verify") -> Request:
        """A browser XHR with ``__session``, ``__client_uat`` (the session's sign-in time) and, as FakeClerk is a
        development instance, the dev browser cookie its browsers carry."""
        decoded = peek_jwt(self.token)
        if decoded is None:
            raise RuntimeError("the benchmark's own token does not decode")
        signed_in_at = int(decoded.payload["iat"]) - 60  # a client signed in before its token was issued
        cookie = f"__session={self.token}; __client_uat={signed_in_at}; __clerk_db_jwt=dvb_bench"
        return Request(path, headers={**original_request_headers(path), **BROWSER_XHR, "Cookie": cookie})

    def flood(self) -> Request:
        """A distinct forged token per request: a genuine header and payload, a counter for the signature."""
        head = self.token.rsplit(".", 1)[0] + "." + "A" * (_FLOOD_SIGNATURE_CHARS - _FLOOD_COUNTER_DIGITS - 1)
        return Request(
            "/verify",
            headers=ORIGINAL_REQUEST,
            vary="Authorization",
            prefix="Bearer ",
            flood=(head, _FLOOD_COUNTER_DIGITS),
        )

    # -- running ---------------------------------------------------------------------------------------------

    def run(self, server_name: str, url: str, scenario: Scenario, usage: ServerProcess | None) -> ScenarioResult:
        """Check one request by hand, then run ``scenario`` with wrk; record and return its result."""
        self.urls[server_name] = url
        self._check_one(url, scenario)
        connections = scenario.connections or self.args.connections
        progress(f"{scenario.name}: {server_name}, {connections} connections, {self.args.duration}s")
        before = usage.usage() if usage is not None else Usage(0, 0.0)
        measured = run_wrk(
            url,
            scenario.request,
            connections=connections,
            seconds=self.args.duration,
            script=self.workdir / f"{scenario.name}.lua",
        )
        after = usage.usage() if usage is not None else Usage(0, 0.0)
        result = _result(scenario, server_name, connections, measured, after.cpu_s - before.cpu_s)
        self.results[scenario.name] = result
        return result

    def _check_one(self, url: str, scenario: Scenario) -> None:
        """One request of ``scenario`` by hand: a server that answers wrongly fails the run before wrk runs."""
        request = scenario.request
        headers = dict(request.headers)
        if request.vary:
            first = (
                request.pool.read_text().split("\n", 1)[0]
                if request.pool is not None
                else f"{request.flood[0]}{0:0{request.flood[1]}d}A"
                if request.flood is not None
                else ""
            )
            headers[request.vary] = request.prefix + first + request.suffix
        status, body = http_request(url, request.path, headers, request.method)
        if status != scenario.exact:
            raise RuntimeError(f"{scenario.name}: expected {scenario.exact}, got {status}: {body[:500]}")

    def warm(self, url: str, request: Request) -> None:
        """One second of load, unmeasured: the caches and (for Node) the JIT warm before the first row
        (not in ``--quick`` mode, whose figures are not for reading)."""
        if self.args.quick:
            return
        run_wrk(url, request, connections=self.args.connections, seconds=1, script=self.workdir / "warm.lua")

    @contextmanager
    def clerk_authd(self, name: str, *, workers: int = 1, **overrides: str) -> Iterator[ServerProcess]:
        """``clerk-authd serve`` against FakeClerk with default settings, plus ``overrides``."""
        config = {
            "CLERK_API_URL": self.fake.url,
            "CLERK_SECRET_KEY": self.fake.secret_key,
            "CLERK_PUBLISHABLE_KEY": self.fake.publishable_key,
            "CLERK_AUTHORIZED_PARTIES": AUTHORIZED_PARTY,
            **overrides,
        }
        with ServerProcess.clerk_authd(config, workers=workers, workdir=self.workdir / name, name=name) as server:
            yield server


def _result(scenario: Scenario, server: str, connections: int, measured: WrkResult, cpu_s: float) -> ScenarioResult:
    return ScenarioResult(
        name=scenario.name,
        server=server,
        connections=connections,
        requests=measured.requests,
        wrong=measured.wrong_answers(scenario.expect),
        duration_s=measured.duration_s,
        p50_ms=measured.p50_ms,
        p99_ms=measured.p99_ms,
        server_cpu_s=cpu_s,
    )


def run_all(bench: Bench) -> Memory:
    """Every server and scenario in turn, then the memory figures."""
    args = bench.args
    ok: Expect = "ok"
    rejected: Expect = "rejected"
    floor_request = bench.bearer()
    cached = Scenario("cached", bench.bearer(), ok, 200)
    floor_args = [sys.executable, "-m", "loadtests.floor"]
    with ServerProcess(
        floor_args, {"PYTHONPATH": str(REPO_ROOT)}, workdir=bench.workdir / "floor", name="floor", ready_path="/"
    ) as floor:
        bench.warm(floor.url, floor_request)
        bench.run("sanic-floor", floor.url, Scenario("floor", floor_request, ok, 200), floor)
        bench.run("sanic-floor", floor.url, Scenario("floor_c8", floor_request, ok, 200, connections=8), floor)

    with bench.clerk_authd("clerk_authd") as service:
        url = service.url
        bench.warm(url, cached.request)
        for scenario in (
            cached,
            replace(cached, name="cached_c8", connections=8),
            Scenario("cookie", bench.cookie(), ok, 200),
            Scenario("signed_out", Request("/verify", headers=ORIGINAL_REQUEST), rejected, 401),
            Scenario("forged", bench.pooled(bench.forged_file), rejected, 401),
            Scenario("has", bench.bearer(f"/has?permission={GRANTED_PERMISSION}"), ok, 200),
            Scenario("forward_auth", bench.bearer("/forward-auth"), ok, 200),
        ):
            bench.run("clerk_authd", url, scenario, service)
        if not args.no_nginx:
            run_nginx(bench, service)
        memory_before = service.usage()
        forged_rps = bench.results["forged"].throughput_rps
        flood_seconds = max(1, math.ceil(args.flood / forged_rps))
        progress(f"flood: {args.flood} distinct invalid tokens, about {flood_seconds}s")
        flood = run_wrk(
            url,
            bench.flood(),
            connections=args.connections,
            seconds=flood_seconds,
            script=bench.workdir / "flood.lua",
        )
        flood_scenario = Scenario("flood", bench.flood(), rejected, 401)
        bench.results["flood"] = _result(flood_scenario, "clerk_authd", args.connections, flood, 0.0)
        memory_after = service.usage()
        bench.run("clerk_authd", url, replace(cached, name="after_flood"), service)

    with bench.clerk_authd("clerk_authd-nocache", CLERK_AUTHD_CACHE_SIZE="0") as service:
        uncached = Scenario("uncached", bench.pooled(bench.pool_file), ok, 200)
        bench.warm(service.url, uncached.request)
        bench.run("clerk_authd", service.url, uncached, service)
        bench.run("clerk_authd", service.url, replace(uncached, name="uncached_c8", connections=8), service)

    with bench.clerk_authd("clerk_authd-logoff", CLERK_AUTHD_LOG_LEVEL="warning") as service:
        bench.warm(service.url, cached.request)
        bench.run("clerk_authd log off", service.url, replace(cached, name="log_off"), service)

    with bench.clerk_authd("clerk_authd-w2", workers=2) as service:
        bench.warm(service.url, cached.request)
        bench.run("clerk_authd x2", service.url, replace(cached, name="workers2"), service)

    if not args.no_peer:
        run_peer(bench)

    cached_growth = cached_token_memory(args.cached_tokens)
    return Memory(
        cached_tokens=args.cached_tokens,
        cached_growth_bytes=cached_growth,
        flood_tokens=bench.results["flood"].requests,
        flood_rss_before_bytes=memory_before.rss_bytes,
        flood_rss_after_bytes=memory_after.rss_bytes,
    )


def run_nginx(bench: Bench, service: ServerProcess) -> None:
    """nginx with no auth, with ``auth_request`` on every request, and with the verdict cache."""
    prefix = bench.workdir / "nginx"
    with Nginx(prefix, listen_port=free_port(), upstream_port=free_port(), service_url=service.url) as nginx:
        bench.run("nginx", nginx.url, Scenario("nginx_plain", bench.bearer("/plain"), "ok", 200), None)
        bench.run(
            "nginx+clerk_authd", nginx.url, Scenario("nginx_auth", bench.bearer("/protected"), "ok", 200), service
        )
        bench.run("nginx+cache", nginx.url, Scenario("nginx_cached", bench.bearer("/cached"), "ok", 200), service)


def run_peer(bench: Bench) -> None:
    """``@clerk/express`` (``loadtests/peer/server.js``) on the same scenarios it shares with clerk_authd."""
    if not (PEER_DIR / "node_modules" / "@clerk" / "express").is_dir():
        raise RuntimeError(f"the peer is not installed: npm ci --prefix {PEER_DIR}")
    config = {
        "CLERK_API_URL": bench.fake.url,
        "CLERK_SECRET_KEY": bench.fake.secret_key,
        "CLERK_PUBLISHABLE_KEY": bench.fake.publishable_key,
        "CLERK_AUTHORIZED_PARTIES": AUTHORIZED_PARTY,
        "CLERK_TELEMETRY_DISABLED": "1",
        "NODE_ENV": "production",
    }
    args = ["node", str(PEER_DIR / "server.js")]
    with ServerProcess(args, config, workdir=bench.workdir / "peer", name="peer", ready_path="/healthz") as peer:
        bench.warm(peer.url, bench.bearer())
        for scenario in (
            Scenario("peer_cached", bench.bearer(), "ok", 200),
            Scenario("peer_uncached", bench.pooled(bench.pool_file), "ok", 200),
            Scenario("peer_cookie", bench.cookie(), "ok", 200),
        ):
            bench.run("@clerk/express", peer.url, scenario, peer)


def cached_token_memory(tokens: int) -> int:
    """RSS ``tokens`` distinct cached verdicts add, measured in a fresh process (``loadtests.memory``)."""
    progress(f"memory: {tokens} distinct cached tokens")
    completed = subprocess.run(  # noqa: S603  # our own interpreter and module
        [sys.executable, "-m", "loadtests.memory", str(tokens)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    growth: int = json.loads(completed.stdout)["growth_bytes"]
    return growth


def progress(message: str) -> None:
    """Say what the benchmark is doing (stderr, so stdout holds only the results)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def machine() -> str:
    """What ran the benchmark: CPU model, cores and Python, for the report."""
    model = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor() or "unknown CPU",
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    fake_clerk = FakeClerkThread()
    fake_clerk.start()
    try:
        with ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clerk-authd-bench-")))
            os.chmod(workdir, 0o755)  # noqa: S103  # nginx's workers read their config and prefix
            bench = Bench(args, fake_clerk.fake, workdir)
            try:
                memory = run_all(bench)
            except Exception:
                for log in sorted(workdir.glob("*/*.log")):
                    progress(f"{log}:\n{log_tail(log)}")
                raise
    finally:
        fake_clerk.stop()
    results = bench.results
    config: Mapping[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_average": os.getloadavg(),
        "duration_s": args.duration,
        "connections": args.connections,
        "pool": args.pool,
        "quick": args.quick,
        "servers": bench.urls,
    }
    print(render(results, memory))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(to_json(config, results, memory), indent=2))
    (args.out / "bench.md").write_text(markdown(results, memory, config))
    chart(results, args.out / "bench.png", f"clerk_authd benchmark, {config['date']} ({config['machine']})")
    wrong = {name: r.wrong for name, r in results.items() if r.wrong}
    progress(f"done in {time.monotonic() - started:.0f}s; results in {args.out}")
    if wrong:
        progress(f"answers of the wrong kind: {wrong}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
