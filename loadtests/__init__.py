"""Load scenarios (Locust) and the side-by-side benchmark of the clerk_authd service; see README.md.

The two environment variables below are the whole contract between ``bench.py`` and ``locustfile.py``;
they live here because the benchmark must not import the locustfile (Locust patches the process with
gevent on import).
"""

from typing import Final

#: path of the token file (``tokens.TokenPools``) the scenarios send tokens from
TOKENS_ENV: Final = "CLERK_AUTHD_LOAD_TOKENS"
#: optional path where the locustfile writes exact latencies, the run's window and its failures (JSON)
RESULT_ENV: Final = "CLERK_AUTHD_LOAD_RESULT"
