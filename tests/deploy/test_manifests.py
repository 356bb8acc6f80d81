"""The Dockerfile, the Kubernetes manifests and the compose file agree with the code they deploy.

No image is built and no cluster is reached (nothing here has a daemon): every manifest is parsed, and each fact
it states (the user, the port, the probe and health-check paths, the entry point, the header lists, the names
one manifest gives another) is checked against the service, its settings and the other manifests.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sanic import Sanic

from clerk_authd.cli import build_parser
from clerk_authd.config import load_settings
from clerk_authd.recipes.options import display_name
from clerk_authd.rules.names import IDENTITY_HEADERS
from clerk_authd.service.ops import register_ops
from clerk_authd.service.routes import register_routes

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"


def dockerfile() -> dict[str, list[str]]:
    """Each instruction's arguments, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    instructions: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            instructions.setdefault(keyword, []).append(rest.strip())
    return instructions


def dockerfile_env() -> dict[str, str]:
    (env,) = dockerfile()["ENV"]
    return dict(pair.split("=", 1) for pair in shlex.split(env))


def manifest(name: str) -> dict[str, Any]:
    document = yaml.safe_load((KUBERNETES / name).read_text())
    assert isinstance(document, dict)
    return document


@cache
def service_paths() -> frozenset[str]:
    """The paths the service answers: its routes registered on a bare app (no runtime, no logging set up)."""
    app: Sanic[Any, Any] = Sanic("clerk_authd_manifest_paths", configure_logging=False)
    register_routes(app)
    register_ops(app)
    return frozenset("/" + route.path.lstrip("/") for route in app.router.routes)


def container() -> dict[str, Any]:
    (only,) = manifest("deployment.yaml")["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def container_env() -> dict[str, Any]:
    return {entry["name"]: entry for entry in container()["env"]}


# --- Dockerfile ---------------------------------------------------------------------------------------------


def test_the_image_runs_the_cli_as_a_non_root_user() -> None:
    """ENTRYPOINT is the console script pyproject installs, CMD one of its subcommands, USER a created uid."""
    facts = dockerfile()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    (entrypoint,) = facts["ENTRYPOINT"]
    assert yaml.safe_load(entrypoint) == ["clerk-authd"]
    assert "clerk-authd" in scripts
    (cmd,) = facts["CMD"]
    subcommand = yaml.safe_load(cmd)[0]
    assert build_parser().parse_args([subcommand]).command == subcommand
    (user,) = facts["USER"]
    uid, gid = user.split(":")
    assert "0" not in (uid, gid)
    assert any(f"--uid {uid} --gid {gid}" in run and f"groupadd --system --gid {gid}" in run for run in facts["RUN"])


def test_the_image_listens_where_the_settings_say_and_checks_healthz() -> None:
    """EXPOSE is the port its environment gives the service, which binds all interfaces; the health check asks
    /healthz, a path the service answers."""
    settings = load_settings(dockerfile_env(), require_keys=False)
    assert settings.host == "0.0.0.0"  # noqa: S104 - a container must listen beyond its own loopback
    assert dockerfile()["EXPOSE"] == [str(settings.port)]
    (healthcheck,) = dockerfile()["HEALTHCHECK"]
    assert "/healthz" in healthcheck
    assert "/healthz" in service_paths()
    assert settings.workers >= 1


def test_the_base_image_is_a_python_the_project_supports() -> None:
    """A slim Python base at or above requires-python."""
    (base,) = dockerfile()["FROM"]
    match = re.fullmatch(r"python:(\d+)\.(\d+)-slim", base)
    assert match is not None
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert (int(match.group(1)), int(match.group(2))) >= tuple(int(x) for x in required.removeprefix(">=").split("."))


# --- Kubernetes ---------------------------------------------------------------------------------------------


def test_the_deployment_probes_the_service_and_runs_it_as_the_image_does() -> None:
    """Readiness /readyz and liveness /healthz on the named container port, which is the configured port; the
    pod runs as the image's non-root user with nothing to escalate to."""
    spec = container()
    (port,) = spec["ports"]
    settings = load_settings({n: e["value"] for n, e in container_env().items() if "value" in e}, require_keys=False)
    assert port["containerPort"] == settings.port
    assert settings.host == "0.0.0.0"  # noqa: S104 - a container must listen beyond its own loopback
    paths = service_paths()
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        assert spec[probe]["httpGet"] == {"path": path, "port": port["name"]}
        assert path in paths
    pod = manifest("deployment.yaml")["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert [str(pod["runAsUser"]), str(pod["runAsGroup"])] == dockerfile()["USER"][0].split(":")
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert set(spec["resources"]) == {"requests", "limits"}


def test_the_deployment_runs_this_version_of_the_image() -> None:
    """The image tag is the project's version, which ``docker build -t clerk-authd:<version>`` (README) makes."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert container()["image"] == f"clerk-authd:{version}"


def test_the_secrets_come_from_a_secret() -> None:
    """The keys are never values in the manifest."""
    env = container_env()
    for name in ("CLERK_SECRET_KEY", "CLERK_PUBLISHABLE_KEY"):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "clerk-authd", "key": name}
    assert not [n for n, e in env.items() if "KEY" in n and "value" in e]


def test_the_service_hpa_and_pdb_select_the_deployment() -> None:
    """The Service sends its port to the container's, the HPA scales the Deployment, the PDB guards its pods."""
    deployment = manifest("deployment.yaml")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    service = manifest("service.yaml")
    assert service["spec"]["selector"] == labels
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == container()["ports"][0]["name"]
    hpa = manifest("hpa.yaml")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert hpa["minReplicas"] >= 2
    assert manifest("pdb.yaml")["spec"]["selector"]["matchLabels"] == labels


def test_the_ingress_asks_the_service_and_copies_every_identity_header() -> None:
    """auth-url is /verify on the Service's DNS name and port; auth-response-headers are all 15, in order."""
    annotations = manifest("ingress.yaml")["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    service = manifest("service.yaml")
    host = f"{service['metadata']['name']}.default.svc.cluster.local:{service['spec']['ports'][0]['port']}"
    assert annotations[prefix + "auth-url"].startswith(f"http://{host}/verify?")
    assert f"proxy_pass http://{host}/handshake;" in annotations[prefix + "server-snippet"]
    assert annotations[prefix + "auth-response-headers"].split(",") == [display_name(h) for h in IDENTITY_HEADERS]
    assert "/verify" in service_paths()
    assert "/handshake" in service_paths()


# --- compose ------------------------------------------------------------------------------------------------


def test_compose_puts_nginx_in_front_of_the_app_and_the_service() -> None:
    """nginx mounts the generated compose recipe, which dials the compose services by name and port."""
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    assert set(compose) == {"clerk-authd", "app", "nginx"}
    assert compose["clerk-authd"]["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    settings = load_settings(compose["clerk-authd"]["environment"], require_keys=False)
    mount = next(v for v in compose["nginx"]["volumes"] if v.endswith(":/etc/nginx/nginx.conf:ro"))
    recipe = (ROOT / "deploy" / mount.split(":")[0].removeprefix("./")).read_text()
    assert f"server clerk-authd:{settings.port};" in recipe
    assert compose["app"]["command"] == ["--port", "3000"]
    assert "server app:3000;" in recipe
    assert "listen 0.0.0.0:8080;" in recipe
    assert compose["nginx"]["ports"] == ["8080:8080"]
    assert compose["nginx"]["depends_on"]["clerk-authd"]["condition"] == "service_healthy"
