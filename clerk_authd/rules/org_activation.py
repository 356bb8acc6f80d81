"""Organization sync (clerk-semantics §11): a signed-in request whose URL names another active organization
(or a personal account) hand-shakes so that FAPI activates it."""

from __future__ import annotations

import logging
from typing import Final

from clerk_authd.reasons import ACTIVE_ORGANIZATION_MISMATCH
from clerk_authd.rules.auth import SignedInAuth, pending_as_signed_out
from clerk_authd.rules.handshake import Context, maybe_handshake
from clerk_authd.rules.state import RequestState

log = logging.getLogger(__name__)

MSG_ORG_LOOP: Final = (
    "Clerk: Organization activation handshake loop detected. This is likely due to an invalid organization ID "
    "or slug. Skipping organization activation."
)


def organization_sync(context: Context, signed_in: RequestState, auth: SignedInAuth) -> RequestState:
    """§11: a handshake when the URL asks for another active organization (or none); else signed in."""
    subject = pending_as_signed_out(auth)
    if not subject.user_id:
        return signed_in
    target = context.matcher.find_target(context.request.pathname)
    if target is None:
        return signed_in
    if target.kind == "organization":
        must_activate = bool(target.organization_slug and target.organization_slug != auth.org_slug) or bool(
            target.organization_id and target.organization_id != auth.org_id
        )
    else:
        must_activate = bool(auth.org_id)
    if not must_activate:
        return signed_in
    if context.carriers.redirect_count >= 3:
        log.warning(MSG_ORG_LOOP)
        return signed_in
    state = maybe_handshake(context, ACTIVE_ORGANIZATION_MISMATCH, "")
    return state if state.status == "handshake" else signed_in
