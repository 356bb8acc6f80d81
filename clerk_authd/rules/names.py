"""Clerk's cookie, query and header names: one owner for the vocabulary every stage of a request shares."""

from __future__ import annotations

import logging
from typing import Final

log = logging.getLogger(__name__)


SESSION_COOKIE: Final = "__session"
REFRESH_COOKIE: Final = "__refresh"
CLIENT_UAT_COOKIE: Final = "__client_uat"
DEV_BROWSER: Final = "__clerk_db_jwt"
HANDSHAKE: Final = "__clerk_handshake"
HANDSHAKE_NONCE: Final = "__clerk_handshake_nonce"
REDIRECT_COUNT_COOKIE: Final = "__clerk_redirect_count"


LEGACY_DEV_SESSION: Final = "__dev_session"
HANDSHAKE_HELP: Final = "__clerk_help"


#: the query parameters a completed handshake removes from the URL (clerk-semantics §9, step 2)
HANDSHAKE_PARAMS: Final = ("__clerk_handshake", "__clerk_help", "__clerk_db_jwt", "__clerk_handshake_nonce")


SUPPORTED_BAPI_VERSION: Final = "2026-05-12"
