"""``clerk-authd proxy-config``: complete, runnable proxy configurations that keep the contract of design.md.

Every recipe copies all identity headers from the auth answer to the upstream, removes any ``X-Clerk-*`` the client
sent (any case, ``_`` or ``-``) before that, tells the service the original method and URL in the headers its
endpoint trusts (``rules.proxied``), gets a handshake's and a refresh's cookies to the browser, sends browsers to
sign-in, keeps the request body away from the service, lets WebSocket upgrades through once authorized, and keeps
connections to the service alive. The generated text is the source of truth: ``deploy/`` holds it, and the
real-proxy tests run exactly it.

This package imports only settings and rules: it is text, built from values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from clerk_authd.recipes import caddy, envoy, haproxy, ingress_nginx, nginx, traefik
from clerk_authd.recipes.options import RecipeError, RecipeOptions, options_from_settings

__all__ = ["PROXIES", "RecipeError", "RecipeOptions", "options_from_settings", "render"]


#: the proxies ``proxy-config`` knows, in the order the help lists them
PROXIES: Final = ("nginx", "caddy", "haproxy", "ingress-nginx", "traefik", "envoy")
_RENDERERS: Final[dict[str, Callable[[RecipeOptions], dict[str, str]]]] = {
    "nginx": nginx.render,
    "caddy": caddy.render,
    "haproxy": haproxy.render,
    "ingress-nginx": ingress_nginx.render,
    "traefik": traefik.render,
    "envoy": envoy.render,
}


def render(proxy: str, options: RecipeOptions) -> dict[str, str]:
    """The files of ``proxy``'s recipe by file name, the main one first (``RecipeError`` for an unknown proxy)."""
    if proxy not in _RENDERERS:
        raise RecipeError(f"no recipe for {proxy!r} yet (have: {', '.join(_RENDERERS)})")
    if options.verdict_cache and proxy != "nginx":
        raise RecipeError(f"--verdict-cache: only the nginx recipe has a verdict cache, not {proxy}'s")
    return _RENDERERS[proxy](options)
