"""The requests Traefik, Envoy and ingress-nginx send to clerk-authd, and what each does with the answer.

These proxies cannot be installed here, so the tests replay, from the recipe's own configuration (parsed, never
retyped), exactly what each documents it sends to the auth service (method, path, the headers it sets and the
client headers it forwards), send it to a real clerk-authd, and apply each proxy's documented handling of the
answer to get what the upstream and the browser would receive:

- Traefik ForwardAuth: ``GET <address>`` with the client's headers and its own ``X-Forwarded-Method`` / ``-Proto``
  / ``-Host`` / ``-Uri`` / ``-For`` (``trustForwardHeader: false`` replaces the client's); on 2xx the headers
  matching ``authResponseHeadersRegex`` are stripped from the request, then copied from the answer, and the
  cookies ``addAuthCookiesToResponse`` names go to the browser; otherwise the answer goes to the browser;
- Envoy ext_authz (HTTP): ``<method> <path_prefix><path>?<query>`` with ``Host``, ``Authorization``,
  ``Content-Length: 0``, the ``allowed_headers`` and its own ``X-Forwarded-Proto``; headers with ``_`` are dropped
  first; on 2xx each ``allowed_upstream_headers`` match of the answer replaces the client's, and
  ``allowed_client_headers_on_success`` go to the browser; otherwise status and ``allowed_client_headers``;
- ingress-nginx: ``GET <auth-url>`` with the client's headers (``_`` ones dropped) and its template's
  ``X-Original-URL``, ``X-Original-Method``, ``X-Sent-From``, ``X-Real-IP``, ``X-Forwarded-For``,
  ``X-Auth-Request-Redirect``; on 2xx ``proxy_set_header`` per ``auth-response-headers`` (an empty value removes
  the client's header), on 401 the server snippet's signed-out location (307 to a handshake, 302 to
  ``X-Clerk-Redirect-To``, else 401), a 403 as is; the snippets' handshake rule sends the request to
  ``/handshake`` with ``X-Original-URL`` (``test_ingress_nginx_snippets.py`` runs the snippets in nginx itself).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.servers import Answer, Running

Headers = list[tuple[str, str]]
HOP_BY_HOP = frozenset({"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "content-length"})
ORIGIN = "http://app.example.com"


@dataclass(frozen=True)
class Outcome:
    """What the browser gets (``status``, ``headers``) and, when allowed, what the upstream gets."""

    answer: Answer
    status: int
    browser: Headers
    upstream: Headers | None

    def upstream_values(self, name: str) -> list[str]:
        """Every value of ``name`` the upstream got, under any spelling."""
        assert self.upstream is not None
        wanted = name.lower().replace("_", "-")
        return [v for k, v in self.upstream if k.lower().replace("_", "-") == wanted]

    def browser_values(self, name: str) -> list[str]:
        return [v for k, v in self.browser if k.lower() == name.lower()]


def _without(headers: Headers, names: frozenset[str]) -> Headers:
    return [(k, v) for k, v in headers if k.lower() not in names]


def _answer_pairs(answer: Answer) -> Headers:
    return list(answer.headers.items())


async def _send(service: Running, method: str, path: str, headers: Headers) -> Answer:
    async with service.http.request(
        method, service.url + path, headers=_multi(headers), allow_redirects=False, skip_auto_headers=("User-Agent",)
    ) as response:
        return Answer(response.status, response.headers, await response.read())


def _multi(headers: Headers) -> Any:
    from multidict import CIMultiDict  # noqa: PLC0415 - aiohttp's own type, only here

    return CIMultiDict(headers)


# --- Traefik ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Traefik:
    """The ForwardAuth middleware of a ``proxy-config traefik`` recipe."""

    address: str
    regex: re.Pattern[str]
    cookies: tuple[str, ...]
    trust_forward_header: bool

    @classmethod
    def from_recipe(cls, files: Mapping[str, str]) -> Traefik:
        auth = yaml.safe_load(files["dynamic.yml"])["http"]["middlewares"]["clerk-authd"]["forwardAuth"]
        return cls(
            auth["address"],
            re.compile(auth["authResponseHeadersRegex"]),
            tuple(auth["addAuthCookiesToResponse"]),
            auth["trustForwardHeader"],
        )

    async def serve(self, service: Running, method: str, target: str, client: Headers) -> Outcome:
        assert not self.trust_forward_header
        own = frozenset({"x-forwarded-method", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-uri"})
        host = {k.lower(): v for k, v in client}.get("host", "app.example.com")
        sent = [
            *_without(client, HOP_BY_HOP | own | {"host", "x-forwarded-for"}),
            ("X-Forwarded-Method", method),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Host", host),
            ("X-Forwarded-Uri", target),
            ("X-Forwarded-For", "203.0.113.7"),
        ]
        parts = urlsplit(self.address)
        answer = await _send(service, "GET", f"{parts.path}?{parts.query}", sent)
        if not 200 <= answer.status < 300:
            return Outcome(answer, answer.status, _answer_pairs(answer), None)
        upstream = [(k, v) for k, v in client if not self.regex.search(k)]
        upstream += [(k, v) for k, v in answer.headers.items() if self.regex.search(k)]
        cookies = [
            ("Set-Cookie", c) for c in answer.headers.getall("Set-Cookie", []) if c.split("=", 1)[0] in self.cookies
        ]
        return Outcome(answer, 200, cookies, upstream)


# --- Envoy ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Envoy:
    """The ext_authz filter of a ``proxy-config envoy`` recipe."""

    path_prefix: str
    allowed: frozenset[str]
    upstream_headers: frozenset[str]
    client_headers: frozenset[str]
    client_on_success: frozenset[str]
    drops_underscores: bool

    @classmethod
    def from_recipe(cls, files: Mapping[str, str]) -> Envoy:
        listener = yaml.safe_load(files["envoy.yaml"])["static_resources"]["listeners"][0]
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        authz = hcm["http_filters"][0]["typed_config"]["http_service"]

        def exact(section: dict[str, Any]) -> frozenset[str]:
            return frozenset(p["exact"] for p in section["patterns"])

        response = authz["authorization_response"]
        return cls(
            authz["path_prefix"],
            exact(authz["authorization_request"]["allowed_headers"]),
            exact(response["allowed_upstream_headers"]),
            exact(response["allowed_client_headers"]),
            exact(response["allowed_client_headers_on_success"]),
            hcm["common_http_protocol_options"]["headers_with_underscores_action"] == "DROP_HEADER",
        )

    async def serve(self, service: Running, method: str, target: str, client: Headers) -> Outcome:
        assert self.drops_underscores
        client = [(k, v) for k, v in client if "_" not in k]
        always = {"host", "authorization"}
        sent = [(k, v) for k, v in client if k.lower() in always | (self.allowed - {"x-forwarded-proto"})]
        sent += [("x-forwarded-proto", "http"), ("content-length", "0")]
        if not any(k.lower() == "host" for k, _ in sent):
            sent.append(("host", "app.example.com"))
        answer = await _send(service, method, self.path_prefix + target, sent)
        if not 200 <= answer.status < 300:
            browser = [(k, v) for k, v in answer.headers.items() if k.lower() in self.client_headers]
            return Outcome(answer, answer.status, browser, None)
        replaced = {k.lower() for k in answer.headers if k.lower() in self.upstream_headers}
        upstream = [(k, v) for k, v in client if k.lower() not in replaced]
        upstream += [(k, v) for k, v in answer.headers.items() if k.lower() in self.upstream_headers]
        browser = [(k, v) for k, v in answer.headers.items() if k.lower() in self.client_on_success]
        return Outcome(answer, 200, browser, upstream)


# --- ingress-nginx ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngressNginx:
    """The annotations of a ``proxy-config ingress-nginx`` Ingress."""

    auth_url: str
    response_headers: tuple[str, ...]
    configuration_snippet: str
    server_snippet: str

    @classmethod
    def from_recipe(cls, files: Mapping[str, str]) -> IngressNginx:
        notes = yaml.safe_load(files["ingress.yaml"])["metadata"]["annotations"]
        prefix = "nginx.ingress.kubernetes.io/"
        return cls(
            notes[prefix + "auth-url"],
            tuple(notes[prefix + "auth-response-headers"].split(",")),
            notes[prefix + "configuration-snippet"],
            notes[prefix + "server-snippet"],
        )

    def routes_to_handshake(self, method: str, query: str, cookie: str) -> bool:
        """The configuration snippet's rules: ``$args`` or ``$http_cookie`` matching, and the method's."""
        rules = re.findall(r'if \(\$(args|http_cookie|request_method) (!?~) "([^"]+)"\)', self.configuration_snippet)
        assert {name for name, _, _ in rules} == {"args", "http_cookie", "request_method"}
        subject = {"args": query, "http_cookie": cookie, "request_method": method}
        carried = any(re.search(p, subject[n]) for n, op, p in rules if op == "~")
        refused = any(not re.search(p, subject[n]) for n, op, p in rules if op == "!~")
        return carried and not refused

    async def serve(self, service: Running, method: str, target: str, client: Headers) -> Outcome:
        client = [(k, v) for k, v in client if "_" not in k]
        original = ORIGIN + target
        query = urlsplit(target).query
        cookie = "; ".join(v for k, v in client if k.lower() == "cookie")
        own = {"x-original-url", "x-original-method", "x-sent-from", "x-real-ip", "x-forwarded-for"}
        forwarded = [*_without(client, HOP_BY_HOP | own | {"host", "x-auth-request-redirect"})]
        forwarded += [("X-Original-URL", original), ("X-Original-Method", method)]
        if self.routes_to_handshake(method, query, cookie):
            assert "proxy_pass http://" in self.server_snippet
            assert "X-Original-URL $scheme://$http_host$request_uri" in self.server_snippet
            handshake = urlsplit(re.search(r"proxy_pass (\S+);", self.server_snippet).group(1))  # type: ignore[union-attr]
            answer = await _send(service, "GET", handshake.path, forwarded)
            return Outcome(answer, answer.status, _answer_pairs(answer), None)
        forwarded += [
            ("X-Sent-From", "nginx-ingress-controller"),
            ("X-Real-IP", "203.0.113.7"),
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Auth-Request-Redirect", target),
        ]
        parts = urlsplit(self.auth_url)
        answer = await _send(service, "GET", f"{parts.path}?{parts.query}", forwarded)
        cookies = [("Set-Cookie", c) for c in answer.headers.getall("Set-Cookie", [])[:1]]
        cookies += [
            ("Set-Cookie", answer.headers[f"X-Clerk-Set-Cookie-{n}"])
            for n in range(2, 5)
            if f"X-Clerk-Set-Cookie-{n}" in answer.headers
        ]
        if answer.status == 401:
            assert "error_page 401 = @clerk_authd_signed_out;" in self.configuration_snippet
            assert "return 307 $clerk_redirect_to;" in self.server_snippet
            target = answer.headers.get("X-Clerk-Redirect-To")
            status = 401 if not target else 307 if answer.headers["X-Clerk-Auth-Status"] == "handshake" else 302
            every = [("Set-Cookie", answer.headers.get(f"X-Clerk-Set-Cookie-{n}", "")) for n in range(1, 5)]
            every = [(k, v) for k, v in every if v]
            return Outcome(answer, status, [("Location", target)] * bool(target) + every, None)
        if not 200 <= answer.status < 300:
            return Outcome(answer, answer.status, cookies, None)
        names = {name.lower() for name in self.response_headers}
        upstream = [(k, v) for k, v in client if k.lower() not in names]
        upstream += [(name, answer.headers[name]) for name in self.response_headers if answer.headers.get(name)]
        return Outcome(answer, 200, cookies, upstream)
