"""Shared test fixtures: Clerk's spec data (fixtures, conformance table) from tests/data.

Area-specific fixtures live beside their tests; this file holds only what every area uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clerk_authd.testing.mint import TokenMint

pytest_plugins = ["clerk_authd.testing.pytest_plugin", "tests.servers"]

#: Clerk's fixtures, the conformance recording and the Wycheproof vectors, copied here (``tests/data/README.md``)
DATA_DIR = Path(__file__).resolve().parent / "data"


def load_fixtures() -> dict[str, Any]:
    """Clerk's own test keys and tokens (clerk-fixtures.json)."""
    return json.loads((DATA_DIR / "clerk-fixtures.json").read_text())


def load_conformance() -> list[dict[str, Any]]:
    """Every line of clerk-conformance.jsonl, in order (``log`` lines included)."""
    lines = (DATA_DIR / "clerk-conformance.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


FIXTURES = load_fixtures()
FROZEN_NOW = float(FIXTURES["frozen_now_unix"])


@pytest.fixture(scope="session")
def clerk_fixtures() -> dict[str, Any]:
    """Clerk's fixture data, frozen at ``frozen_now_unix``."""
    return FIXTURES


@pytest.fixture(scope="session")
def fixture_mint() -> TokenMint:
    """A mint holding Clerk's fixture signing key: its tokens verify against ``mockJwks``."""
    return TokenMint.from_pem(FIXTURES["signing_private_key_pkcs8_pem"], FIXTURES["mockJwtHeader"]["kid"])
