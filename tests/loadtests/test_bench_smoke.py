"""The benchmark, run end to end in its ``--quick`` mode: it starts every server, runs every scenario, reports
and stops them all.

Only shapes and signs are checked, never a time: the numbers themselves depend on the machine. It needs wrk,
nginx and the peer's node_modules, which ``.ci/run`` installs.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from loadtests.report import RATIOS

REPO_ROOT = Path(__file__).resolve().parents[2]
#: the quick run takes well under this; the bound only keeps a hung run from hanging the suite
HANG_GUARD_S = 240
SCENARIOS = {ratio.scenario for ratio in RATIOS} | {ratio.baseline for ratio in RATIOS} | {"flood"}


@pytest.fixture(scope="module")
def quick_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], Path]:
    """One quick benchmark run shared by the tests below: its process result, its JSON and its output folder."""
    out = tmp_path_factory.mktemp("bench")
    completed = subprocess.run(
        [sys.executable, "-m", "loadtests.bench", "--quick", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr[-5000:]
    return completed, json.loads((out / "bench.json").read_text()), out


def test_every_scenario_ran_and_answered_as_expected(quick_run: tuple[Any, dict[str, Any], Path]) -> None:
    """Each scenario sent requests, none got an answer of the wrong kind, and its figures are positive."""
    scenarios = quick_run[1]["scenarios"]
    assert set(scenarios) == SCENARIOS
    for name, figures in scenarios.items():
        assert figures["requests"] > 0, name
        assert figures["wrong_answers"] == 0, name
        assert figures["throughput_rps"] > 0, name
        assert 0 < figures["p50_ms"] <= figures["p99_ms"], name


def test_every_ratio_is_printed_and_in_the_json(quick_run: tuple[Any, dict[str, Any], Path]) -> None:
    """One ``ratio`` line per ratio on stdout; in the JSON each has a positive value, and each target a verdict."""
    lines = quick_run[0].stdout.splitlines()
    ratios = quick_run[1]["ratios"]
    for ratio in RATIOS:
        assert sum(line.startswith(f"ratio {ratio.name} ") for line in lines) == 1, ratio.name
        assert ratios[ratio.name]["value"] > 0, ratio.name
        assert (ratios[ratio.name]["met"] is None) == (ratio.bound is None), ratio.name


def test_memory_is_measured(quick_run: tuple[Any, dict[str, Any], Path]) -> None:
    """Both memory figures are reported, with a verdict each."""
    memory = quick_run[1]["memory"]
    assert memory["cached_tokens"] > 0
    assert memory["bytes_per_cached_token"] > 0
    assert memory["flood_tokens"] == quick_run[1]["scenarios"]["flood"]["requests"]
    assert [target["met"] in (True, False) for target in quick_run[1]["memory_targets"]] == [True, True]


def test_markdown_and_chart_are_written(quick_run: tuple[Any, dict[str, Any], Path]) -> None:
    """The README's table (one row per scenario) and a PNG chart."""
    out = quick_run[2]
    table = (out / "bench.md").read_text()
    assert all(f"| {name} |" in table for name in SCENARIOS)
    assert (out / "bench.png").read_bytes().startswith(b"\x89PNG")


def test_nothing_it_started_keeps_running(quick_run: tuple[Any, dict[str, Any], Path]) -> None:
    """Once the benchmark has exited, nothing listens where any of its servers did."""
    for name, url in quick_run[1]["config"]["servers"].items():
        address = urlsplit(url)
        with pytest.raises(ConnectionRefusedError), socket.create_connection((address.hostname, address.port), 2):
            pytest.fail(f"{name} still listens at {url}")
