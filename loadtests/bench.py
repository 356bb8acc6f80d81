"""``python -m loadtests.bench``: the service under each gateway scenario, as ratios measured in one run.

It starts FakeClerk (in a thread) and ``clerk-authd serve`` (a subprocess on a free loopback port, configured
against FakeClerk), mints the token pools, warms up, then runs every Locust scenario of
``loadtests/locustfile.py`` for a bounded time, one after the other, and prints a table of absolute figures
and the ratios of ``report.RATIOS`` (``--json`` also writes them). Whatever happens, it stops what it
started. It exits 1 if any request got an answer other than the one its scenario expects.

Why Locust runs as a subprocess per scenario: Locust monkey-patches the whole process with gevent when it
is imported, which does not mix with FakeClerk's asyncio thread here, and a fresh process per scenario
keeps one scenario's connections and garbage out of the next. Why one Locust process and not
``--processes``: the machine has two cores, one for the service's worker and one for the load generator.
FastHttpUser sustains about as many requests per second on one core as one Sanic worker answers for
``/healthz``, so the cheapest scenarios may be limited by the generator; the ``svc cpu`` column shows it
(near 100% per worker: the service was the limit), and ``cpu us/req``, the service's own CPU time per
request, compares scenarios whoever was the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from clerk_authd.testing.fake_clerk import FakeClerk, FakeClerkThread
from loadtests import RESULT_ENV, TOKENS_ENV
from loadtests.report import MemoryResult, ScenarioResult, render, to_json
from loadtests.service import ServiceProcess, log_tail
from loadtests.tokens import AUTHORIZED_PARTY, mint_pools

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
LOCUSTFILE: Final = Path(__file__).resolve().parent / "locustfile.py"
#: short name -> Locust user class, in the order they run
SCENARIOS: Final = {
    "healthz": "Healthz",
    "verify_hit": "VerifyCacheHit",
    "verify_miss": "VerifyCacheMiss",
    "bad_signature": "VerifyBadSignature",
    "no_credentials": "VerifyNoCredentials",
    "forbidden": "VerifyForbidden",
    "auth_json": "AuthJson",
}
#: the warm-up exercises every code path except the fresh pool, which the miss scenario needs unused
WARMUP_CLASSES: Final = tuple(cls for name, cls in SCENARIOS.items() if name != "verify_miss")
#: how long a Locust run may take beyond its own time limit (start-up, shutdown) before it is killed
LOCUST_GRACE_S: Final = 60
_CACHE_SAMPLE = re.compile(r'^clerk_authd_token_cache_total\{result="(hit|miss)"\} ([0-9.e+]+)$', re.MULTILINE)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench", description=__doc__.split("\n\n")[0])
    positive = _positive_int
    parser.add_argument("--duration", type=positive, default=10, help="seconds per scenario (default 10)")
    parser.add_argument("--warmup", type=positive, default=3, help="seconds of mixed warm-up (default 3)")
    parser.add_argument("--users", type=positive, default=16, help="concurrent Locust users (default 16)")
    parser.add_argument("--workers", type=positive, default=1, help="service worker processes (default 1)")
    parser.add_argument("--valid-tokens", type=positive, default=100, help="cache-hit pool size (default 100)")
    parser.add_argument(
        "--fresh-tokens",
        type=positive,
        default=20_000,
        help="cache-miss pool size; each is sent once and the miss scenario ends when it runs out (default 20000)",
    )
    parser.add_argument("--bad-tokens", type=positive, default=50, help="forged-token pool size (default 50)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    return parser.parse_args(argv)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def service_config(fake: FakeClerk) -> dict[str, str]:
    """The service's environment: FakeClerk's instance, the tokens' authorized party, quiet logs."""
    return {
        "CLERK_API_URL": fake.url,
        "CLERK_SECRET_KEY": fake.secret_key,
        "CLERK_PUBLISHABLE_KEY": fake.publishable_key,
        "CLERK_AUTHORIZED_PARTIES": AUTHORIZED_PARTY,
        "CLERK_AUTHD_LOG_LEVEL": "warning",
    }


class LocustRuns:
    """Runs the locustfile headless against one service, one bounded run at a time."""

    def __init__(self, url: str, tokens: Path, workdir: Path, users: int) -> None:
        self._url = url
        self._tokens = tokens
        self._workdir = workdir
        self._users = users

    def run(self, classes: Sequence[str], seconds: int) -> dict[str, Any]:
        """Run ``classes`` for ``seconds`` and return the locustfile's result (latencies, window, failures)."""
        stem = "-".join(classes) if len(classes) == 1 else "warmup"
        result, log = self._workdir / f"{stem}.json", self._workdir / f"{stem}.locust.log"
        users = str(self._users)
        command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary"]
        command += ["-u", users, "-r", users, "-t", f"{seconds}s", "-H", self._url, "--loglevel", "WARNING"]
        env = os.environ | {TOKENS_ENV: str(self._tokens), RESULT_ENV: str(result)}
        with log.open("wb") as out:
            # Locust exits 1 when a request failed; the result file counts those, so the status is not checked
            subprocess.run(  # noqa: S603, PLW1510  # our own interpreter and locustfile
                [*command, *classes],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=seconds + LOCUST_GRACE_S,
            )
        if not result.exists():
            raise RuntimeError(f"Locust wrote no result for {stem}:\n{log_tail(log)}")
        data: dict[str, Any] = json.loads(result.read_text())
        return data


def cache_counts(service: ServiceProcess) -> tuple[int, int] | None:
    """The service's token-cache (hits, misses) from ``/metrics``; ``None`` when it reports none."""
    status, body = service.get("/metrics")
    samples = {kind: int(float(value)) for kind, value in _CACHE_SAMPLE.findall(body)} if status == 200 else {}
    return (samples.get("hit", 0), samples.get("miss", 0)) if samples else None


def measure(args: argparse.Namespace) -> tuple[str, dict[str, ScenarioResult], MemoryResult]:
    """Start everything, run the warm-up and every scenario, stop everything.

    Returns the URL the service listened on (nothing listens there any more) and what was measured.
    """
    fake_clerk = FakeClerkThread()
    fake_clerk.start()
    try:
        with tempfile.TemporaryDirectory(prefix="clerk-authd-bench-") as tmp:
            workdir = Path(tmp)
            progress(f"minting {args.valid_tokens + args.fresh_tokens + args.bad_tokens} tokens")
            pools = mint_pools(
                fake_clerk.fake, valid=args.valid_tokens, fresh=args.fresh_tokens, bad_signature=args.bad_tokens
            )
            pools.write(workdir / "tokens.json")
            with ServiceProcess(service_config(fake_clerk.fake), workers=args.workers, workdir=workdir) as service:
                locust = LocustRuns(service.url, workdir / "tokens.json", workdir, args.users)
                progress(f"service at {service.url}; warming up for {args.warmup}s")
                locust.run(WARMUP_CLASSES, args.warmup)
                idle = service.usage()
                results: dict[str, ScenarioResult] = {}
                miss_usage = (idle, idle)
                for name, user_class in SCENARIOS.items():
                    progress(f"{name}: {args.duration}s")
                    before, cache_before = service.usage(), cache_counts(service)
                    raw = locust.run([user_class], args.duration)
                    after, cache_after = service.usage(), cache_counts(service)
                    results[name] = ScenarioResult.from_samples(
                        name,
                        raw["latencies_ms"],
                        failures=raw["failures"],
                        window_s=raw["window_s"],
                        service_cpu_s=after.cpu_s - before.cpu_s,
                        cache=_difference(cache_after, cache_before),
                        failure_kinds=raw["failure_kinds"],
                    )
                    if name == "verify_miss":
                        miss_usage = (before, after)
                final = service.usage()
                url = service.url
    finally:
        fake_clerk.stop()
    memory = MemoryResult(
        rss_idle_bytes=idle.rss_bytes,
        rss_after_bytes=final.rss_bytes,
        rss_before_miss_bytes=miss_usage[0].rss_bytes,
        rss_after_miss_bytes=miss_usage[1].rss_bytes,
        # what the service cached, requests in flight when Locust stopped included; else what Locust recorded
        distinct_tokens=results["verify_miss"].cache_misses or results["verify_miss"].requests,
    )
    return url, results, memory


def _difference(after: tuple[int, int] | None, before: tuple[int, int] | None) -> tuple[int, int] | None:
    if after is None:
        return None
    base = before or (0, 0)
    return after[0] - base[0], after[1] - base[1]


def progress(message: str) -> None:
    """Say what the benchmark is doing (stderr, so stdout holds only the results)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    url, results, memory = measure(args)
    config: Mapping[str, Any] = {
        "service_url": url,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "users": args.users,
        "workers": args.workers,
        "valid_tokens": args.valid_tokens,
        "fresh_tokens": args.fresh_tokens,
        "bad_tokens": args.bad_tokens,
        "cpu_count": os.cpu_count(),
    }
    print(render(results, memory))
    document = to_json(config, results, memory)
    if args.json is not None:
        args.json.write_text(json.dumps(document, indent=2))
    failures = sum(result.failures for result in results.values())
    progress(f"done in {time.monotonic() - started:.0f}s")
    if failures:
        kinds = {f"{name}: {kind}": n for name, r in results.items() for kind, n in r.failure_kinds.items()}
        progress(f"{failures} requests got an unexpected answer: {kinds}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
