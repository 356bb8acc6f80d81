"""The benchmark, run end to end with tiny durations: it starts, measures every scenario, reports, and stops.

Only shapes and signs are checked, never a time: the numbers themselves depend on the machine.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from loadtests.bench import SCENARIOS
from loadtests.report import RATIOS

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_RUN = ["--duration", "1", "--warmup", "1", "--users", "4", "--valid-tokens", "20", "--fresh-tokens", "1500"]
TINY_RUN += ["--bad-tokens", "10"]
#: the whole tiny run takes well under this; the bound only keeps a hung run from hanging the suite
HANG_GUARD_S = 120
SCENARIO_RATIOS = [f"{name}/{baseline}" for name, baseline, _ in RATIOS]
MEMORY_RATIOS = ["rss_after/rss_idle", "rss_per_10k_tokens/rss_idle"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """One tiny benchmark run shared by the tests below: its process result and its JSON document."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    completed = subprocess.run(
        [sys.executable, "-m", "loadtests.bench", *TINY_RUN, "--json", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed, json.loads(out.read_text())


def test_every_ratio_is_printed_on_its_own_line(tiny_run: tuple[subprocess.CompletedProcess[str], Any]) -> None:
    """stdout has one ``ratio <name>`` line for every scenario ratio and both memory ratios."""
    lines = tiny_run[0].stdout.splitlines()
    for name in SCENARIO_RATIOS + MEMORY_RATIOS:
        assert sum(line.split()[:2] == ["ratio", name] for line in lines) == 1, name


def test_every_scenario_is_in_the_table(tiny_run: tuple[subprocess.CompletedProcess[str], Any]) -> None:
    """The table of absolute figures has one row per scenario."""
    rows = {line.split()[0] for line in tiny_run[0].stdout.splitlines() if line.strip()}
    assert set(SCENARIOS) <= rows


def test_every_scenario_measured_requests_answered_as_expected(tiny_run: tuple[Any, dict[str, Any]]) -> None:
    """Each scenario sent requests, none got an unexpected answer, and every figure of it is positive."""
    scenarios = tiny_run[1]["scenarios"]
    assert set(scenarios) == set(SCENARIOS)
    for name, figures in scenarios.items():
        assert figures["requests"] > 0, name
        assert figures["failures"] == 0, (name, figures["failure_kinds"])
        for key in ("window_s", "throughput_rps", "p50_ms", "p99_ms", "service_cpu_s", "cpu_us_per_request"):
            assert figures[key] > 0, (name, key)
        assert figures["p99_ms"] >= figures["p50_ms"], name


def test_the_hit_scenario_hits_the_cache_and_the_miss_scenario_misses(tiny_run: tuple[Any, dict[str, Any]]) -> None:
    """The service's own counters confirm each scenario's premise: reused tokens hit, fresh tokens miss."""
    scenarios = tiny_run[1]["scenarios"]
    assert scenarios["verify_hit"]["cache_hit_fraction"] == 1.0
    assert scenarios["verify_miss"]["cache_hit_fraction"] == 0.0
    # requests still in flight when Locust stopped reached the service but were not recorded
    assert scenarios["verify_miss"]["cache_misses"] >= scenarios["verify_miss"]["requests"]


def test_every_ratio_is_in_the_json_and_positive(tiny_run: tuple[Any, dict[str, Any]]) -> None:
    """The JSON holds every ratio; throughput, latency and CPU ratios and the RSS ratio are positive numbers."""
    ratios = tiny_run[1]["ratios"]
    assert set(ratios) == set(SCENARIO_RATIOS + MEMORY_RATIOS)
    for name in SCENARIO_RATIOS:
        assert set(ratios[name]) == {"throughput", "p50", "p99", "cpu_per_request"}
        assert all(value > 0 for value in ratios[name].values()), name
    assert ratios["rss_after/rss_idle"] > 0
    # a thousand-odd cached tokens may fit in memory the process already holds, so growth may be zero or less
    assert math.isfinite(ratios["rss_per_10k_tokens/rss_idle"])


def test_memory_is_measured(tiny_run: tuple[Any, dict[str, Any]]) -> None:
    """Resident memory is reported at idle and after the run, and the growth is per token the service cached."""
    memory = tiny_run[1]["memory"]
    assert memory["rss_idle_mb"] > 0
    assert memory["rss_after_mb"] > 0
    assert memory["distinct_tokens"] == tiny_run[1]["scenarios"]["verify_miss"]["cache_misses"]
    assert math.isfinite(memory["rss_growth_mb_per_10k_tokens"])


def test_nothing_it_started_keeps_running(tiny_run: tuple[Any, dict[str, Any]]) -> None:
    """Once the benchmark has exited, nothing listens on the service's port any more."""
    address = urlsplit(tiny_run[1]["config"]["service_url"])
    with pytest.raises(ConnectionRefusedError), socket.create_connection((address.hostname, address.port), timeout=2):
        pass
