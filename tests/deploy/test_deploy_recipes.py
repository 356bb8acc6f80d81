"""``deploy/`` is ``proxy-config``'s output for the default settings, byte for byte, and the CLI prints it.

Regenerate with ``scripts/deploy-recipes`` after changing a recipe.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clerk_authd.cli import main
from clerk_authd.config import load_settings
from clerk_authd.recipes import PROXIES, RecipeError, options_from_settings, render
from clerk_authd.recipes.deploy import DEPLOYED, GENERATED_BLOCK, deploy_files, with_generated_blocks

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
#: files in deploy/ that are written by hand, not generated (checked by test_manifests.py)
HAND_WRITTEN = frozenset(
    {
        "compose.yaml",
        "kubernetes/deployment.yaml",
        "kubernetes/service.yaml",
        "kubernetes/hpa.yaml",
        "kubernetes/pdb.yaml",
    }
)


def test_deploy_holds_exactly_the_generated_recipes() -> None:
    """Every generated file is in deploy/ unchanged, and deploy/ has no other file but the hand-written ones."""
    generated = deploy_files(load_settings({}, require_keys=False))
    for path, text in generated.items():
        recipe = next(r for r in DEPLOYED if path.startswith(r.directory + "/"))
        assert (DEPLOY / path).read_text() == text, (
            f"deploy/{path} differs from `{recipe.command}`: scripts/deploy-recipes"
        )
    present = {p.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("*") if p.is_file()}
    assert present == set(generated) | HAND_WRITTEN


@pytest.mark.parametrize("proxy", PROXIES)
def test_the_cli_prints_each_recipe_as_deploy_holds_it(
    proxy: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``clerk-authd proxy-config <proxy>`` (and ``--file`` for each further file) prints deploy/'s files."""
    for name in [n for n in os.environ if n.startswith("CLERK_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    recipe = next(r for r in DEPLOYED if r.proxy == proxy)
    assert main(["proxy-config", proxy, "--list-files"]) == 0
    names = capsys.readouterr().out.split()
    for index, name in enumerate(names):
        assert main(["proxy-config", proxy, *([] if index == 0 else ["--file", name])]) == 0
        assert capsys.readouterr().out == (DEPLOY / recipe.directory / name).read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nginx", "--listen", "8080"], "--listen: '8080' is not HOST:PORT"),
        (["nginx", "--listen", "127.0.0.1:99999"], "--listen: '127.0.0.1:99999' is not HOST:PORT"),
        (
            ["caddy", "--upstream", "https://app:3000"],
            "--upstream: 'https://app:3000' is not an http://HOST[:PORT] URL",
        ),
        (["caddy", "--upstream", "http://app:3000/base"], "--upstream: 'http://app:3000/base' is not an http://"),
        (["haproxy", "--authd", "http://authd:port"], "--authd: 'http://authd:port' has a bad port"),
        (["nginx", "--requirements", "colour=blue"], "--requirements: colour: unknown parameter"),
        (["nginx", "--requirements", "role="], "--requirements: role: is empty"),
        (["envoy", "--requirements", "role=admin"], "--requirements: Envoy's check request carries the client's query"),
        (["nginx", "--file", "nope.conf"], "--file: the nginx recipe has nginx.conf"),
        (["caddy", "--verdict-cache", "verdicts"], "--verdict-cache: only the nginx recipe has a verdict cache"),
        (["nginx", "--verdict-cache", "v;evil"], "--verdict-cache: 'v;evil' is not a plain directory"),
        (["nginx", "--verdict-cache", "a b"], "--verdict-cache: 'a b' is not a plain directory"),
        (["nginx", "--verdict-cache", ""], "--verdict-cache: '' is not a plain directory"),
    ],
)
def test_a_bad_option_is_exit_2_naming_it(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Nothing is printed to standard output; standard error names the option."""
    monkeypatch.chdir(tmp_path)
    assert main(["proxy-config", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_requirements_and_accepts_go_on_the_auth_url(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The operator's requirements, then the configured ``accepts`` unless they name one (run as a user does)."""
    env = {"PATH": "/usr/bin:/bin", "CLERK_AUTHD_ACCEPTS_TOKEN": "session_token,api_key"}
    command = [sys.executable, "-m", "clerk_authd", "proxy-config", "nginx", "--requirements", "role=admin"]
    printed = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "proxy_pass http://clerk_authd/verify?role=admin&accepts=session_token,api_key;" in printed
    command[-1] = "permission=org:a:b&accepts=any"
    printed = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "proxy_pass http://clerk_authd/verify?permission=org:a:b&accepts=any;" in printed


def test_the_nginx_verdict_cache_is_off_unless_asked_for(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Without ``--verdict-cache`` nothing is cached (the deployed recipe); with it, the zone lives in the given
    directory and the auth location, only it, caches (``tests/proxies/test_nginx_verdict_cache.py`` runs it)."""
    env = {"PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "clerk_authd", "proxy-config", "nginx"]
    plain = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "proxy_cache" not in plain
    command += ["--verdict-cache", "run/clerk-verdicts"]
    cached = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "proxy_cache_path run/clerk-verdicts levels=1 keys_zone=clerk_verdicts:16m" in cached
    verify_location = cached.split("location = /_clerk_authd/verify {", 1)[1].split("}", 1)[0]
    assert "proxy_cache clerk_verdicts;" in verify_location
    assert cached.count("proxy_cache clerk_verdicts;") == 1


def test_the_readme_shows_every_recipe_as_generated() -> None:
    """Each README proxy section's code block is the deploy file it names, and every proxy has one."""
    readme = (DEPLOY.parent / "README.md").read_text()
    generated = deploy_files(load_settings({}, require_keys=False))
    shown = {match.group("path"): match.group("body") for match in GENERATED_BLOCK.finditer(readme)}
    assert with_generated_blocks(readme, generated) == readme, "scripts/deploy-recipes refreshes the README"
    assert {path.split("/")[0] for path in shown} >= {r.directory for r in DEPLOYED} - {"compose"}
    for path, body in shown.items():
        assert body == generated[path], path


def test_an_unknown_proxy_has_no_recipe() -> None:
    """The library call names what it has (the CLI's choices never reach it)."""
    options = options_from_settings(load_settings({}, require_keys=False))
    with pytest.raises(RecipeError, match=r"no recipe for 'apache' yet \(have: nginx, caddy, haproxy"):
        render("apache", options)
