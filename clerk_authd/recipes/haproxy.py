"""HAProxy: ``haproxy.cfg`` and ``clerk_authd.lua`` for ``haproxy -f haproxy.cfg`` (run where both are).

HAProxy has no auth subrequest of its own; ``clerk_authd.lua`` is one, on HAProxy's built-in ``core.httpclient``
(2.5+): it asks ``/forward-auth`` with the client's headers (never its body), ``X-Forwarded-Method`` / ``-Proto`` /
``-Host`` / ``-Uri`` set from the request itself, then either sets every identity header on the request (and
remembers the answer's cookies for the response) or answers the client with the service's answer as it is (a
307 handshake completed in place, a 302 to sign-in, a 401, a 403, with every cookie). Before it runs,
``haproxy.cfg`` deletes every header whose name starts with ``x-clerk`` followed by ``-`` or ``_`` (HAProxy keeps
header names in lower case), so no client value can reach the upstream, empty answer or not.
"""

from __future__ import annotations

from importlib import resources

from clerk_authd.recipes.options import RecipeOptions

FILE_NAME = "haproxy.cfg"
LUA_FILE_NAME = "clerk_authd.lua"


def lua_action() -> str:
    """The Lua auth-request action, package data shipped beside this module."""
    return resources.files("clerk_authd.recipes").joinpath(LUA_FILE_NAME).read_text(encoding="utf-8")


def render(options: RecipeOptions) -> dict[str, str]:
    """``haproxy.cfg`` and the Lua action it loads."""
    headers = " ".join(name.lower() for name in options.identity_headers)
    text = f"""\
# clerk-authd proxy-config haproxy: HAProxy in front of http://{options.upstream}, asking clerk-authd at
# http://{options.authd}. Run beside {LUA_FILE_NAME} (clerk-authd proxy-config haproxy --file {LUA_FILE_NAME}):
# haproxy -f haproxy.cfg
global
    # read by the Lua action when it is loaded, so set first
    setenv CLERK_AUTHD_URL http://{options.authd}/forward-auth?{options.auth_query}
    setenv CLERK_AUTHD_IDENTITY_HEADERS "{headers}"
    lua-load {LUA_FILE_NAME}

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h

frontend app
    bind {options.listen}
    # nothing the client calls X-Clerk-* (any case, "-" or "_") reaches the upstream
    http-request del-header ^x[-_]clerk[-_] -m reg
    http-request lua.clerk_authd
    http-response lua.clerk_authd_cookies
    default_backend app

backend app
    server app {options.upstream}
"""
    return {FILE_NAME: text, LUA_FILE_NAME: lua_action()}
