"""What ``authenticateRequest`` throws for before it looks at a token (clerk-semantics §2), in Clerk's order."""

from __future__ import annotations

from typing import Final

from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.errors import AuthenticateRequestError
from clerk_authd.js.url import parse_url
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.tokentypes import AcceptsToken

MSG_MISSING_SECRET_KEY: Final = (
    "Missing Clerk Secret Key. Go to https://dashboard.clerk.com and get your key for your instance."
)
MSG_MACHINE_KEY: Final = (
    "Machine token authentication requires either a Machine secret key or a Clerk secret key. Ensure a Clerk "
    "secret key or Machine secret key is set."
)


def check_preconditions(options: AuthenticateOptions, request: RequestView, accepts: AcceptsToken) -> None:
    """The checks ``authenticateRequest`` throws for (§2), in Clerk's order.

    One deviation: a ``jwt_key`` stands in for the secret key, because api.md lets a deployment verify
    networkless without one.
    """
    if accepts != "m2m_token":
        if not options.secret_key and not options.jwt_key:
            raise AuthenticateRequestError(MSG_MISSING_SECRET_KEY)
        if options.is_satellite:
            _check_satellite(options, request)
    elif not options.machine_secret_key and not options.secret_key:
        raise AuthenticateRequestError(MSG_MACHINE_KEY)


def pass_for_any_request(options: AuthenticateOptions, accepts: AcceptsToken) -> bool:
    """Whether ``check_preconditions`` passes whatever the request: it throws for none, and reads nothing of the
    request (a satellite's checks read its ``Origin``), so a decision may skip it."""
    if accepts == "m2m_token":
        return bool(options.machine_secret_key or options.secret_key)
    return not options.is_satellite and bool(options.secret_key or options.jwt_key)


def _check_satellite(options: AuthenticateOptions, request: RequestView) -> None:
    if not options.sign_in_url and options.secret_key.startswith(("sk_test_", "test_")):
        raise AuthenticateRequestError("Missing signInUrl. Pass a signInUrl for dev instances if an app is satellite")
    origin = request.header("origin")
    if options.sign_in_url and origin:
        sign_in = parse_url(options.sign_in_url)
        if sign_in is None:
            raise AuthenticateRequestError("The signInUrl needs to have a absolute url format.")
        if sign_in.origin == origin:
            raise AuthenticateRequestError(
                "The signInUrl needs to be on a different origin than your satellite application."
            )
    if not options.proxy_url and not options.domain:
        raise AuthenticateRequestError(
            "Missing domain and proxyUrl. A satellite application needs to specify a domain or a proxyUrl"
        )
