"""Clerk's cookie, query-parameter and header names: one owner for the vocabulary every stage of a request shares.

Nothing else in the package types one of these strings; it imports the name from here.
"""

from __future__ import annotations

from typing import Final

# --- cookies (clerk-semantics §1.4, §5) ----------------------------------------------------------------------
SESSION_COOKIE: Final = "__session"
REFRESH_COOKIE: Final = "__refresh"
CLIENT_UAT_COOKIE: Final = "__client_uat"
#: the development browser token, as a cookie and as a query parameter
DEV_BROWSER: Final = "__clerk_db_jwt"
REDIRECT_COUNT_COOKIE: Final = "__clerk_redirect_count"

# --- handshake and sync query parameters (clerk-semantics §7–§10) --------------------------------------------
#: the signed handshake payload (development) and its nonce (production), as query parameters or cookies
HANDSHAKE: Final = "__clerk_handshake"
HANDSHAKE_NONCE: Final = "__clerk_handshake_nonce"
HANDSHAKE_HELP: Final = "__clerk_help"
HANDSHAKE_REASON: Final = "__clerk_hs_reason"
API_VERSION_PARAM: Final = "__clerk_api_version"
SYNCED: Final = "__clerk_synced"
REDIRECT_URL: Final = "__clerk_redirect_url"
LEGACY_DEV_SESSION: Final = "__dev_session"
#: the prefix of every query parameter Clerk reserves for itself
CLERK_PARAM_PREFIX: Final = "__clerk_"
#: the query parameters a completed handshake removes from the URL (clerk-semantics §9, step 2)
HANDSHAKE_PARAMS: Final = (HANDSHAKE, HANDSHAKE_HELP, DEV_BROWSER, HANDSHAKE_NONCE)
#: the Backend API version a handshake asks FAPI to speak (``SUPPORTED_BAPI_VERSION``)
SUPPORTED_BAPI_VERSION: Final = "2026-05-12"

# --- headers ------------------------------------------------------------------------------------------------
AUTH_STATUS_HEADER: Final = "x-clerk-auth-status"
AUTH_REASON_HEADER: Final = "x-clerk-auth-reason"
AUTH_MESSAGE_HEADER: Final = "x-clerk-auth-message"
#: the identity headers of api.md §3: status, reason and message first, then ``Identity``'s fields in order
IDENTITY_HEADERS: Final = (
    AUTH_STATUS_HEADER,
    AUTH_REASON_HEADER,
    AUTH_MESSAGE_HEADER,
    "x-clerk-user-id",
    "x-clerk-session-id",
    "x-clerk-session-status",
    "x-clerk-org-id",
    "x-clerk-org-slug",
    "x-clerk-org-role",
    "x-clerk-org-permissions",
    "x-clerk-actor-id",
    "x-clerk-token-type",
    "x-clerk-machine-id",
    "x-clerk-client-id",
    "x-clerk-scopes",
)
#: where ``/verify`` puts the URL a signed-out browser should go to (nginx reads it with ``auth_request_set``)
REDIRECT_TO_HEADER: Final = "x-clerk-redirect-to"
#: ``/verify`` repeats its n-th ``Set-Cookie`` in ``x-clerk-set-cookie-<n>`` (from 1): nginx's
#: ``$upstream_http_set_cookie`` holds only the first of several, and a refresh or a handshake may set more
SET_COOKIE_COPY_PREFIX: Final = "x-clerk-set-cookie-"
