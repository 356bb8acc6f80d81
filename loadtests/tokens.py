"""The token file shared by the benchmark (which writes it) and the locustfile (which reads it).

Every token is minted by the same FakeClerk whose JWKS the service loads, so the service verifies them for
real: the small ``valid`` pool is reused (cache hits), each ``fresh`` token is sent once (cache misses), and
``bad_signature`` tokens carry the right ``kid`` and claims but are signed by another key, so they cost a
full signature check and then fail. ``forbidden_permission`` names a permission the valid tokens lack.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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


def mint_pools(fake: FakeClerk, *, valid: int, fresh: int, bad_signature: int) -> TokenPools:
    """Mint every pool with ``fake``'s signing key; each token has its own session id, so all are distinct."""
    impostor = TokenMint.generate(kid=fake.mint.kid)

    def claims(session_id: str) -> dict[str, Any]:
        return session_claims(
            user_id=f"user_{session_id}",
            session_id=session_id,
            issuer=fake.issuer,
            azp=AUTHORIZED_PARTY,
            ttl_s=TOKEN_TTL_S,
            org_id=ORG_ID,
            org_slug="load",
            org_role="member",
            org_permissions=[GRANTED_PERMISSION],
        )

    return TokenPools(
        valid=[fake.mint.sign(claims(f"sess_valid_{i}")) for i in range(valid)],
        fresh=[fake.mint.sign(claims(f"sess_fresh_{i}")) for i in range(fresh)],
        bad_signature=[impostor.sign(claims(f"sess_forged_{i}")) for i in range(bad_signature)],
    )
