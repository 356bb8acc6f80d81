"""Envoy (``ext_authz``, HTTP service): one bootstrap for ``envoy -c envoy.yaml``.

- the check request goes to ``/ext-authz`` + the original path and query, with the original method, no body,
  and only the headers the decision reads (Envoy always adds ``Host``, ``Authorization``, method, path and
  ``Content-Length: 0``); ``X-Forwarded-Proto`` is Envoy's own (``use_remote_address``), and
  ``X-Forwarded-Host`` is never sent, so the client cannot move the decided URL;
- ``allowed_upstream_headers`` replaces the client's value of every identity header with the answer's (an empty
  one included), and Envoy drops any header with ``_`` in its name (``headers_with_underscores_action``);
- a denial's status, ``Location`` and cookies reach the browser; on success, ``allowed_client_headers_on_success``
  passes a refresh's ``Set-Cookie``; a handshake is completed by ``/ext-authz`` itself (307 with its cookies);
- requirements cannot be given: the check request's query is the client's own (``/ext-authz`` takes none).
"""

from __future__ import annotations

from clerk_authd.recipes.options import RecipeError, RecipeOptions

FILE_NAME = "envoy.yaml"
_HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
#: the client headers the decision reads, besides those Envoy always sends
REQUEST_HEADERS = ("cookie", "accept", "sec-fetch-dest", "referer", "origin", "user-agent", "x-forwarded-proto")
CLIENT_HEADERS = ("location", "set-cookie", "cache-control", "content-type", "www-authenticate")


def _patterns(indent: int, kind: str, names: tuple[str, ...]) -> str:
    return "\n".join(" " * indent + f'- {{{kind}: "{name}"}}' for name in names)


def _cluster(name: str, host: str, port: int) -> str:
    return f"""\
    - name: {name}
      type: STRICT_DNS
      connect_timeout: 2s
      load_assignment:
        cluster_name: {name}
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: {{address: "{host}", port_value: {port}}}"""


def render(options: RecipeOptions) -> dict[str, str]:
    """``envoy.yaml``."""
    if options.requirements:
        raise RecipeError("--requirements: Envoy's check request carries the client's query; /ext-authz takes none")
    text = f"""\
# clerk-authd proxy-config envoy: Envoy in front of http://{options.upstream}, asking clerk-authd at
# http://{options.authd}. Run: envoy -c envoy.yaml
static_resources:
  listeners:
    - name: app
      address:
        socket_address: {{address: "{options.listen.host}", port_value: {options.listen.port}}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": {_HCM}
                stat_prefix: app
                use_remote_address: true
                common_http_protocol_options:
                  headers_with_underscores_action: DROP_HEADER
                upgrade_configs:
                  - upgrade_type: websocket
                route_config:
                  virtual_hosts:
                    - name: app
                      domains: ["*"]
                      routes:
                        - match: {{prefix: "/"}}
                          route: {{cluster: app, timeout: 0s}}
                http_filters:
                  - name: envoy.filters.http.ext_authz
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
                      transport_api_version: V3
                      failure_mode_allow: false
                      http_service:
                        server_uri: {{uri: "http://{options.authd}", cluster: clerk_authd, timeout: 5s}}
                        path_prefix: /ext-authz
                        authorization_request:
                          allowed_headers:
                            patterns:
{_patterns(30, "exact", REQUEST_HEADERS)}
                        authorization_response:
                          allowed_upstream_headers:
                            patterns:
{_patterns(30, "exact", options.identity_headers_lower)}
                          allowed_client_headers:
                            patterns:
{_patterns(30, "exact", CLIENT_HEADERS)}
                          allowed_client_headers_on_success:
                            patterns:
{_patterns(30, "exact", ("set-cookie",))}
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
{_cluster("clerk_authd", options.authd.host, options.authd.port)}
{_cluster("app", options.upstream.host, options.upstream.port)}
"""
    return {FILE_NAME: text}
