"""Traefik (v3.1+, ForwardAuth): ``traefik.yml`` (static) and ``dynamic.yml`` for ``traefik --configFile=traefik.yml``.

- ``address`` is ``/forward-auth`` with the recipe's own query (Traefik never adds the client's);
- ``trustForwardHeader: false``: Traefik sets ``X-Forwarded-Method`` / ``-Proto`` / ``-Host`` / ``-Uri`` itself,
  replacing the client's, and those are the only ones ``/forward-auth`` reads;
- ``authResponseHeadersRegex`` first strips every request header it matches, ``(?i)^x[-_]clerk[-_]``: any
  ``X-Clerk-*`` the client sent, in any case, with ``-`` or ``_``, then copies the answer's identity headers;
- a non-2xx answer (the in-place handshake 307, the sign-in 302, 401, 403) is returned to the browser as it is,
  with every cookie; on a 2xx, ``addAuthCookiesToResponse`` passes a refresh's cookies by name;
- ForwardAuth sends no body (``forwardBody`` off) and keeps connections to the service alive.
"""

from __future__ import annotations

from clerk_authd.recipes.options import RecipeOptions

FILE_NAME = "traefik.yml"
DYNAMIC_FILE_NAME = "dynamic.yml"
#: strips and copies every X-Clerk-* header, whatever its case or separator
HEADER_REGEX = "(?i)^x[-_]clerk[-_]"


def render(options: RecipeOptions) -> dict[str, str]:
    """``traefik.yml`` and ``dynamic.yml``."""
    cookies = "\n".join(f'          - "{name}"' for name in options.session_cookies)
    static = f"""\
# clerk-authd proxy-config traefik: Traefik in front of http://{options.upstream}, asking clerk-authd at
# http://{options.authd}. Run, beside {DYNAMIC_FILE_NAME}: traefik --configFile=traefik.yml
entryPoints:
  web:
    address: "{options.listen}"
providers:
  file:
    filename: "{DYNAMIC_FILE_NAME}"
log:
  level: WARN
"""
    dynamic = f"""\
# clerk-authd proxy-config traefik --file {DYNAMIC_FILE_NAME}: the routers, ForwardAuth and services
http:
  routers:
    app:
      entryPoints: ["web"]
      rule: "PathPrefix(`/`)"
      middlewares: ["clerk-authd"]
      service: app
  middlewares:
    clerk-authd:
      forwardAuth:
        address: "http://{options.authd}/forward-auth?{options.auth_query}"
        trustForwardHeader: false
        authResponseHeadersRegex: "{HEADER_REGEX}"
        addAuthCookiesToResponse:
{cookies}
  services:
    app:
      loadBalancer:
        passHostHeader: true
        servers:
          - url: "http://{options.upstream}"
"""
    return {FILE_NAME: static, DYNAMIC_FILE_NAME: dynamic}
