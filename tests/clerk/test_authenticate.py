"""``authenticateRequest``'s decisions beyond the recorded table (clerk-semantics §3–§6, §10, §11, §18).

Every test runs against a real FakeClerk on loopback (keys, handshake payloads, session refresh), at a fixed
clock. The recorded Clerk answers themselves are replayed in ``test_conformance.py``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from clerk_authd.clerk.authenticate import Authenticator, authenticate_request
from clerk_authd.clerk.backend_api import ClerkClient
from clerk_authd.clerk.cache import VerifiedTokenCache
from clerk_authd.clerk.cookie_path import MSG_MISSING_AZP
from clerk_authd.clerk.keystore import KeyStore
from clerk_authd.clerk.options import AuthenticateOptions
from clerk_authd.clerk.preconditions import MSG_MACHINE_KEY, MSG_MISSING_SECRET_KEY
from clerk_authd.errors import AuthenticateRequestError
from clerk_authd.rules.cached_verdict import CachedVerdict
from clerk_authd.rules.keys import KeyResolver, PemKey, VerificationKey
from clerk_authd.rules.org_activation import MSG_ORG_LOOP
from clerk_authd.rules.request import RequestView
from clerk_authd.rules.state import RequestState
from clerk_authd.rules.tokentypes import AcceptsToken
from clerk_authd.testing.fake_clerk import DEFAULT_FRONTEND_API, DEFAULT_PUBLISHABLE_KEY, FakeClerk, clerk_error
from clerk_authd.testing.mint import b64url, session_claims
from tests.conftest import FROZEN_NOW

NOW = FROZEN_NOW
PK_TEST = DEFAULT_PUBLISHABLE_KEY
PK_LIVE = "pk_live_" + DEFAULT_PUBLISHABLE_KEY.removeprefix("pk_test_")
FAPI = DEFAULT_FRONTEND_API
URL = "http://app.test/dash"
DOC = {"sec-fetch-dest": "document"}
API = {"accept": "application/json"}


@dataclass
class Env:
    """A FakeClerk instance, a client and a key store pointed at it, and the options to authenticate with."""

    fake: FakeClerk
    client: ClerkClient
    keys: KeyStore
    publishable_key: str

    def options(self, **overrides: Any) -> AuthenticateOptions:
        base: dict[str, Any] = {"publishable_key": self.publishable_key, "secret_key": self.fake.secret_key}
        return AuthenticateOptions(**{**base, **overrides})

    def authenticator(
        self, *, cache: VerifiedTokenCache[CachedVerdict] | None = None, **overrides: Any
    ) -> Authenticator:
        keys: KeyResolver = overrides.pop("keys", self.keys)
        client = overrides.pop("client", self.client)
        clock = overrides.pop("clock", NOW)
        return Authenticator(self.options(**overrides), keys=keys, client=client, cache=cache, clock=lambda: clock)

    async def run(
        self,
        url: str = URL,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        *,
        accepts_token: AcceptsToken | None = None,
        **overrides: Any,
    ) -> RequestState:
        request = RequestView.build(method, url, (headers or {}).items())
        return await self.authenticator(**overrides).authenticate(request, accepts_token=accepts_token)

    def token(self, **claims: Any) -> str:
        claims.setdefault("azp", "http://app.test")
        return self.fake.session_token(**claims)

    def refreshes(self) -> list[Any]:
        return [r for r in self.fake.received if r.path.endswith("/refresh")]


async def _env(publishable_key: str) -> AsyncIterator[Env]:
    async with (
        FakeClerk(publishable_key=publishable_key, clock=lambda: NOW) as fake,
        ClerkClient(secret_key=fake.secret_key, api_url=fake.url) as client,
    ):
        keys = KeyStore(client)
        try:
            yield Env(fake, client, keys, publishable_key)
        finally:
            await keys.close()


@pytest.fixture
async def prod() -> AsyncIterator[Env]:
    """A production instance (``pk_live_``) on FakeClerk."""
    async for env in _env(PK_LIVE):
        yield env


@pytest.fixture
async def dev() -> AsyncIterator[Env]:
    """A development instance (``pk_test_``) on FakeClerk."""
    async for env in _env(PK_TEST):
        yield env


def cookie(**values: str) -> dict[str, str]:
    return {"cookie": "; ".join(f"{name}={value}" for name, value in values.items())}


class CountingKeys:
    """A key resolver that counts lookups, to see verification being skipped."""

    def __init__(self, inner: KeyResolver) -> None:
        self.inner = inner
        self.calls = 0

    async def get_key(self, kid: str | None) -> VerificationKey:
        self.calls += 1
        return await self.inner.get_key(kid)

    def key_now(self, kid: str | None) -> VerificationKey | None:
        self.calls += 1
        return self.inner.key_now(kid)


class BrokenKeys:
    """A key resolver failing with something that is not a ``TokenVerificationError``."""

    async def get_key(self, kid: str | None) -> VerificationKey:
        raise RuntimeError("the network fell over")

    def key_now(self, kid: str | None) -> None:
        return None


# --- the header path (§4) -----------------------------------------------------------------------------------


async def test_a_valid_header_token_is_signed_in_without_headers(prod: Env) -> None:
    """Signed in: the token, its auth object, no debug headers, no cookies."""
    token = prod.token(user_id="user_9")
    state = await prod.run(headers={"authorization": f"Bearer {token}", **API})
    assert (state.status, state.token, state.headers, state.set_cookies) == ("signed-in", token, (), ())
    auth = state.to_auth()
    assert auth is not None
    assert auth.user_id == "user_9"


@pytest.mark.parametrize("carrier", ["header", "cookie"])
async def test_a_failure_that_is_not_a_token_error_is_unexpected(prod: Env, carrier: str) -> None:
    """Anything but a ``TokenVerificationError`` while verifying is ``unexpected-error`` with no message."""
    token = prod.token()
    headers = {"authorization": f"Bearer {token}"} if carrier == "header" else cookie(__session=token, __client_uat="1")
    state = await prod.run(headers=headers, keys=BrokenKeys())
    assert (state.status, state.reason, state.message) == ("signed-out", "unexpected-error", "")


async def test_a_bad_signature_in_the_cookie_names_the_cookie_carrier(prod: Env) -> None:
    """Non-time failures are signed-out with Clerk's full message and ``token-carrier=cookie``."""
    forged = prod.token()[:-4] + "AAAA"
    state = await prod.run(headers=cookie(__session=forged, __client_uat="1"))
    assert (state.reason, state.message) == (
        "token-invalid-signature",
        "JWT signature is invalid. (reason=token-invalid-signature, token-carrier=cookie)",
    )


@pytest.mark.parametrize("claims", [{"user_id": "mch_1"}, {"extra": {}}], ids=["m2m subject", "template category"])
async def test_machine_or_template_jwts_in_the_session_cookie_are_a_type_mismatch(
    prod: Env, claims: dict[str, Any]
) -> None:
    """§5 step 10: an M2M JWT or a non-session ``cat`` in ``__session`` is ``token-type-mismatch``."""
    header = {"cat": "cl_B7d4PD222AAA"} if "extra" in claims else None
    payload = prod.fake.mint.sign({"sub": claims.get("user_id", "user_1"), "iat": NOW, "exp": NOW + 60}, header=header)
    state = await prod.run(headers=cookie(__session=payload, __client_uat="1"))
    assert (state.status, state.reason, state.message) == ("signed-out", "token-type-mismatch", "")


# --- the cookie path (§5) -----------------------------------------------------------------------------------


async def test_a_session_without_client_uat_hands_shake_on_navigation(prod: Env) -> None:
    """Row 7: a session but no ``__client_uat`` is a handshake for a document request."""
    state = await prod.run(headers={**cookie(__session=prod.token()), **DOC})
    assert (state.status, state.reason) == ("handshake", "session-token-but-no-client-uat")


async def test_a_missing_azp_is_warned_about_once(prod: Env, caplog: pytest.LogCaptureFixture) -> None:
    """Row 13: signed in, with Clerk's warning logged once per authenticator."""
    authenticator = prod.authenticator()
    request = RequestView.build("GET", URL, cookie(__session=prod.token(azp=None), __client_uat="1").items())
    first = await authenticator.authenticate(request)
    second = await authenticator.authenticate(request)
    assert (first.status, second.status) == ("signed-in", "signed-in")
    assert [r.getMessage() for r in caplog.records] == [MSG_MISSING_AZP]


async def test_the_primary_answers_a_satellite_with_the_dev_browser(dev: Env) -> None:
    """Row 3: dev primary, ``__clerk_redirect_url`` → back there with ``__clerk_db_jwt`` and ``__clerk_synced=true``,
    when the satellite is one of the authorized parties."""
    back = "http://localhost:4000/x?__clerk_synced=false"
    url = "http://app.test/?__clerk_redirect_url=" + back.replace("?", "%3F").replace("=", "%3D")
    parties = ("http://localhost:4000",)
    state = await dev.run(url, headers={**cookie(__clerk_db_jwt="dvb_1"), **DOC}, authorized_parties=parties)
    assert (state.status, state.reason) == ("handshake", "primary-responds-to-syncing")
    assert state.header("location") == "http://localhost:4000/x?__clerk_synced=true&__clerk_db_jwt=dvb_1"


@pytest.mark.parametrize(
    "back",
    [
        "https://attacker.example/c",
        "http://app.test.attacker.example/",
        "https://app.test/",  # another scheme is another origin
        "http://app.test:8080/",
        "http://localhost:4001/",
        "javascript:alert(1)",
    ],
)
async def test_a_redirect_url_outside_the_app_and_its_parties_is_signed_out_never_followed(dev: Env, back: str) -> None:
    """Finding 2: Clerk redirects to any ``__clerk_redirect_url`` with the victim's dev-browser token appended
    (clerk-semantics §23.6); only the request's own origin and ``CLERK_AUTHORIZED_PARTIES`` are followed."""
    url = "http://app.test/?__clerk_redirect_url=" + quote(back, safe="")
    state = await dev.run(
        url, headers={**cookie(__clerk_db_jwt="dvb_victim"), **DOC}, authorized_parties=("http://localhost:4000",)
    )
    assert (state.status, state.reason) == ("signed-out", "redirect-url-not-allowed")
    assert state.header("location") is None
    assert "dvb_victim" not in repr(state.headers)


async def test_a_redirect_url_on_the_apps_own_origin_is_followed(dev: Env) -> None:
    """The request's own origin needs no listing (no authorized parties configured at all)."""
    url = "http://app.test/?__clerk_redirect_url=" + quote("http://app.test/back", safe="")
    state = await dev.run(url, headers={**cookie(__clerk_db_jwt="dvb_1"), **DOC})
    assert (state.status, state.reason) == ("handshake", "primary-responds-to-syncing")
    assert state.header("location") == "http://app.test/back?__clerk_db_jwt=dvb_1&__clerk_synced=true"


async def test_an_unparsable_redirect_url_is_signed_out_not_thrown(dev: Env) -> None:
    """Clerk throws on a ``__clerk_redirect_url`` it cannot parse; a hostile query must not fail the request."""
    state = await dev.run("http://app.test/?__clerk_redirect_url=nope", headers=DOC)
    assert (state.status, state.reason) == ("signed-out", "unexpected-error")


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        ("GET", {"referer": "https://satellite.com/signin", **DOC}, "handshake"),
        ("GET", {"referer": "https://foo-bar-13.accounts.dev/", **DOC}, "handshake"),
        ("GET", {"referer": "http://app.test/other", **DOC}, "signed-in"),
        ("GET", {"referer": f"https://{FAPI}/v1/client", **DOC}, "signed-in"),
        ("GET", {"referer": "https://accounts.authd.localhost/sign-in", **DOC}, "signed-in"),
        ("GET", {"referer": "https://satellite.com/", "sec-fetch-dest": "empty"}, "signed-in"),
        ("POST", {"referer": "https://satellite.com/", **DOC}, "signed-in"),
        ("GET", {"referer": "https://satellite.com/", "cookie-extra": "__clerk_redirect_count=1", **DOC}, "signed-in"),
    ],
)
async def test_a_cross_origin_navigation_to_the_primary_hands_shake(
    prod: Env, method: str, headers: dict[str, str], status: str
) -> None:
    """Row 14: a document GET from a foreign referer (not FAPI, not the portal) with no redirect yet."""
    extra = headers.pop("cookie-extra", "")
    jar = f"__session={prod.token()}; __client_uat=1" + (f"; {extra}" if extra else "")
    state = await prod.run(method=method, headers={"cookie": jar, **headers})
    assert state.status == status
    if status == "handshake":
        assert (state.reason, state.message) == (
            "primary-domain-cross-origin-sync",
            "Cross-origin request from satellite domain requires handshake",
        )


async def test_a_pending_session_is_signed_in_but_its_auth_is_signed_out(prod: Env) -> None:
    """§16.5: the state is signed-in; ``to_auth()`` is signed out with ``sessionStatus: 'pending'``."""
    state = await prod.run(headers={"authorization": f"Bearer {prod.token(extra={'sts': 'pending'})}"})
    assert state.status == "signed-in"
    auth = state.to_auth()
    assert auth is not None
    assert auth.to_json(include_claims=False)["sessionStatus"] == "pending"
    assert auth.is_authenticated is False
    assert state.to_auth(treat_pending_as_signed_out=False) == state.auth


# --- the refresh flow (§6) ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffixed", [False, True], ids=["plain cookies", "suffixed cookies"])
async def test_an_expired_cookie_is_refreshed_through_the_backend_api(prod: Env, suffixed: bool) -> None:
    """An expired session with ``__refresh_<suffix>`` on a GET: new cookies from Clerk, verified, signed in;
    with suffixed cookies Clerk is asked for (and sets) ``__session_<suffix>``."""
    expired = prod.token(session_id="sess_r", now=NOW - 3600)
    prod.fake.register_refresh_token("sess_r", "rt_1")
    suffix = prod.fake.cookie_suffix
    names = ("__session", "__client_uat") if not suffixed else (f"__session_{suffix}", f"__client_uat_{suffix}")
    jar = f"{names[0]}={expired}; {names[1]}=1; __refresh_{suffix}=rt_1"
    state = await prod.run(headers={"cookie": jar, **API, "host": "app.test", "x-forwarded-proto": "https"})
    assert state.status == "signed-in"
    (directive,) = state.set_cookies
    assert directive == f"{names[0]}={state.token}; Path=/; Secure; SameSite=Lax"
    (call,) = prod.refreshes()
    assert call.path == "/v1/sessions/sess_r/refresh"
    assert call.query == {"suffixed_cookies": "true" if suffixed else "false"}
    assert call.json == {
        "format": "cookie",
        "expired_token": expired,
        "refresh_token": "rt_1",
        "request_origin": "https://app.test",
        "request_headers": {
            "accept": ["application/json"],
            "cookie": [jar],
            "host": ["app.test"],
            "x-forwarded-proto": ["https"],
        },
    }


async def test_the_sid_to_refresh_is_read_with_clerks_lenient_decoding(prod: Env) -> None:
    """``refreshToken`` reads the expired token's ``sid`` with Clerk's ``decodeJwt``: a padded token (signed as sent)
    is refreshed rather than ``expired-session-token-decode-failed``; what comes back is verified strictly."""
    header = b64url(orjson.dumps({"alg": "RS256", "kid": prod.fake.mint.kid, "typ": "JWT"}))
    claims = session_claims(issuer=prod.fake.issuer, session_id="sess_p", now=NOW - 3600)
    bodies = (b64url(orjson.dumps({**claims, "x": "a" * n})) for n in range(4))
    body = next(segment for segment in bodies if len(segment) % 4)
    expired = prod.fake.mint.sign_segments(header, body + "=" * (-len(body) % 4))
    jar = f"__session={expired}; __client_uat=1; __refresh_{prod.fake.cookie_suffix}=rt_p"
    state = await prod.run(headers={"cookie": jar, **API})
    (call,) = prod.refreshes()
    assert (call.path, call.json["expired_token"]) == ("/v1/sessions/sess_p/refresh", expired)
    assert state.reason != "session-token-expired-refresh-expired-session-token-decode-failed"


async def test_an_expired_header_token_is_refreshed_too(prod: Env) -> None:
    """The refresh is about the request, not the carrier: a header token with a refresh cookie refreshes."""
    expired = prod.token(session_id="sess_h", now=NOW - 3600)
    prod.fake.register_refresh_token("sess_h", "rt_h")
    headers = {"authorization": f"Bearer {expired}", **cookie(**{f"__refresh_{prod.fake.cookie_suffix}": "rt_h"})}
    state = await prod.run(headers=headers)
    assert state.status == "signed-in"
    assert prod.refreshes()[0].json["expired_token"] == expired


@pytest.mark.parametrize(
    ("method", "refresh_cookie", "reason"),
    [
        ("POST", False, "session-token-expired-refresh-non-eligible-non-get"),
        ("POST", True, "session-token-expired-refresh-non-eligible-non-get"),
        ("HEAD", False, "session-token-expired-refresh-non-eligible-non-get"),
        ("GET", False, "session-token-expired-refresh-non-eligible-no-refresh-cookie"),
    ],
)
async def test_an_expired_header_token_names_the_method_before_the_refresh_cookie(
    prod: Env, method: str, refresh_cookie: bool, reason: str
) -> None:
    """``handleSessionTokenError``'s order: a non-GET is ``non-eligible-non-get`` whether or not a refresh cookie
    is there; only a GET without one is ``non-eligible-no-refresh-cookie``. The message is Clerk's, with the
    header carrier."""
    headers = {"authorization": f"Bearer {prod.token(session_id='sess_h', now=NOW - 3600)}", **API}
    if refresh_cookie:
        headers.update(cookie(**{f"__refresh_{prod.fake.cookie_suffix}": "rt_h"}))
    state = await prod.run(method=method, headers=headers)
    assert (state.status, state.reason) == ("signed-out", reason)
    assert state.message.endswith("(reason=token-expired, token-carrier=header)")
    assert prod.refreshes() == []


@pytest.mark.parametrize(
    ("method", "refresh_cookie", "claims", "reason"),
    [
        ("GET", None, {"now": NOW - 3600}, "session-token-expired-refresh-non-eligible-no-refresh-cookie"),
        ("POST", "suffixed", {"now": NOW - 3600}, "session-token-expired-refresh-non-eligible-non-get"),
        ("GET", "plain", {"now": NOW - 3600}, "session-token-expired-refresh-non-eligible-no-refresh-cookie"),
        ("GET", "suffixed", {"now": NOW + 60}, "session-token-nbf"),
    ],
    ids=["no refresh cookie", "not a GET", "unsuffixed refresh cookie", "not expired"],
)
async def test_refresh_is_only_attempted_when_clerk_would(
    prod: Env, method: str, refresh_cookie: str | None, claims: dict[str, Any], reason: str
) -> None:
    """No call without the suffixed refresh cookie, on a non-GET, or for a token that is not expired."""
    jar = f"__session={prod.token(session_id='sess_r', **claims)}; __client_uat=1"
    if refresh_cookie:
        name = f"__refresh_{prod.fake.cookie_suffix}" if refresh_cookie == "suffixed" else "__refresh"
        jar += f"; {name}=rt_1"
    prod.fake.register_refresh_token("sess_r", "rt_1")
    state = await prod.run(method=method, headers={"cookie": jar, **API})
    assert (state.status, state.reason) == ("signed-out", reason)
    assert prod.refreshes() == []


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("unknown refresh token", "resource_not_found"),
        ("clerk fails", "fetch-error"),
        ("clerk answers garbage", "unexpected-bapi-error"),
        ("the connection drops", "fetch-error"),
        ("clerk answers 200 that is not JSON", "unexpected-sdk-error"),
        ("clerk answers 200 without cookies", "unexpected-sdk-error"),
        ("no client", "missing-api-client"),
        ("token without sid", "expired-session-token-missing-sid-claim"),
        ("clerk refuses another way", "session_exists"),
    ],
)
async def test_a_failed_refresh_names_its_cause_in_the_reason(prod: Env, setup: str, reason: str) -> None:
    """``session-token-expired-refresh-<cause>``: Clerk's error code, or Clerk's own refresh error reasons."""
    claims: dict[str, Any] = {"session_id": "sess_r", "now": NOW - 3600}
    overrides: dict[str, Any] = {}
    if setup == "clerk fails":
        prod.fake.fail_with(500)
    elif setup == "clerk answers garbage":
        prod.fake.fail_with(502)
        prod.fake.serve_garbage()
    elif setup == "the connection drops":  # Clerk's fetch throws: its request layer makes that unexpected_error
        prod.fake.drop_connections()
    elif setup == "clerk answers 200 that is not JSON":  # attemptRefresh finds no cookies and no reason
        prod.fake.serve_garbage()
    elif setup == "clerk answers 200 without cookies":
        prod.fake.fail_with(200, [])
    elif setup == "no client":
        overrides["client"] = None
    elif setup == "token without sid":
        claims["extra"] = {"sid": ""}
    elif setup == "clerk refuses another way":
        prod.fake.fail_with(409, [clerk_error("session_exists", "no")])
    expired = prod.token(**claims)
    overrides["keys"] = PemKey(prod.fake.mint.public_pem)
    jar = f"__session={expired}; __client_uat=1; __refresh_{prod.fake.cookie_suffix}=rt_other"
    state = await prod.run(headers={"cookie": jar, **DOC}, **overrides)
    assert (state.status, state.reason) == ("handshake", f"session-token-expired-refresh-{reason}")


async def test_a_refresh_cookie_that_cannot_be_clerks_is_not_sent(prod: Env) -> None:
    """Finding 1: a refresh cookie no Clerk endpoint could accept (over 512 characters) makes no call; the
    request is answered as Clerk answers a refresh its Backend API could not make."""
    expired = prod.token(session_id="sess_r", now=NOW - 3600)
    jar = f"__session={expired}; __client_uat=1; __refresh_{prod.fake.cookie_suffix}={'r' * 600}"
    state = await prod.run(headers={"cookie": jar, **DOC}, keys=PemKey(prod.fake.mint.public_pem))
    assert (state.status, state.reason) == ("handshake", "session-token-expired-refresh-unexpected-bapi-error")
    assert prod.refreshes() == []


# --- satellites (§10) ---------------------------------------------------------------------------------------

SATELLITE: dict[str, Any] = {
    "is_satellite": True,
    "domain": "satellite.com",
    "sign_in_url": "https://primary.dev/sign-in",
}


@dataclass(frozen=True)
class SatelliteCase:
    """One row of §10's table: the instance, the request and the expected status and reason."""

    instance: str
    expected: tuple[str, str | None]
    query: str = ""
    jar: tuple[tuple[str, str], ...] = ()
    destination: str = "document"
    options: tuple[tuple[str, bool], ...] = ()
    valid_session: bool = False
    #: the valid session's ``iss``: a production satellite's own Frontend API (``clerk.<domain>``) by default
    issuer: str = "https://clerk.satellite.com"


SATELLITE_CASES = {
    "no cookies, autosync off": SatelliteCase(
        "prod", ("signed-out", "session-token-and-uat-missing"), jar=(("__client_uat", "0"),)
    ),
    "synced=false": SatelliteCase("prod", ("handshake", "satellite-needs-syncing"), query="?__clerk_synced=false"),
    "third redirect": SatelliteCase(
        "prod", ("signed-out", "satellite-needs-syncing"), "?__clerk_synced=false", (("__clerk_redirect_count", "3"),)
    ),
    "not a navigation": SatelliteCase("prod", ("signed-out", "session-token-and-uat-missing"), destination="empty"),
    "valid cookies": SatelliteCase("prod", ("signed-in", None), valid_session=True),
    # Clerk's tokenBelongsToInstance compares iss with the satellite's clerk.<domain>: the primary's own cookie is
    # another instance's, so the (absent) suffixed cookies are read
    "primary-issued cookie": SatelliteCase(
        "prod",
        ("signed-out", "session-token-and-uat-missing"),
        valid_session=True,
        issuer="https://clerk.authd.localhost",
    ),
    "autosync on": SatelliteCase(
        "prod",
        ("handshake", "satellite-needs-syncing"),
        jar=(("__client_uat", "0"),),
        options=(("satellite_auto_sync", True),),
    ),
    "synced=true": SatelliteCase(
        "prod",
        ("signed-out", "session-token-and-uat-missing"),
        "?__clerk_synced=true",
        options=(("satellite_auto_sync", True),),
    ),
    "dev after syncing": SatelliteCase(
        "dev", ("handshake", "dev-browser-sync"), "?__clerk_synced=true&__clerk_db_jwt=dvb_1"
    ),
}


@pytest.mark.parametrize("case", SATELLITE_CASES.values(), ids=SATELLITE_CASES.keys())
async def test_satellites_sync_as_clerk_pins(prod: Env, dev: Env, case: SatelliteCase) -> None:
    """§10's table: sync only for document GETs, skipped without cookies unless asked, guarded at 3."""
    env = prod if case.instance == "prod" else dev
    values = dict(case.jar)
    if case.valid_session:
        values.update(__session=env.token(issuer=case.issuer), __client_uat="1")
    headers = {**cookie(**values), "sec-fetch-dest": case.destination}
    state = await env.run(URL + case.query, headers=headers, **SATELLITE, **dict(case.options))
    assert (state.status, state.reason) == case.expected
    if state.status == "handshake" and case.instance == "prod":
        assert (state.header("location") or "").startswith("https://clerk.satellite.com/v1/client/handshake?")
    if state.status == "signed-out":
        assert state.header("location") is None


async def test_a_dev_satellite_sends_the_browser_to_the_primarys_sign_in(dev: Env) -> None:
    """Dev satellites sync through ``signInUrl?__clerk_redirect_url=<this URL>``, not FAPI."""
    state = await dev.run("http://example.com/path?__clerk_synced=false", headers=DOC, **SATELLITE)
    assert (state.status, state.reason) == ("handshake", "satellite-needs-syncing")
    assert state.header("location") == (
        "https://primary.dev/sign-in?__clerk_redirect_url=http%3A%2F%2Fexample.com%2Fpath%3F__clerk_synced%3Dfalse"
    )


async def test_a_relative_proxy_url_follows_the_request_origin(prod: Env) -> None:
    """``proxyUrl: '/__clerk'`` becomes ``<clerkUrl.origin>/__clerk`` for the handshake."""
    state = await prod.run(
        headers={**cookie(__client_uat="1"), **DOC, "host": "app.test", "x-forwarded-proto": "https"},
        proxy_url="/__clerk",
    )
    assert (state.header("location") or "").startswith("https://app.test/__clerk/v1/client/handshake?")


# --- organization sync (§11) --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("org_patterns", "personal_patterns", "path", "organization_id"),
    [
        (["/orgs/:id"], [], "/orgs/org_foo", "org_foo"),
        (["/orgs/:id"], [], "/personal-account/my-resource", None),
        (["/orgs/:id", "/orgs/:id/", "/orgs/:id/(.*)"], [], "/orgs/org_foo/", "org_foo"),
        (["/orgs/:id/(.*)"], [], "/orgs/org_foo/a/b/c", "org_foo"),
        (["/unknown-thing/:any/orgs/:id"], [], "/unknown-thing/thing/orgs/org_foo", "org_foo"),
        (["/orgs/:slug"], [], "/orgs/my-org", "my-org"),
        ([], ["/personal-account"], "/personal-account", None),
        (["/orgs/:id", "/orgs/:slug"], [], "/orgs/my-org", "my-org"),
        (["/orgs/:slug"], ["/", "/(.*)"], "/orgs/my-org", "my-org"),
        ([], ["/user/:any", "/user/:any/(.*)"], "/user/123/home", None),
    ],
)
async def test_the_url_picks_the_organization_to_activate(
    prod: Env, org_patterns: list[str], personal_patterns: list[str], path: str, organization_id: str | None
) -> None:
    """§11's matcher table, end to end: an organization target the session lacks hands shake with its id or
    slug; no target, or a personal account without an active organization, stays signed in."""
    state = await prod.run(
        "http://app.test" + path,
        headers={**cookie(__session=prod.token(), __client_uat="1"), **DOC},
        organization_patterns=tuple(org_patterns),
        personal_account_patterns=tuple(personal_patterns),
    )
    if organization_id is None:
        assert state.status == "signed-in"
    else:
        assert (state.status, state.reason) == ("handshake", "active-organization-mismatch")
        assert (state.header("location") or "").endswith(f"&organization_id={organization_id}")


@pytest.mark.parametrize(("path", "organization_id"), [("/multi/a/b", "a%2Cb"), ("/multi/acme", "acme")])
async def test_a_repeated_slug_hand_shakes_with_the_list_clerk_sends(
    prod: Env, path: str, organization_id: str
) -> None:
    """``:slug+`` gives Clerk a list: never equal to the active slug (so even ``/multi/acme`` for the active ``acme``
    hand-shakes), sent comma-joined. The whole Location, byte for byte, and the loop-guard cookie."""
    token = prod.token(org_id="org_1", org_slug="acme", org_role="admin")
    state = await prod.run(
        "https://app.test" + path,
        headers={**cookie(__session=token, __client_uat="1"), **DOC},
        organization_patterns=("/multi/:slug+",),
    )
    redirect = quote(f"https://app.test{path}", safe="")
    assert (state.status, state.reason, state.message) == ("handshake", "active-organization-mismatch", "")
    assert state.header("location") == (
        f"https://{DEFAULT_FRONTEND_API}/v1/client/handshake?redirect_url={redirect}&__clerk_api_version=2026-05-12"
        f"&suffixed_cookies=false&__clerk_hs_reason=active-organization-mismatch&format=nonce&__session={token}"
        f"&organization_id={organization_id}"
    )
    assert state.set_cookies == ("__clerk_redirect_count=1; SameSite=Lax; HttpOnly; Max-Age=2",)


async def test_an_active_organization_on_a_personal_path_is_deactivated(prod: Env) -> None:
    """A personal-account path with an organization active hands shake with an empty ``organization_id``."""
    token = prod.token(org_id="org_1", org_slug="acme", org_role="admin")
    state = await prod.run(
        "http://app.test/me",
        headers={**cookie(__session=token, __client_uat="1"), **DOC},
        personal_account_patterns=("/me",),
    )
    assert (state.header("location") or "").endswith("&organization_id=")


@pytest.mark.parametrize(
    ("headers", "claims"),
    [
        (DOC, {"org_id": "org_1", "org_slug": "acme", "org_role": "admin"}),
        (API, {}),
        (DOC, {"extra": {"sts": "pending"}}),
    ],
    ids=["already active", "not a navigation", "pending session"],
)
async def test_organization_sync_stays_signed_in_when_nothing_can_be_done(
    prod: Env, headers: dict[str, str], claims: dict[str, Any]
) -> None:
    """The matching organization, a request that cannot hand-shake, or a pending session: signed in."""
    token = prod.token(**claims)
    state = await prod.run(
        "http://app.test/orgs/acme",
        headers={**cookie(__session=token, __client_uat="1"), **headers},
        organization_patterns=("/orgs/:slug",),
    )
    assert state.status == "signed-in"


async def test_an_organization_handshake_loop_is_skipped_with_a_warning(
    prod: Env, caplog: pytest.LogCaptureFixture
) -> None:
    """At three redirects or more, Clerk warns and leaves the organization as it is."""
    jar = cookie(__session=prod.token(), __client_uat="1", __clerk_redirect_count="4")
    state = await prod.run("http://app.test/orgs/acme", headers={**jar, **DOC}, organization_patterns=("/orgs/:slug",))
    assert state.status == "signed-in"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [MSG_ORG_LOOP]


# --- enable_handshake=False (§7, last paragraph) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "jar", "reason"),
    [
        (URL, {"__client_uat": "1"}, "client-uat-but-no-session-token"),
        ("http://app.test/orgs/acme", "valid", "active-organization-mismatch"),
    ],
)
async def test_without_handshakes_a_would_be_handshake_is_signed_out(
    prod: Env, url: str, jar: dict[str, str] | str, reason: str
) -> None:
    """Same reason, no ``location``, no ``cache-control``, no redirect counter: Express 1.x's behaviour."""
    values = {"__session": prod.token(), "__client_uat": "1"} if jar == "valid" else dict(jar)
    state = await prod.run(
        url, headers={**cookie(**values), **DOC}, enable_handshake=False, organization_patterns=("/orgs/:slug",)
    )
    assert state == RequestState.signed_out(reason)


# --- machine tokens (§3, §18) --------------------------------------------------------------------------------

HEADER_CARRIER = " (reason=token-invalid, token-carrier=header)"
API_KEY_NOT_FOUND = ("token-invalid", "API key not found (code=token-invalid, status=404)")


@pytest.mark.parametrize(
    ("accepts", "token", "reason", "token_type"),
    [
        ("api_key", "ak_x", API_KEY_NOT_FOUND, "api_key"),
        ("api_key", "mt_x", ("token-type-mismatch", ""), "api_key"),
        ("m2m_token", "session", ("token-type-mismatch", ""), "m2m_token"),
        (("api_key", "oauth_token"), "mt_x", ("token-type-mismatch", ""), None),
        ("any", "oat_x", ("token-invalid", "OAuth token not found (code=token-invalid, status=404)"), "oauth_token"),
        (("session_token", "api_key"), "ak_x", API_KEY_NOT_FOUND, "api_key"),
        ("session_token", "oauth_jwt", ("token-type-mismatch", ""), "session_token"),
        ("oauth_token", "m2m_jwt", ("token-type-mismatch", ""), "oauth_token"),
        (
            "any",
            "m2m_jwt",
            ("token-invalid", "Invalid M2M JWT category. (code=token-invalid, status=n/a)"),
            "m2m_token",
        ),
        (
            "session_token",
            "mt_x",
            ("token-invalid", "Invalid JWT form. A JWT consists of three parts separated by dots." + HEADER_CARRIER),
            "session_token",
        ),
    ],
)
async def test_machine_tokens_are_classified_and_matched_against_accepts_token(
    prod: Env, accepts: AcceptsToken, token: str, reason: tuple[str, str], token_type: str | None
) -> None:
    """Type mismatches as Clerk answers them; an accepted machine token is verified (none is known to FakeClerk)."""
    mint = prod.fake.mint
    samples = {
        "session": prod.token(),
        "oauth_jwt": mint.sign({"sub": "user_1", "exp": NOW + 60}, header={"typ": "at+jwt"}),
        "m2m_jwt": mint.sign({"sub": "mch_1", "exp": NOW + 60}, header={"cat": "cl_B7d4PD222AAA"}),
    }
    state = await prod.run(headers={"authorization": f"Bearer {samples.get(token, token)}"}, accepts_token=accepts)
    assert (state.status, (state.reason, state.message), state.token_type) == ("signed-out", reason, token_type)


async def test_machine_only_options_need_no_publishable_key(prod: Env) -> None:
    """``m2m_token``/``api_key`` read only the header: no publishable key, no cookies."""
    state = await prod.run(headers={"authorization": "Bearer mt_1"}, publishable_key="", accepts_token="m2m_token")
    assert state.reason == "token-invalid"
    state = await prod.run(headers=cookie(__session=prod.token()), publishable_key="", accepts_token="api_key")
    assert (state.reason, state.token_type) == ("No token in header", "api_key")


async def test_any_without_a_header_takes_the_cookie_path(prod: Env) -> None:
    """``'any'`` (or an array with ``session_token``) still authenticates the session cookie."""
    jar = cookie(__session=prod.token(), __client_uat="1")
    assert (await prod.run(headers=jar, accepts_token="any")).status == "signed-in"
    assert (await prod.run(headers=jar, accepts_token=("session_token", "api_key"))).status == "signed-in"


# --- preconditions (§2) -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "headers", "message"),
    [
        ({"publishable_key": ""}, {}, "Publishable key is missing."),
        (
            {"publishable_key": "pk_nope"},
            {},
            "Publishable key not valid (expected format: pk_test_... or pk_live_...).",
        ),
        ({"secret_key": ""}, {}, MSG_MISSING_SECRET_KEY),
        (
            {"is_satellite": True, "domain": "s.com"},
            {},
            "Missing signInUrl. Pass a signInUrl for dev instances if an app is satellite",
        ),
        (
            {**SATELLITE, "sign_in_url": "/sign-in"},
            {"origin": "http://app.test"},
            "The signInUrl needs to have a absolute url format.",
        ),
        (
            SATELLITE,
            {"origin": "https://primary.dev"},
            "The signInUrl needs to be on a different origin than your satellite application.",
        ),
        (
            {"is_satellite": True, "sign_in_url": "https://p.dev/"},
            {},
            "Missing domain and proxyUrl. A satellite application needs to specify a domain or a proxyUrl",
        ),
        ({"secret_key": "", "accepts_token": "m2m_token"}, {}, MSG_MACHINE_KEY),
    ],
)
async def test_preconditions_throw_with_clerks_message(
    prod: Env, overrides: dict[str, Any], headers: dict[str, str], message: str
) -> None:
    """Missing or invalid keys and a misconfigured satellite make ``authenticateRequest`` throw."""
    accepts = overrides.pop("accepts_token", None)
    with pytest.raises(AuthenticateRequestError) as caught:
        await prod.run(headers=headers, accepts_token=accepts, **overrides)
    assert str(caught.value) == message


async def test_a_jwt_key_stands_in_for_the_secret_key(prod: Env) -> None:
    """Our one deviation: networkless verification needs no secret key (api.md §1)."""
    pem = prod.fake.mint.public_pem
    state = await prod.run(headers={"authorization": prod.token()}, secret_key="", jwt_key=pem, keys=PemKey(pem))
    assert state.status == "signed-in"


def test_an_invalid_organization_pattern_throws_at_construction() -> None:
    """``Invalid pattern "…": …``, as Clerk's ``OrganizationMatcher`` throws."""
    with pytest.raises(AuthenticateRequestError, match=r'^Invalid pattern "/orgs/:id/\*\*\*"'):
        Authenticator(AuthenticateOptions(organization_patterns=("/orgs/:id/***",)), keys=None, client=None)


# --- the verified-token cache -------------------------------------------------------------------------------


async def test_a_cached_token_skips_verification(prod: Env) -> None:
    """The second request with the same token looks up no key and gets the same signed-in state."""
    counting = CountingKeys(prod.keys)
    cache: VerifiedTokenCache[CachedVerdict] = VerifiedTokenCache(10)
    authenticator = prod.authenticator(cache=cache, keys=counting)
    token = prod.token()
    for headers in ({"authorization": token}, cookie(__session=token, __client_uat="1")):
        request = RequestView.build("GET", URL, headers.items())
        assert (await authenticator.authenticate(request)).status == "signed-in"
    assert (counting.calls, cache.hits, len(cache)) == (1, 1, 1)


@pytest.mark.parametrize(
    ("clock", "reason"),
    [(NOW + 60 + 5, "session-token-expired-refresh-non-eligible-no-refresh-cookie"), (NOW - 20, "session-token-nbf")],
    ids=["past exp plus skew", "clock moved back before nbf"],
)
async def test_time_dependent_answers_never_come_from_the_cache(prod: Env, clock: float, reason: str) -> None:
    """A cached verdict is not used once the token expired, nor before it became valid."""
    cache: VerifiedTokenCache[CachedVerdict] = VerifiedTokenCache(10)
    token = prod.token()
    request = RequestView.build("GET", URL, {"authorization": token}.items())
    assert (await prod.authenticator(cache=cache).authenticate(request)).status == "signed-in"
    state = await prod.authenticator(cache=cache, clock=clock).authenticate(request)
    assert (state.status, state.reason) == ("signed-out", reason)


async def test_a_cached_session_token_is_still_refused_where_sessions_are_not_accepted(prod: Env) -> None:
    """The cache answers only where a session token is acceptable; elsewhere the type mismatch stands."""
    cache: VerifiedTokenCache[CachedVerdict] = VerifiedTokenCache(10)
    authenticator = prod.authenticator(cache=cache)
    request = RequestView.build("GET", URL, {"authorization": prod.token()}.items())
    await authenticator.authenticate(request)
    state = await authenticator.authenticate(request, accepts_token="oauth_token")
    assert (state.reason, state.token_type) == ("token-type-mismatch", "oauth_token")
    assert (await authenticator.authenticate(request, accepts_token=("api_key",))).token_type is None


async def test_the_cache_holds_no_token(prod: Env) -> None:
    """A cached verdict keeps the payload and claims, never the credential itself."""
    cache: VerifiedTokenCache[CachedVerdict] = VerifiedTokenCache(10)
    token = prod.token()
    await prod.authenticator(cache=cache).authenticate(RequestView.build("GET", URL, {"authorization": token}.items()))
    verdict = cache.get(token, NOW)
    assert verdict is not None
    assert token not in repr(verdict)
    assert token.split(".")[2] not in str(verdict.payload)


# --- the library function (api.md §5) ----------------------------------------------------------------------


async def test_authenticate_request_verifies_networkless_with_a_jwt_key(prod: Env) -> None:
    """With ``jwt_key`` and nothing else, no Backend API call is made."""
    options = prod.options(secret_key="", jwt_key=prod.fake.mint.public_pem)
    request = RequestView.build("GET", URL, {"authorization": prod.fake.session_token(now=None)}.items())
    assert (await authenticate_request(request, options)).status == "signed-in"
    assert prod.fake.received == []


async def test_authenticate_request_fetches_the_jwks_with_the_secret_key(prod: Env) -> None:
    """With a secret key it opens a client to ``api_url`` for the call and fetches the key set."""
    options = prod.options(api_url=prod.fake.url)
    request = RequestView.build("GET", URL, {"authorization": prod.fake.session_token(now=None)}.items())
    assert (await authenticate_request(request, options)).status == "signed-in"
    assert (await authenticate_request(request, options, client=prod.client)).status == "signed-in"
    assert prod.fake.jwks_fetches == 2


@pytest.mark.parametrize("carrier", ["header", "cookie"])
async def test_alg_none_with_an_empty_signature_gets_clerks_reason(prod: Env, carrier: str) -> None:
    """Clerk's lenient decoding reads ``h.p.`` and its algorithm check refuses ``none``: we refuse it too (the strict
    decoding would), with Clerk's reason and message on either carrier."""
    header = b64url(orjson.dumps({"alg": "none", "typ": "JWT", "kid": prod.fake.mint.kid}))
    payload = b64url(orjson.dumps(session_claims(issuer=prod.fake.issuer, now=NOW)))
    token = f"{header}.{payload}."
    headers = {"authorization": f"Bearer {token}"} if carrier == "header" else cookie(__session=token, __client_uat="1")
    state = await prod.run(headers={**headers, **API})
    assert (state.status, state.reason) == ("signed-out", "token-invalid-algorithm")
    assert state.message == (
        'Invalid JWT algorithm "none". Supported: RS256,RS384,RS512. Make sure that this is a valid Clerk-generated '
        f"JWT. (reason=token-invalid-algorithm, token-carrier={carrier})"
    )
