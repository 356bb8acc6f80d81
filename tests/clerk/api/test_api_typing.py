"""The typed usage sample passes mypy --strict, and does what it says against FakeClerk."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from clerk_authd.testing.fake_clerk import FakeClerk
from tests.clerk.api.typed_usage_sample import main

SAMPLE = Path(__file__).with_name("typed_usage_sample.py")
REPO_ROOT = Path(__file__).parents[3]


def test_the_sample_passes_mypy_strict() -> None:
    """Results annotated with the promised types check, and the sample's deliberate mistakes are each caught."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(SAMPLE)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def test_the_sample_runs_against_fake_clerk(fake: FakeClerk) -> None:
    """Every line of the sample's log, as FakeClerk answers it."""
    log = await main(fake.url, fake.secret_key)
    assert log[0] == "1 user(s), count 1, first Ada"
    assert log[1] == "banned=True plan=pro"
    assert log[2] == "member of Acme as org:admin"
    assert log[3] == "0 sessions, pending, domain, 1 key"
    assert log[4] == "raw {'object': 'total_count', 'total_count': 1}, deleted=True"
    assert log[5] == "404 resource_not_found trace=fake"
