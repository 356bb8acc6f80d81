"""The README's "Backend API" examples run, in order, against FakeClerk, and print what their comments say."""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

from clerk_authd.testing.fake_clerk import FakeClerk

README = Path(__file__).parents[3] / "README.md"
_PRINTED = re.compile(r"^\s*print\(.*\)\s+# (.+)$")


def backend_api_blocks() -> list[str]:
    """The ```python blocks of the README section titled "Backend API"."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Backend API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_section_has_an_example_per_resource() -> None:
    """users, organizations (with memberships), sessions, invitations, both lists, jwks, a machine token, request()."""
    code = "".join(backend_api_blocks())
    for sub_api in (
        "users",
        "organizations",
        "sessions",
        "invitations",
        "allowlist_identifiers",
        "blocklist_identifiers",
        "jwks",
        "api_keys",
    ):
        assert f"clerk.{sub_api}." in code, sub_api
    assert "clerk.request(" in code


async def test_the_examples_print_what_they_say(fake: FakeClerk, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each block runs with top-level await in one namespace; every print matches its trailing comment."""
    monkeypatch.setenv("CLERK_SECRET_KEY", fake.secret_key)
    monkeypatch.setenv("CLERK_API_URL", fake.url)
    blocks = backend_api_blocks()
    namespace: dict[str, Any] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            compiled = compile(block, str(README), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            result = eval(compiled, namespace)  # noqa: S307 - our own README's examples
            if result is not None:
                await result
    expected = [m.group(1).strip() for b in blocks for line in b.splitlines() if (m := _PRINTED.match(line))]
    assert printed.getvalue().splitlines() == expected
    assert len(expected) >= 7
