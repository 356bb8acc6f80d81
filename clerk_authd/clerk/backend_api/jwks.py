"""``client.jwks``: Clerk's ``JwksAPI``, the instance's signing keys as a typed result.

The verifier reads the key set with ``ClerkClient.get_jwks`` instead (raw JSON for the key store to vet, and no
retries: the key store refreshes in the background); this is the user-facing call, retried like any GET.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clerk_authd.clerk.backend_api.resource import Resource
from clerk_authd.clerk.backend_api.subapi import SubAPI


@dataclass(frozen=True, slots=True, kw_only=True)
class Jwks(Resource):
    """A JSON Web Key Set: each key as Clerk sent it (``kid``, ``kty``, ``alg``, ``n``, ``e``, ...)."""

    keys: tuple[dict[str, Any], ...] = ()


class JwksAPI(SubAPI):
    """Clerk's ``JwksAPI``."""

    async def get_jwks(self) -> Jwks:
        """``GET /jwks``."""
        return await self._one(Jwks, "GET", "/jwks")
