"""Load scenarios (Locust) and the side-by-side benchmark of the clerk_authd service; see README.md.

What the benchmark and the locustfile share lives here, because the benchmark must not import the locustfile
(Locust patches the process with gevent on import).
"""

from typing import Final

#: what the nginx recipe's auth_request sends along to ``/verify``: the original request the gateway decides about
ORIGINAL_REQUEST: Final = {
    "X-Original-Method": "GET",
    "X-Original-URL": "https://app.example.test/dashboard",
}
#: the same request as Traefik's ForwardAuth and Caddy's forward_auth describe it to ``/forward-auth``
FORWARDED_REQUEST: Final = {
    "X-Forwarded-Method": "GET",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "app.example.test",
    "X-Forwarded-Uri": "/dashboard",
}


def original_request_headers(path: str) -> dict[str, str]:
    """The headers a proxy describes the original request in, for the endpoint at ``path``."""
    return dict(FORWARDED_REQUEST if path.startswith("/forward-auth") else ORIGINAL_REQUEST)


#: path of the token file (``tokens.TokenPools``) the scenarios send tokens from
TOKENS_ENV: Final = "CLERK_AUTHD_LOAD_TOKENS"
