"""What ``deploy/`` holds of ``proxy-config``'s output: each file, and the command that makes it.

``deploy/`` is what users copy, and it must never drift from the generator: ``scripts/deploy-recipes`` writes
these files and a test regenerates them for the default settings and compares them byte for byte. The README
shows the same files, each in the code block after a ``<!-- generated: deploy/<path> -->`` line, which
``with_generated_blocks`` refreshes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from clerk_authd.config import Settings
from clerk_authd.recipes import options_from_settings, render


@dataclass(frozen=True, slots=True)
class DeployedRecipe:
    """``clerk-authd proxy-config <proxy> <flags>``, written into ``deploy/<directory>/``."""

    proxy: str
    directory: str
    listen: str | None = None
    upstream: str | None = None
    authd: str | None = None

    @property
    def command(self) -> str:
        """The command line that prints the recipe's main file."""
        flags = [f"--{name} {value}" for name, value in self._flags() if value is not None]
        return " ".join(["clerk-authd proxy-config", self.proxy, *flags])

    def _flags(self) -> list[tuple[str, str | None]]:
        return [("listen", self.listen), ("upstream", self.upstream), ("authd", self.authd)]


DEPLOYED: Final = (
    DeployedRecipe("nginx", "nginx"),
    DeployedRecipe("caddy", "caddy"),
    DeployedRecipe("haproxy", "haproxy"),
    DeployedRecipe("traefik", "traefik"),
    DeployedRecipe("envoy", "envoy"),
    DeployedRecipe("ingress-nginx", "kubernetes"),
    # the compose file's nginx, in front of its demo app, asking its clerk-authd container
    DeployedRecipe(
        "nginx", "compose", listen="0.0.0.0:8080", upstream="http://app:3000", authd="http://clerk-authd:8787"
    ),
)


def deploy_files(settings: Settings) -> dict[str, str]:
    """Every generated file under ``deploy/``, by path relative to it."""
    files: dict[str, str] = {}
    for recipe in DEPLOYED:
        options = options_from_settings(settings, listen=recipe.listen, upstream=recipe.upstream, authd=recipe.authd)
        for name, text in render(recipe.proxy, options).items():
            files[f"{recipe.directory}/{name}"] = text
    return files


#: ``<!-- generated: deploy/<path> -->``, then a fenced block (its info string kept, its body replaced)
GENERATED_BLOCK: Final = re.compile(r"(<!-- generated: deploy/(?P<path>\S+) -->\n```[^\n]*\n)(?P<body>.*?)(```)", re.S)


def with_generated_blocks(readme: str, files: Mapping[str, str]) -> str:
    """``readme`` with every marked code block holding the deploy file it names (``KeyError`` for an unknown one)."""
    return GENERATED_BLOCK.sub(lambda m: m.group(1) + files[m.group("path")] + m.group(4), readme)
