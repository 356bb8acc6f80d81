"""The token file the locustfile reads, written by the benchmark or, for a ``serve --dev`` server, by ``main``.

Every token is signed with the key of the instance the service trusts (the benchmark's FakeClerk, or the
``--dev`` issuer's key from its state directory), so the service verifies them for real: the small ``valid``
pool is reused (cache hits), each ``fresh`` token is sent once (cache misses), and ``bad_signature`` tokens
carry the right ``kid`` and claims but are signed by another key, so they cost a full signature check and
then fail. ``forbidden_permission`` names a permission the valid tokens lack.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from clerk_authd.testing.dev_issuer import dev_mint, state_dir
from clerk_authd.testing.fake_clerk import FakeClerk
from clerk_authd.testing.mint import TokenMint, session_claims

#: the organization every valid token is signed into, and what it may and may not do
ORG_ID = "org_load"
GRANTED_PERMISSION = "org:invoices:read"
FORBIDDEN_PERMISSION = "org:invoices:delete"
#: the authorized party every token names and the service is configured to accept
AUTHORIZED_PARTY = "http://localhost:3000"
#: tokens outlive any bounded run, so no scenario turns into "token-expired" half-way
TOKEN_TTL_S = 3600


@dataclass(frozen=True, slots=True)
class TokenPools:
    """The tokens of one load run, by how the scenarios use them."""

    valid: list[str]
    fresh: list[str]
    bad_signature: list[str]
    forbidden_permission: str = FORBIDDEN_PERMISSION

    def write(self, path: Path) -> None:
        """Save as JSON for the locustfile (``CLERK_AUTHD_LOAD_TOKENS``)."""
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> TokenPools:
        """Load a file written by ``write``."""
        data = json.loads(path.read_text())
        return cls(
            valid=list(data["valid"]),
            fresh=list(data["fresh"]),
            bad_signature=list(data["bad_signature"]),
            forbidden_permission=str(data["forbidden_permission"]),
        )


def bench_claims(*, user_id: str, session_id: str, issuer: str) -> dict[str, Any]:
    """The claims of every benchmark session: an organization member with the permission ``/has`` asks for."""
    return session_claims(
        user_id=user_id,
        session_id=session_id,
        issuer=issuer,
        azp=AUTHORIZED_PARTY,
        ttl_s=TOKEN_TTL_S,
        org_id=ORG_ID,
        org_slug="load",
        org_role="member",
        org_permissions=[GRANTED_PERMISSION],
    )


def mint_pools(fake: FakeClerk, *, valid: int, fresh: int, bad_signature: int) -> TokenPools:
    """Mint every pool with ``fake``'s signing key; each token has its own session id, so all are distinct."""
    impostor = TokenMint.generate(kid=fake.mint.kid)

    def claims(session_id: str) -> dict[str, Any]:
        return bench_claims(user_id=f"user_{session_id}", session_id=session_id, issuer=fake.issuer)

    return TokenPools(
        valid=[fake.mint.sign(claims(f"sess_valid_{i}")) for i in range(valid)],
        fresh=[fake.mint.sign(claims(f"sess_fresh_{i}")) for i in range(fresh)],
        bad_signature=[impostor.sign(claims(f"sess_forged_{i}")) for i in range(bad_signature)],
    )


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m loadtests.tokens OUT``: a token file for the local ``clerk-authd serve --dev`` instance.

    The development issuer keeps its signing key in a per-user state directory, so tokens minted here with
    that key verify on a ``--dev`` server: the way to run the locustfile by hand (see README.md).
    """
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.tokens",
        description="Write a token file for the local clerk-authd serve --dev instance.",
    )
    parser.add_argument("out", type=Path, help="where to write the token file")
    parser.add_argument("--valid", type=int, default=100, help="reused tokens (cache hits; default 100)")
    parser.add_argument("--fresh", type=int, default=20_000, help="tokens sent once (cache misses; default 20000)")
    parser.add_argument("--bad", type=int, default=50, help="forged tokens (default 50)")
    args = parser.parse_args(argv)
    dev_instance = FakeClerk(mint=dev_mint(state_dir()))
    mint_pools(dev_instance, valid=args.valid, fresh=args.fresh, bad_signature=args.bad).write(args.out)


if __name__ == "__main__":
    main()
