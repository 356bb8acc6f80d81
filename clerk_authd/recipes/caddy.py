"""Caddy: a Caddyfile for ``caddy run --adapter caddyfile --config Caddyfile``, in front of one upstream.

``forward_auth`` is written out as the ``reverse_proxy`` it stands for, because the shorthand cannot do three
things the contract needs: its ``uri`` without a query gets the client's query copied on (ours always has one),
it cannot pass the auth answer's ``Set-Cookie`` (a refresh) to the browser on a 2xx (``copy_response_headers``
does), and it leaves ``X-Original-*`` from the client in place (``/forward-auth`` ignores them anyway).

- the client's ``X-Clerk*`` and ``X_Clerk*`` headers (Caddy matches names without regard to case) are deleted
  first, so the copied identity headers are the only ones, even on Caddy releases that keep a client's header
  when the auth answer's value is empty (GHSA-7r4p-vjf4-gxv4);
- Caddy sets ``X-Forwarded-Proto`` / ``-Host`` itself (replacing the client's: no ``trusted_proxies``), the recipe
  ``X-Forwarded-Method`` / ``-Uri``;
- any non-2xx answer (307 handshake, completed in place by ``/forward-auth``; 302 sign-in; 401; 403) goes to
  the browser as it is, with every cookie;
- ``auto_https off`` and plain ``http://`` addresses: Caddy neither obtains certificates nor installs its root
  into the system's trust store (``skip_install_trust``); the admin endpoint is off.
"""

from __future__ import annotations

from clerk_authd.recipes.options import RecipeOptions

FILE_NAME = "Caddyfile"


def render(options: RecipeOptions) -> dict[str, str]:
    """``Caddyfile``."""
    copies = "\n".join(f"\t\t\trequest_header {name} {{rp.header.{name}}}" for name in options.identity_headers)
    text = f"""\
# clerk-authd proxy-config caddy: Caddy in front of http://{options.upstream}, asking clerk-authd at
# http://{options.authd}. Run: caddy run --adapter caddyfile --config Caddyfile
{{
\tadmin off
\tauto_https off
\tskip_install_trust
}}

http://{options.listen} {{
\t# nothing the client calls X-Clerk-* (any case, "-" or "_") reaches the upstream
\trequest_header -X-Clerk*
\trequest_header -X_Clerk*

\treverse_proxy {options.authd} {{
\t\tmethod GET
\t\trewrite /forward-auth?{options.auth_query}
\t\theader_up X-Forwarded-Method {{http.request.method}}
\t\theader_up X-Forwarded-Uri {{http.request.uri}}
\t\theader_up -X-Original-*
\t\theader_up -Upgrade
\t\theader_up -Connection

\t\t@allowed status 2xx
\t\thandle_response @allowed {{
{copies}
\t\t\tcopy_response_headers {{
\t\t\t\tinclude Set-Cookie
\t\t\t}}
\t\t}}
\t}}

\treverse_proxy {options.upstream}
}}
"""
    return {FILE_NAME: text}
