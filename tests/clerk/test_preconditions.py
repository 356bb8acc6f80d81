"""``pass_for_any_request``: the options under which ``check_preconditions`` can be skipped for every request."""

from __future__ import annotations

import itertools

import pytest

from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.clerk.preconditions import check_preconditions, pass_for_any_request
from clerk_authd.errors import AuthenticateRequestError
from clerk_authd.rules.tokentypes import AcceptsToken
from tests.support import request_view

#: requests a satellite's checks answer differently (its Origin against the sign-in URL)
REQUESTS = (
    request_view(),
    request_view(origin="https://primary.test"),
    request_view(origin="https://satellite.test"),
)
ACCEPTS: tuple[AcceptsToken, ...] = ("session_token", "m2m_token", "any", ("session_token", "api_key"))


def all_options() -> list[AuthenticateOptions]:
    """Every combination of the keys and satellite settings the checks read."""
    return [
        AuthenticateOptions(
            secret_key=secret,
            machine_secret_key=machine,
            jwt_key=jwt,
            is_satellite=satellite,
            domain="satellite.test" if satellite else "",
            sign_in_url=sign_in,
        )
        for secret, machine, jwt, satellite, sign_in in itertools.product(
            ("", "sk_test_x", "sk_live_x"),
            ("", "ak_x"),
            ("", "-----BEGIN PUBLIC KEY-----"),
            (False, True),
            ("", "https://primary.test/sign-in"),
        )
    ]


@pytest.mark.parametrize("accepts", ACCEPTS, ids=str)
def test_options_that_pass_for_any_request_pass_for_every_request(accepts: AcceptsToken) -> None:
    """Whenever it says so, no request makes the checks throw; whenever it does not, the options are ones the
    checks throw for or read the request under (a satellite)."""
    for options in all_options():
        passes = pass_for_any_request(options, accepts)
        outcomes = []
        for request in REQUESTS:
            try:
                check_preconditions(options, request, accepts)
                outcomes.append(True)
            except AuthenticateRequestError:
                outcomes.append(False)
        if passes:
            assert all(outcomes), options
        else:
            assert not all(outcomes) or (options.is_satellite and accepts != "m2m_token"), options
