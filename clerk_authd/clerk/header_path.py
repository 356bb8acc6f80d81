"""A token in the ``Authorization`` header (clerk-semantics §4, §18): a session token verified through the cache,
a machine token verified by ``machine.MachineVerifier``, or a type mismatch, as ``acceptsToken`` decides."""

from __future__ import annotations

import logging
from typing import Final

from clerk_authd.clerk.machine import MachineVerifier
from clerk_authd.clerk.refresh import SessionTokenErrors
from clerk_authd.clerk.session_verifier import SessionVerifier
from clerk_authd.reasons import TOKEN_TYPE_MISMATCH
from clerk_authd.rules.handshake import Context
from clerk_authd.rules.jwt import DecodedJwt, peek_jwt
from clerk_authd.rules.machine_auth import MachineTokenRejectedError
from clerk_authd.rules.state import RequestState
from clerk_authd.rules.tokentypes import (
    AcceptsToken,
    get_machine_token_type,
    has_non_session_jwt_category,
    is_machine_jwt,
    is_machine_token,
    is_machine_token_type,
    is_token_type_accepted,
)

log = logging.getLogger(__name__)

NO_TOKEN_IN_HEADER: Final = "No token in header"


def is_other_than_a_session_jwt(token: str, decoded: DecodedJwt | None) -> bool:
    """Clerk's type guards on a token in ``Authorization`` when only session tokens are accepted: a machine JWT, or
    one of another JWT category, is a type mismatch (``decoded``: the token's ``peek_jwt``)."""
    return is_machine_jwt(token, decoded) or has_non_session_jwt_category(token, decoded)


class HeaderPath:
    """Decides a request by the token in its ``Authorization`` header."""

    def __init__(self, sessions: SessionVerifier, errors: SessionTokenErrors, machines: MachineVerifier) -> None:
        self._sessions = sessions
        self._errors = errors
        self._machines = machines

    async def session(self, context: Context, token: str) -> RequestState:
        """Only session tokens accepted (the default): the token is decoded once, for both type guards and the
        verification."""
        decoded = peek_jwt(token)
        if is_other_than_a_session_jwt(token, decoded):
            return RequestState.signed_out(TOKEN_TYPE_MISMATCH)
        return await self._verify_session(context, token, decoded)

    async def any(self, context: Context, token: str, accepts: AcceptsToken) -> RequestState:
        if is_machine_token(token):
            kind = get_machine_token_type(token)
            if not is_token_type_accepted(kind, accepts):
                return RequestState.signed_out(TOKEN_TYPE_MISMATCH, token_type=kind)
            return await self._verify_machine(token)
        if has_non_session_jwt_category(token):
            return RequestState.signed_out(TOKEN_TYPE_MISMATCH)
        return await self._verify_session(context, token)

    async def machine(self, token: str | None, accepts: AcceptsToken) -> RequestState:
        """One machine type accepted: a token of another kind is a mismatch; no token, "No token in header"."""
        if not (isinstance(accepts, str) and is_machine_token_type(accepts)):
            return RequestState.signed_out_invalid_token()
        if not token:
            return RequestState.signed_out(NO_TOKEN_IN_HEADER, token_type=accepts)
        if not is_machine_token(token) or get_machine_token_type(token) != accepts:
            return RequestState.signed_out(TOKEN_TYPE_MISMATCH, token_type=accepts)
        return await self._verify_machine(token)

    async def _verify_machine(self, token: str) -> RequestState:
        """``verifyMachineAuthToken``: signed in as the machine, or ``handleMachineError``'s signed-out state,
        typed as the verification reports (a JWT's type can differ from the one its classification gave)."""
        try:
            auth = await self._machines.verify(token)
        except MachineTokenRejectedError as error:
            return RequestState.signed_out(error.code, error.full_message(), token_type=error.token_type)
        return RequestState.signed_in(auth, token)

    async def _verify_session(self, context: Context, token: str, decoded: DecodedJwt | None = None) -> RequestState:
        try:
            verdict = await self._sessions.verify(token, decoded)
        except Exception as error:  # Clerk maps every failure here, TokenVerificationError or not
            return await self._errors.handle(context, error, "header")
        return RequestState.signed_in(verdict.signed_in(token), token, cache_hit=self._sessions.missed, verdict=verdict)
