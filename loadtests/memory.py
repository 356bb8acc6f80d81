"""``python -m loadtests.memory N``: the resident memory N distinct cached session tokens add, as JSON on stdout.

A fresh process builds the service's own verified-token cache and fills it through ``SessionVerifier.remember``,
the code a verified token takes into the cache, with N distinct sessions' payloads (parsed from JSON, as a
verified token's are), then renders each verdict's identity headers as the first cache hit does (only the 4,096
most recent renderings are kept, as in the service). Signing a hundred thousand RS256 tokens would take longer
than the rest of the benchmark, and the signature is not kept, so the tokens here carry the payload a real token
would and a placeholder signature.
"""

from __future__ import annotations

import base64
import gc
import sys
import time

import orjson
import psutil  # type: ignore[import-untyped]  # psutil ships no type information

from clerk_authd.clerk.cache import VerifiedTokenCache
from clerk_authd.clerk.session_verifier import SessionVerifier
from clerk_authd.clerk.tokens import VerifiedToken, VerifyOptions
from clerk_authd.rules.cached_verdict import CachedVerdict
from clerk_authd.rules.verdict import render_identity
from clerk_authd.testing.fake_clerk import DEFAULT_FRONTEND_API
from loadtests.tokens import bench_claims

_HEADER = base64.urlsafe_b64encode(b'{"alg":"RS256","kid":"ins_bench","typ":"JWT"}').rstrip(b"=").decode()


def fill(count: int) -> int:
    """Cache ``count`` distinct sessions' verdicts; the RSS growth in bytes."""
    cache: VerifiedTokenCache[CachedVerdict] = VerifiedTokenCache(count)
    verifier = SessionVerifier(VerifyOptions(), cache, time.time)
    gc.collect()
    before = psutil.Process().memory_info().rss
    for i in range(count):
        claims = bench_claims(
            user_id=f"user_{i:012d}bench", session_id=f"sess_{i:012d}bench", issuer=f"https://{DEFAULT_FRONTEND_API}"
        )
        payload_json = orjson.dumps(claims)
        token = f"{_HEADER}.{base64.urlsafe_b64encode(payload_json).rstrip(b'=').decode()}.signature{i}"
        verdict = verifier.remember(token, VerifiedToken(payload=orjson.loads(payload_json), kid="ins_bench"))
        verdict.identity_block(render_identity)
    gc.collect()
    if len(cache) != count:
        raise RuntimeError(f"the cache holds {len(cache)} verdicts, not {count}")
    return int(psutil.Process().memory_info().rss - before)


def main() -> None:
    """Print ``{"tokens": N, "growth_bytes": ...}``."""
    count = int(sys.argv[1])
    print(orjson.dumps({"tokens": count, "growth_bytes": fill(count)}).decode())


if __name__ == "__main__":
    main()
