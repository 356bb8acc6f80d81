"""Load scenarios (Locust) and the side-by-side benchmark of the clerk_authd service; see README.md.

What the benchmark and the locustfile share lives here, because the benchmark must not import the locustfile
(Locust patches the process with gevent on import).
"""

from typing import Final

#: what nginx's auth_request sends along: the original request the gateway decides about
ORIGINAL_REQUEST: Final = {
    "X-Forwarded-Method": "GET",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "app.example.test",
    "X-Forwarded-Uri": "/dashboard",
}

#: path of the token file (``tokens.TokenPools``) the scenarios send tokens from
TOKENS_ENV: Final = "CLERK_AUTHD_LOAD_TOKENS"
