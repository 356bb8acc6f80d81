"""ingress-nginx: an ``Ingress`` (``kubectl apply -f``) whose annotations make the controller ask ``/verify``.

The controller's ``auth-url`` location sends no body, sets ``X-Original-URL`` / ``X-Original-Method`` itself and
forwards the client's other headers; ``auth-response-headers`` becomes one ``proxy_set_header`` per identity
header (an empty value removes the client's header of that name) and the controller drops headers with ``_``
(``enable-underscores-in-headers`` is off by default). ``auth-always-set-cookie`` passes the first cookie of a
decision and the configuration snippet the others (``X-Clerk-Set-Cookie-<n>``); the snippets route a GET or HEAD
carrying a handshake to ``/handshake``, whose 307 and cookies reach the browser, and send a 401 where the service
says (``X-Clerk-Redirect-To``: 307 to the handshake, 302 to sign-in) or leave it a 401 for API calls.

There is no ``auth-signin`` on purpose: the controller sends *every* 401 there, API calls included, and a page
load Clerk would hand-shake (a session on another subdomain) would go to the sign-in page, which sends the
signed-in browser straight back without the session cookie: a loop. The service already knows the sign-in URL
(``CLERK_SIGN_IN_URL``) and puts it in ``X-Clerk-Redirect-To`` for page loads only. Snippet annotations must be
allowed by the controller (``allow-snippet-annotations: "true"``, and ``annotations-risk-level: Critical`` from
1.12).
"""

from __future__ import annotations

import re

from clerk_authd.recipes.options import NGINX_COOKIE_COPIES, HostPort, RecipeOptions
from clerk_authd.rules.names import HANDSHAKE

FILE_NAME = "ingress.yaml"
#: the Service of the Kubernetes manifests in deploy/kubernetes
DEFAULT_SERVICE = HostPort("clerk-authd.default.svc.cluster.local", 8787)
SIGNED_OUT_LOCATION = "@clerk_authd_signed_out"
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _indent(lines: list[str], spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in lines)


def render(options: RecipeOptions) -> dict[str, str]:
    """``ingress.yaml``."""
    authd = options.authd if options.authd_given else DEFAULT_SERVICE
    backend = options.upstream.host if _LABEL.fullmatch(options.upstream.host) else "app"
    cookies = [
        f"auth_request_set $clerk_cookie_{n} $upstream_http_x_clerk_set_cookie_{n};"
        for n in range(1, NGINX_COOKIE_COPIES + 1)
    ]
    more_cookies = [f"add_header Set-Cookie $clerk_cookie_{n} always;" for n in range(2, NGINX_COOKIE_COPIES + 1)]
    all_cookies = [f"  add_header Set-Cookie $clerk_cookie_{n} always;" for n in range(1, NGINX_COOKIE_COPIES + 1)]
    handshake = f"{HANDSHAKE}(_nonce)?="
    configuration = [
        "# a GET or HEAD carrying a Clerk handshake (query or cookie) is completed by clerk-authd's /handshake",
        'set $clerk_handshake "";',
        f'if ($args ~ "(^|&){handshake}") {{',
        "  set $clerk_handshake 1;",
        "}",
        f'if ($http_cookie ~ "(^|;\\s*){handshake}") {{',
        "  set $clerk_handshake 1;",
        "}",
        'if ($request_method !~ "^(GET|HEAD)$") {',
        '  set $clerk_handshake "";',
        "}",
        "if ($clerk_handshake) {",
        "  rewrite ^ /_clerk_authd/handshake? last;",
        "}",
        "# the cookies of a decision (auth-always-set-cookie passes the first on success), where to go when signed out",
        *cookies,
        *more_cookies,
        "auth_request_set $clerk_auth_status $upstream_http_x_clerk_auth_status;",
        "auth_request_set $clerk_redirect_to $upstream_http_x_clerk_redirect_to;",
        f"error_page 401 = {SIGNED_OUT_LOCATION};",
    ]
    server = [
        "location = /_clerk_authd/handshake {",
        "  internal;",
        f"  proxy_pass http://{authd}/handshake;",
        "  proxy_http_version 1.1;",
        '  proxy_set_header Connection "";',
        "  proxy_pass_request_body off;",
        '  proxy_set_header Content-Length "";',
        "  proxy_set_header X-Original-Method $request_method;",
        "  proxy_set_header X-Original-URL $scheme://$http_host$request_uri;",
        "}",
        "# a page load goes where Clerk sends it (the handshake, 307, or the sign-in page, 302); an API call gets 401",
        f"location {SIGNED_OUT_LOCATION} {{",
        *all_cookies,
        "  add_header Cache-Control no-store always;",
        "  if ($clerk_auth_status = handshake) {",
        "    return 307 $clerk_redirect_to;",
        "  }",
        "  if ($clerk_redirect_to) {",
        "    return 302 $clerk_redirect_to;",
        "  }",
        "  return 401;",
        "}",
    ]
    text = f"""\
# clerk-authd proxy-config ingress-nginx: the Ingress of the Service {backend}:{options.upstream.port}, asking
# clerk-authd at http://{authd}. Apply: kubectl apply -f ingress.yaml
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {backend}
  annotations:
    nginx.ingress.kubernetes.io/auth-url: "http://{authd}/verify?{options.auth_query}"
    nginx.ingress.kubernetes.io/auth-method: GET
    nginx.ingress.kubernetes.io/auth-keepalive: "16"
    nginx.ingress.kubernetes.io/auth-response-headers: "{",".join(options.identity_headers)}"
    nginx.ingress.kubernetes.io/auth-always-set-cookie: "true"
    nginx.ingress.kubernetes.io/configuration-snippet: |
{_indent(configuration, 6)}
    nginx.ingress.kubernetes.io/server-snippet: |
{_indent(server, 6)}
spec:
  ingressClassName: nginx
  rules:
    - http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {backend}
                port:
                  number: {options.upstream.port}
"""
    return {FILE_NAME: text}
