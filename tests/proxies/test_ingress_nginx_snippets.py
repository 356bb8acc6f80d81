"""The ingress-nginx recipe's annotations run in a real nginx, laid out as the controller's template lays them out.

The controller cannot run here, but its nginx can: this builds the server block ingress-nginx renders for an
Ingress with ``auth-url``, ``auth-response-headers``, ``auth-always-set-cookie`` and the two snippets (the
external-auth location, ``auth_request_set`` + ``proxy_set_header`` per header, the snippets where the template
puts them), from the recipe's own annotations, and sends requests through it. So the snippets are parsed and
executed by nginx itself, not only read by ``replay.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
import yaml

from clerk_authd.config import load_settings
from clerk_authd.recipes import options_from_settings, render
from clerk_authd.testing.fake_clerk import FakeClerk
from tests.proxies.conftest import Proxy, Upstream, free_port, proxy_command, require_binary, spawn, wait_listening
from tests.proxies.test_real_proxies import MEMBER, PAGE_LOAD, assert_upstream_identity, forged_identity
from tests.servers import SIGN_IN_URL, Running
from tests.service.test_endpoints import member_token

PREFIX = "nginx.ingress.kubernetes.io/"


def controller_config(annotations: dict[str, str], port: int, upstream: Upstream) -> str:
    """The nginx.conf the controller would render for these annotations (its template's auth parts)."""
    auth = urlsplit(annotations[PREFIX + "auth-url"])
    headers = annotations[PREFIX + "auth-response-headers"].split(",")
    copies = "\n".join(
        f"            auth_request_set $authHeader{i} $upstream_http_{h.lower().replace('-', '_')};\n"
        f"            proxy_set_header '{h}' $authHeader{i};"
        for i, h in enumerate(headers)
    )
    server_snippet = annotations[PREFIX + "server-snippet"]
    configuration_snippet = annotations[PREFIX + "configuration-snippet"]
    return f"""\
daemon off;
worker_processes 1;
pid nginx.pid;
error_log stderr warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;
    upstream upstream_balancer {{ server {urlsplit(upstream.url).netloc}; }}
    server {{
        listen 127.0.0.1:{port};
{server_snippet}
        location = /_external-auth-Lw {{
            internal;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Forwarded-Proto "";
            proxy_set_header X-Request-ID $request_id;
            proxy_set_header Host {auth.netloc};
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Sent-From "nginx-ingress-controller";
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Auth-Request-Redirect $request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_headers on;
            set $target {auth.scheme}://{auth.netloc}{auth.path}?{auth.query};
            proxy_pass $target;
        }}
        location / {{
            auth_request /_external-auth-Lw;
            auth_request_set $auth_cookie $upstream_http_set_cookie;
            add_header Set-Cookie $auth_cookie always;
{copies}
{configuration_snippet}
            proxy_pass http://upstream_balancer;
        }}
    }}
}}
"""


@pytest.fixture
async def ingress(tmp_path: Path, service: Running, upstream: Upstream, live_clerk: FakeClerk) -> AsyncIterator[Proxy]:
    """The controller's nginx for the recipe's Ingress, asking ``service``; stopped after the test."""
    binary = require_binary("nginx")
    settings = load_settings(
        {"CLERK_PUBLISHABLE_KEY": live_clerk.publishable_key, "CLERK_SIGN_IN_URL": SIGN_IN_URL}, require_keys=False
    )
    files = render("ingress-nginx", options_from_settings(settings, authd=service.url))
    annotations = yaml.safe_load(files["ingress.yaml"])["metadata"]["annotations"]
    port = free_port()
    directory = tmp_path / "ingress-nginx"
    directory.mkdir()
    (directory / "nginx.conf").write_text(controller_config(annotations, port, upstream))
    log = directory / "nginx.log"
    process = spawn(proxy_command("nginx", binary, directory), directory, {"PATH": "/usr/sbin:/usr/bin:/bin"}, log)
    try:
        await wait_listening(port, process, log)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            yield Proxy("ingress-nginx", f"http://127.0.0.1:{port}", directory, process, http)
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 10)


async def test_the_identity_reaches_the_upstream_and_nothing_forged(
    ingress: Proxy, upstream: Upstream, live_clerk: FakeClerk
) -> None:
    """Every auth-response-header is set from the answer, and no forged spelling survives."""
    token = member_token(live_clerk)
    answer = await ingress.call("/orders?page=2", headers=[("Authorization", f"Bearer {token}"), *forged_identity()])
    assert answer.status == 200, ingress.log()
    assert upstream.received[-1].path_qs == "/orders?page=2"
    assert_upstream_identity(upstream, MEMBER)


async def test_a_signed_out_page_load_goes_to_sign_in_and_an_api_call_gets_401(
    ingress: Proxy, upstream: Upstream
) -> None:
    """The snippets' signed-out location: 302 to the sign-in URL with the original URL for a page load, 401 for
    a fetch (no auth-signin, which would redirect both)."""
    answer = await ingress.call("/dash?tab=1", headers=PAGE_LOAD)
    assert answer.status == 302, ingress.log()
    assert answer.headers["Location"] == f"{SIGN_IN_URL}?redirect_url={quote(ingress.url + '/dash?tab=1', safe='')}"
    api = await ingress.call("/api/orders", headers={"Accept": "application/json"})
    assert api.status == 401
    assert upstream.received == []


async def test_a_page_load_clerk_would_hand_shake_goes_to_the_handshake(ingress: Proxy, upstream: Upstream) -> None:
    """A browser with a Clerk client (``__client_uat``) but no session: 307 to FAPI's handshake with the
    loop-guard cookie, not to the sign-in page."""
    answer = await ingress.call("/dash", headers={"Cookie": "__client_uat=1700000000", **PAGE_LOAD})
    assert answer.status == 307, ingress.log()
    assert answer.headers["Location"].startswith("https://clerk.authd.localhost/v1/client/handshake?")
    assert [c for c in answer.headers.getall("Set-Cookie") if c.startswith("__clerk_redirect_count=")]
    assert upstream.received == []


async def test_the_snippets_send_a_handshake_to_handshake(
    ingress: Proxy, upstream: Upstream, live_clerk: FakeClerk
) -> None:
    """The configuration snippet's rewrite and the server snippet's location run in nginx: 307 to the clean
    URL with every cookie, for a nonce in the query and for the handshake token in its cookie."""
    directives = [f"__session={member_token(live_clerk)}; Path=/", "__client_uat=1700000000; Path=/"]
    live_clerk.register_handshake_nonce("nonce-i", directives)
    answer = await ingress.call("/dash?tab=1&__clerk_handshake_nonce=nonce-i", headers=PAGE_LOAD)
    assert answer.status == 307, ingress.log()
    assert answer.headers["Location"] == ingress.url + "/dash?tab=1"
    assert answer.headers.getall("Set-Cookie") == directives
    token = live_clerk.mint.sign({"handshake": directives, "iat": int(time.time())})
    by_cookie = await ingress.call("/dash", headers={"Cookie": f"__clerk_handshake={token}", **PAGE_LOAD})
    assert by_cookie.status == 307, ingress.log()
    assert by_cookie.headers.getall("Set-Cookie")[-2:] == directives
    assert upstream.received == []
