"""Every reason string a decision can carry, in one place: Clerk's, spelled as Clerk spells them, and ours.

``X-Clerk-Auth-Reason`` carries one of these; the README's "Reasons" table explains each. Nothing else in the
package types a reason literally: it imports the name from here.
"""

from __future__ import annotations

from typing import Final


class Reason:
    """Clerk's ``TokenVerificationErrorReason`` values (clerk-semantics §13), exactly as Clerk spells them."""

    TOKEN_EXPIRED: Final = "token-expired"
    TOKEN_INVALID: Final = "token-invalid"
    TOKEN_INVALID_ALGORITHM: Final = "token-invalid-algorithm"
    TOKEN_INVALID_AUTHORIZED_PARTIES: Final = "token-invalid-authorized-parties"
    TOKEN_INVALID_SIGNATURE: Final = "token-invalid-signature"
    TOKEN_NOT_ACTIVE_YET: Final = "token-not-active-yet"
    TOKEN_IAT_IN_THE_FUTURE: Final = "token-iat-in-the-future"
    TOKEN_VERIFICATION_FAILED: Final = "token-verification-failed"
    TOKEN_INVALID_ISSUER: Final = "token-invalid-issuer"
    SECRET_KEY_INVALID: Final = "secret-key-invalid"
    JWK_LOCAL_MISSING: Final = "jwk-local-missing"
    JWK_REMOTE_FAILED_TO_LOAD: Final = "jwk-remote-failed-to-load"
    JWK_FAILED_TO_RESOLVE: Final = "jwk-failed-to-resolve"
    JWK_KID_MISMATCH: Final = "jwk-kid-mismatch"


#: Clerk's ``AuthErrorReason`` values (clerk-semantics §13)
CLIENT_UAT_WITHOUT_SESSION_TOKEN: Final = "client-uat-but-no-session-token"
DEV_BROWSER_MISSING: Final = "dev-browser-missing"
DEV_BROWSER_SYNC: Final = "dev-browser-sync"
PRIMARY_RESPONDS_TO_SYNCING: Final = "primary-responds-to-syncing"
PRIMARY_DOMAIN_CROSS_ORIGIN_SYNC: Final = "primary-domain-cross-origin-sync"
SATELLITE_NEEDS_SYNCING: Final = "satellite-needs-syncing"
SESSION_TOKEN_AND_UAT_MISSING: Final = "session-token-and-uat-missing"
SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT: Final = "session-token-iat-before-client-uat"
SESSION_TOKEN_WITHOUT_CLIENT_UAT: Final = "session-token-but-no-client-uat"
ACTIVE_ORGANIZATION_MISMATCH: Final = "active-organization-mismatch"
UNEXPECTED_ERROR: Final = "unexpected-error"
SESSION_TOKEN_MISSING: Final = "session-token-missing"
TOKEN_TYPE_MISMATCH: Final = "token-type-mismatch"
#: the refresh attempt's outcome appended to ``session-token-expired-refresh-`` (Clerk's ``RefreshTokenErrorReason``)
REFRESH_PREFIX: Final = "session-token-expired-refresh-"
SESSION_TOKEN_NBF: Final = "session-token-nbf"
SESSION_TOKEN_IAT_IN_THE_FUTURE: Final = "session-token-iat-in-the-future"


class MachineCode:
    """Clerk's ``MachineTokenVerificationErrorCode`` values; each becomes the signed-out ``reason``."""

    TOKEN_INVALID: Final = "token-invalid"
    SECRET_KEY_INVALID: Final = "secret-key-invalid"
    UNEXPECTED_ERROR: Final = "unexpected-error"
    TOKEN_VERIFICATION_FAILED: Final = "token-verification-failed"


#: ours, beside Clerk's: a requirement failed; the session is pending (Clerk's ``toAuth()`` signs it out)
REQUIREMENT_NOT_MET: Final = "requirement-not-met"
SESSION_PENDING: Final = "session-pending"
#: ours: a ``__clerk_redirect_url`` outside the app's origin and ``CLERK_AUTHORIZED_PARTIES`` (Clerk follows any)
REDIRECT_URL_NOT_ALLOWED: Final = "redirect-url-not-allowed"
