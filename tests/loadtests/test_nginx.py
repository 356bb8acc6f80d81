"""The benchmark's nginx configuration keeps its connections open, so its ratios measure auth and not TCP set-up."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from loadtests.nginx import nginx_config, nginx_path

_LOCATION = re.compile(r"location = (\S+) \{(.*?)\n  \}", re.DOTALL)


def config(tmp_path: Path) -> str:
    return nginx_config(tmp_path, tmp_path / "cache", listen_port=1, upstream_port=2, service_url="http://127.0.0.1:3")


def test_every_proxying_location_keeps_its_upstream_connection_alive(tmp_path: Path) -> None:
    """A location with a ``proxy_set_header`` of its own inherits none from ``http``, and there a missing
    ``Connection ""`` closes the upstream connection after every request; so every location says it itself."""
    locations = dict(_LOCATION.findall(config(tmp_path)))
    assert set(locations) == {"/_auth", "/_auth_cached", "/protected", "/cached", "/plain"}
    for name, body in locations.items():
        assert "proxy_pass " in body, name
        assert 'proxy_set_header Connection "";' in body, name


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "cache").mkdir()
    (tmp_path / "nginx.conf").write_text(config(tmp_path))
    checked = subprocess.run(
        [nginx_path(), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "err")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
