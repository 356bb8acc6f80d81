"""The configurations and the generated scenarios of the differential run.

A scenario is one request, built at run time (tokens are minted at the clock of the run) by a ``Flow`` against a
``Kit`` that knows the configuration's instance. Flows are crossed with every configuration they make sense for and,
where Clerk's answer depends on it, with the kind of request (a page load, which may hand-shake, or an API call).
A scenario that meets one of the deliberate differences names it in ``expect``; every other must agree exactly.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import orjson

from clerk_authd.rules.instance import cookie_suffix
from clerk_authd.testing.fake_clerk import DEFAULT_PUBLISHABLE_KEY, FakeClerk
from clerk_authd.testing.mint import b64url, session_claims
from tests.differential.harness import Config, Probe

HOST: Final = "app.example.com"
PROD_FAPI: Final = "clerk.example.com"
PK_PROD: Final = "pk_live_" + base64.b64encode(f"{PROD_FAPI}$".encode()).decode().rstrip("=")
PK_DEV: Final = DEFAULT_PUBLISHABLE_KEY
SATELLITE_DOMAIN: Final = "satellite.test"
SIGN_IN: Final = "https://accounts.example.com/sign-in"
AZP: Final = "https://app.example.com"
ORG_PATTERNS: Final = ["/orgs/:slug", "/orgs/:slug/(.*)", "/ids/:id", "/multi/:slug+", "/star/:slug*"]
PERSONAL_PATTERNS: Final = ["/me", "/me/(.*)"]


def _config(**express: Any) -> Config:
    """Clerk's Express options and the same options for ``clerk_middleware``."""
    names = {
        "publishableKey": "publishable_key",
        "isSatellite": "is_satellite",
        "domain": "domain",
        "signInUrl": "sign_in_url",
        "proxyUrl": "proxy_url",
        "authorizedParties": "authorized_parties",
        "audience": "audience",
        "clockSkewInMs": "clock_skew_in_ms",
    }
    sanic: dict[str, Any] = {names[k]: v for k, v in express.items() if k in names}
    if "organizationSyncOptions" in express:
        sanic["organization_sync_options"] = express["organizationSyncOptions"]
    return Config(express=express, sanic=sanic)


CONFIGS: Final = {
    "prod": _config(publishableKey=PK_PROD),
    "dev": _config(publishableKey=PK_DEV),
    "prod-satellite": _config(publishableKey=PK_PROD, isSatellite=True, domain=SATELLITE_DOMAIN, signInUrl=SIGN_IN),
    "dev-satellite": _config(publishableKey=PK_DEV, isSatellite=True, domain=SATELLITE_DOMAIN, signInUrl=SIGN_IN),
    "prod-proxy": _config(publishableKey=PK_PROD, proxyUrl="https://app.example.com/__clerk"),
    "prod-orgsync": _config(
        publishableKey=PK_PROD,
        organizationSyncOptions={"organizationPatterns": ORG_PATTERNS, "personalAccountPatterns": PERSONAL_PATTERNS},
    ),
    "dev-orgsync": _config(
        publishableKey=PK_DEV,
        organizationSyncOptions={"organizationPatterns": ORG_PATTERNS, "personalAccountPatterns": PERSONAL_PATTERNS},
    ),
    "prod-azp": _config(publishableKey=PK_PROD, authorizedParties=[AZP]),
    "prod-relative-proxy": _config(publishableKey=PK_PROD, proxyUrl="/__clerk"),
    "prod-audience-skew": _config(publishableKey=PK_PROD, audience=["api://one", "api://two"], clockSkewInMs=60000),
    "prod-satellite-proxy": _config(
        publishableKey=PK_PROD,
        isSatellite=True,
        proxyUrl="https://satellite.test/__clerk",
        signInUrl=SIGN_IN,
    ),
}

_UNIQUE: Final = itertools.count()
PAGE: Final = (("sec-fetch-dest", "document"), ("accept", "text/html"))
API: Final = (("accept", "application/json"),)
KINDS: Final = {
    "page": PAGE,
    "api": API,
    "iframe": (("sec-fetch-dest", "iframe"),),
    "html-accept": (("accept", "text/html,application/xhtml+xml"),),
    "fetch": (("sec-fetch-dest", "empty"), ("accept", "text/html")),
}
#: every kind of request: the three a handshake may answer and two it may not
ALL_KINDS: Final = ("api", "page", "iframe", "html-accept", "fetch")


@dataclass
class Kit:
    """What a flow builds its request from: the configuration's instance, FakeClerk and its mint."""

    config_name: str
    fake: FakeClerk
    now: float

    @property
    def config(self) -> Config:
        return CONFIGS[self.config_name]

    @property
    def publishable_key(self) -> str:
        return str(self.config.express["publishableKey"])

    @property
    def development(self) -> bool:
        return self.publishable_key.startswith("pk_test_")

    @property
    def suffix(self) -> str:
        return cookie_suffix(self.publishable_key)

    @property
    def issuer(self) -> str:
        """The ``iss`` of this instance's session cookies: a production satellite's own Frontend API, else the key's."""
        if self.config.express.get("isSatellite") and self.config.express.get("domain") and not self.development:
            return f"https://clerk.{SATELLITE_DOMAIN}"
        return "https://" + ("clerk.authd.localhost" if self.development else PROD_FAPI)

    def unique(self, prefix: str) -> str:
        """A name no other scenario of the run uses (machine tokens and nonces: clerk_authd may reuse an answer)."""
        return f"{prefix}_{self.config_name.replace('-', '_')}_{next(_UNIQUE)}"

    def token(self, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
        """A session token of this instance (``session_claims`` arguments), signed by FakeClerk's key."""
        claims.setdefault("issuer", self.issuer)
        claims.setdefault("azp", AZP)
        claims.setdefault("now", self.now)
        return self.fake.mint.sign(session_claims(**claims), header=header)

    def expired(self, **claims: Any) -> str:
        return self.token(now=self.now - 3600, **claims)

    def raw_token(self, header: dict[str, Any], payload: dict[str, Any], signature: str | None = None) -> str:
        """A token from raw header and payload JSON, signed unless ``signature`` is given."""
        h, p = b64url(orjson.dumps(header)), b64url(orjson.dumps(payload))
        if signature is not None:
            return f"{h}.{p}.{signature}"
        return self.fake.mint.sign_segments(h, p)

    def padded(
        self, payload: dict[str, Any], *, header: dict[str, Any] | None = None, signed_as_sent: bool = True
    ) -> str:
        """A token whose payload segment carries base64 padding (Clerk's lenient decoding reads it): signed as sent,
        so Clerk accepts its signature, or signed before the padding was added, so nobody does."""
        head = b64url(orjson.dumps({"alg": "RS256", "typ": "JWT", "kid": self.fake.mint.kid, **(header or {})}))
        body = next(
            segment
            for segment in (b64url(orjson.dumps({**payload, "pad": "x" * n})) for n in range(4))
            if len(segment) % 4
        )
        padded = body + "=" * (-len(body) % 4)
        if signed_as_sent:
            return self.fake.mint.sign_segments(head, padded)
        return self.fake.mint.sign_segments(head, body).replace(f".{body}.", f".{padded}.")

    def claims(self, **overrides: Any) -> dict[str, Any]:
        claims = session_claims(issuer=self.issuer, azp=AZP, now=self.now)
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def uat(self, offset: int = -60) -> str:
        return str(int(self.now) + offset)

    def browser(self, **cookies: str) -> dict[str, str]:
        """The cookies a browser of this instance carries: the dev browser on a development instance, and these."""
        jar = {"__clerk_db_jwt": "dvb_differential"} if self.development else {}
        jar.update(cookies)
        return jar


def cookie_header(jar: dict[str, str]) -> tuple[str, str]:
    return ("cookie", "; ".join(f"{name}={value}" for name, value in jar.items()))


def request(
    path: str = "/dashboard",
    *,
    kind: str = "api",
    method: str = "GET",
    bearer: str | None = None,
    authorization: str | None = None,
    cookies: dict[str, str] | None = None,
    extra: tuple[tuple[str, str], ...] = (),
) -> Probe:
    """A request to ``https://app.example.com<path>`` as a proxy forwards it."""
    headers: list[tuple[str, str]] = [("host", HOST), ("x-forwarded-proto", "https"), *KINDS[kind]]
    if bearer is not None:
        headers.append(("authorization", f"Bearer {bearer}"))
    if authorization is not None:
        headers.append(("authorization", authorization))
    if cookies:
        headers.append(cookie_header(cookies))
    headers.extend(extra)
    return Probe(method, path, tuple(headers))


#: what builds a flow's request: the kit of the configuration and the kind of request (``page`` or ``api``)
FlowBuild = Callable[[Kit, str], Probe]


@dataclass(frozen=True)
class Flow:
    """One kind of request: the configurations it runs on (``None``: all), the kinds of request it is crossed with,
    the deliberate difference it meets (``None``: it must agree exactly), and a FakeClerk failure switch to set
    before both sides are called (healed after)."""

    name: str
    build: FlowBuild
    configs: tuple[str, ...] | None = None
    kinds: tuple[str, ...] = ("api", "page")
    expect: str | None = None
    setup: Callable[[FakeClerk], None] | None = None
    #: the deliberate difference the service's ``/auth`` meets where it is not the SDK's
    expect_service: str | None = None
    #: whether the service's ``/auth`` is asked too (not for a flow whose forwarded headers move the URL: ``/auth``
    #: is given the URL in ``X-Original-URL``)
    service: bool = True

    @property
    def service_expect(self) -> str | None:
        return self.expect_service or self.expect


@dataclass(frozen=True)
class Scenario:
    """A flow on one configuration with one kind of request."""

    id: str
    config: str
    flow: Flow
    kind: str


FLOWS: list[Flow] = []


def flow(
    name: str,
    *,
    configs: tuple[str, ...] | None = None,
    kinds: tuple[str, ...] = ("api", "page"),
    expect: str | None = None,
    setup: Callable[[FakeClerk], None] | None = None,
    expect_service: str | None = None,
    service: bool = True,
) -> Callable[[FlowBuild], FlowBuild]:
    """Register the decorated builder as a ``Flow`` (its arguments are ``Flow``'s)."""

    def register(build: FlowBuild) -> FlowBuild:
        FLOWS.append(Flow(name, build, configs, kinds, expect, setup, expect_service, service))
        return build

    return register


DEV_CONFIGS: Final = tuple(name for name in CONFIGS if name.startswith("dev"))
ONE_PROD: Final = ("prod",)
ONE_DEV: Final = ("dev",)


# --- header tokens ---------------------------------------------------------------------------------------


@flow("header-valid")
def _header_valid(k: Kit, kind: str) -> Probe:
    return request(
        kind=kind,
        bearer=k.token(org_id="org_1", org_slug="acme", org_role="admin", org_permissions=["org:invoices:read"]),
    )


@flow("header-v1-claims", configs=ONE_PROD + ONE_DEV, kinds=("api",))
def _header_v1(k: Kit, kind: str) -> Probe:
    return request(
        kind=kind,
        bearer=k.token(
            version=1, org_id="org_1", org_slug="acme", org_role="admin", org_permissions=["org:invoices:read"]
        ),
    )


@flow("header-expired", kinds=ALL_KINDS)
def _header_expired(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.expired())


@flow("header-expired-post", kinds=("api", "page"))
def _header_expired_post(k: Kit, kind: str) -> Probe:
    return request(kind=kind, method="POST", bearer=k.expired())


@flow("header-expired-post-refresh-cookie", configs=ONE_PROD + ONE_DEV)
def _header_expired_post_refresh(k: Kit, kind: str) -> Probe:
    return request(kind=kind, method="POST", bearer=k.expired(), cookies={f"__refresh_{k.suffix}": "rt_nothing"})


@flow("header-expired-refresh-cookie", configs=ONE_PROD + ONE_DEV)
def _header_expired_refresh(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.expired(), cookies={f"__refresh_{k.suffix}": "rt_unknown"})


@flow("header-nbf-future")
def _header_nbf(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(extra={"nbf": int(k.now) + 600}))


@flow("header-iat-future")
def _header_iat(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(extra={"iat": int(k.now) + 600}))


@flow("header-bad-signature", kinds=("api",))
def _header_bad_signature(k: Kit, kind: str) -> Probe:
    token = k.token()
    return request(kind=kind, bearer=token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB"))


@flow("header-not-a-jwt", kinds=("api",))
def _header_garbage(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer="not-a-token")


@flow("header-alg-none-empty-signature", kinds=("api",))
def _header_alg_none(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.raw_token({"alg": "none", "typ": "JWT"}, k.claims(), signature=""))


@flow("header-alg-none-signed", configs=ONE_PROD + ONE_DEV, kinds=("api",))
def _header_alg_none_sig(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.raw_token({"alg": "none", "typ": "JWT", "kid": k.fake.mint.kid}, k.claims()))


@flow("header-alg-hs256", configs=ONE_PROD + ONE_DEV, kinds=("api",))
def _header_alg_hs(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.raw_token({"alg": "HS256", "typ": "JWT"}, k.claims(), signature="c2ln"))


@flow("header-typ-latin1", kinds=("api",))
def _header_typ_latin1(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(header={"typ": "caf\u00e9"}))


@flow("header-typ-beyond-latin1", configs=ONE_PROD, kinds=("api",))
def _header_typ_unicode(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(header={"typ": "\u263a"}))


@flow("header-missing-sub", configs=ONE_PROD + ONE_DEV, kinds=("api",))
def _header_no_sub(k: Kit, kind: str) -> Probe:
    return request(
        kind=kind, bearer=k.raw_token({"alg": "RS256", "typ": "JWT", "kid": k.fake.mint.kid}, k.claims(sub=None))
    )


@flow("header-azp-foreign", kinds=("api",))
def _header_azp(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(azp="https://evil.example"))


@flow("header-jwt-template", configs=ONE_PROD + ONE_DEV, kinds=("api",))
def _header_template(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(header={"cat": "cl_B7d4PD222AAA"}))


@flow("header-basic-scheme", configs=ONE_PROD + ONE_DEV)
def _header_basic(k: Kit, kind: str) -> Probe:
    return request(kind=kind, authorization="Basic dXNlcjpwYXNz")


@flow("header-bearer-word-only", configs=ONE_PROD, kinds=("api",))
def _header_bearer_word(k: Kit, kind: str) -> Probe:
    return request(kind=kind, authorization="Bearer")


@flow("header-bare-token", configs=ONE_PROD, kinds=("api",))
def _header_bare(k: Kit, kind: str) -> Probe:
    return request(kind=kind, authorization=k.token())


@flow("header-padded-token", configs=ONE_PROD + ONE_DEV, kinds=("api",), expect="strict-tokens")
def _header_padded(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.padded(k.claims()))


@flow("header-padded-m2m-jwt", configs=ONE_PROD, kinds=("api",))
def _header_padded_m2m(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.padded(k.claims(), header={"cat": "cl_B7d4PD333AAA"}))


@flow("header-padded-template", configs=ONE_PROD, kinds=("api",))
def _header_padded_template(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.padded(k.claims(), header={"cat": "cl_B7d4PD222AAA"}))


@flow("cookie-padded-expired-refreshable", configs=ONE_PROD + ONE_DEV)
def _cookie_padded_refresh(k: Kit, kind: str) -> Probe:
    sid, refresh = k.unique("sess"), k.unique("rt")
    k.fake.register_refresh_token(sid, refresh)
    past = int(k.now) - 3600
    expired = k.padded(k.claims(sid=sid, iat=past, nbf=past - 10, exp=past + 60))
    cookies = k.browser(__session=expired, __client_uat=k.uat(-7200), **{f"__refresh_{k.suffix}": refresh})
    return request(kind=kind, cookies=cookies)


@flow("header-duplicate-claim", configs=ONE_PROD, kinds=("api",), expect="strict-tokens")
def _header_duplicate(k: Kit, kind: str) -> Probe:
    payload = orjson.dumps(k.claims())[:-1] + b',"sub":"user_other"}'
    header = b64url(orjson.dumps({"alg": "RS256", "typ": "JWT", "kid": k.fake.mint.kid}))
    return request(kind=kind, bearer=k.fake.mint.sign_segments(header, b64url(payload)))


@flow("header-foreign-issuer", configs=ONE_PROD + ONE_DEV, kinds=("api",), expect="issuer-checked")
def _header_foreign_issuer(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(issuer="https://clerk.elsewhere.example"))


@flow("header-audience", configs=("prod", "prod-audience-skew"), kinds=("api",))
def _header_audience(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(extra={"aud": "api://two"}))


@flow("header-audience-other", configs=("prod", "prod-audience-skew"), kinds=("api",))
def _header_audience_other(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(extra={"aud": "api://three"}))


@flow("header-audience-list", configs=("prod-audience-skew",), kinds=("api",))
def _header_audience_list(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(extra={"aud": ["api://x", "api://one"]}))


@flow("header-audience-list-other", configs=("prod-audience-skew",), kinds=("api",))
def _header_audience_list_other(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(extra={"aud": ["api://x", ""]}))


@flow("header-expired-within-skew", configs=("prod", "prod-audience-skew"), kinds=("api",))
def _header_within_skew(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(now=k.now - 90))


@flow("header-feature-without-scope", configs=ONE_PROD, kinds=("api",), expect="no-exceptions")
def _header_fea_no_colon(k: Kit, kind: str) -> Probe:
    org = {"id": "org_1", "rol": "admin", "per": "read", "fpm": "1"}
    return request(kind=kind, bearer=k.token(extra={"o": org, "fea": "invoices"}))


@flow("header-double-space", configs=ONE_PROD, kinds=("api",))
def _header_double_space(k: Kit, kind: str) -> Probe:
    return request(kind=kind, authorization=f"Bearer  {k.token()}")


@flow("header-lowercase-scheme-and-cookie", configs=ONE_PROD + ONE_DEV)
def _header_lowercase(k: Kit, kind: str) -> Probe:
    cookies = k.browser(__session=k.token(user_id="user_cookie"), __client_uat=k.uat())
    return request(kind=kind, authorization=f"bearer {k.token()}", cookies=cookies)


@flow("header-wins-over-cookie", configs=ONE_PROD + ONE_DEV)
def _header_wins(k: Kit, kind: str) -> Probe:
    cookies = k.browser(__session=k.token(user_id="user_cookie"), __client_uat=k.uat())
    return request(kind=kind, bearer=k.token(user_id="user_header"), cookies=cookies)


@flow("header-two-authorizations", configs=ONE_PROD, kinds=("api",))
def _header_two(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(user_id="user_first"), authorization=f"Bearer {k.token()}")


@flow("forwarded-host-list", configs=("prod", "prod-orgsync"), kinds=("page",), service=False)
def _forwarded_list(k: Kit, kind: str) -> Probe:
    extra = (("x-forwarded-host", "shop.example.com, evil.example"), ("x-forwarded-proto", "https, http"))
    return request("/orgs/acme", kind=kind, cookies=k.browser(__client_uat=k.uat()), extra=extra)


@flow("forwarded-http-with-port", configs=ONE_PROD, kinds=("page",), service=False)
def _forwarded_port(k: Kit, kind: str) -> Probe:
    extra = (("x-forwarded-host", "shop.example.com:8443"), ("x-forwarded-proto", "http"))
    return request("/a?b=c%20d&e", kind=kind, cookies=k.browser(__client_uat=k.uat()), extra=extra)


@flow("methods-not-get", configs=ONE_PROD + ONE_DEV, kinds=("page",))
def _methods(k: Kit, kind: str) -> Probe:
    return request(kind=kind, method="PUT", cookies=k.browser(__client_uat=k.uat()))


# --- machine tokens (clerkMiddleware accepts 'any') -------------------------------------------------------


@flow("machine-m2m-jwt", configs=ONE_PROD + ONE_DEV, kinds=("api",))
def _machine_m2m_jwt(k: Kit, kind: str) -> Probe:
    claims = {"iss": k.issuer, "sub": "mch_9", "iat": int(k.now), "nbf": int(k.now) - 5, "exp": int(k.now) + 60}
    token = k.fake.mint.sign({**claims, "jti": "mt_jwt_1", "scopes": "mch_1 mch_2"}, header={"cat": "cl_B7d4PD333AAA"})
    return request(kind=kind, bearer=token)


@flow("machine-m2m-jwt-expired", configs=ONE_PROD, kinds=("api",))
def _machine_m2m_jwt_expired(k: Kit, kind: str) -> Probe:
    past = int(k.now) - 3600
    claims = {"iss": k.issuer, "sub": "mch_9", "iat": past, "exp": past + 60}
    return request(kind=kind, bearer=k.fake.mint.sign(claims, header={"cat": "cl_B7d4PD333AAA"}))


@flow("machine-oauth-jwt", configs=ONE_PROD + ONE_DEV, kinds=("api",))
def _machine_oauth_jwt(k: Kit, kind: str) -> Probe:
    claims = {
        "iss": k.issuer,
        "sub": "user_5",
        "client_id": "client_5",
        "scope": "email profile",
        "jti": "oat_jwt_1",
        "iat": int(k.now),
        "exp": int(k.now) + 60,
    }
    return request(kind=kind, bearer=k.fake.mint.sign(claims, header={"typ": "at+jwt"}))


@flow("machine-api-key", configs=ONE_PROD + ONE_DEV, kinds=("api",))
def _machine_api_key(k: Kit, kind: str) -> Probe:
    token = k.unique("ak")
    k.fake.register_machine_token(token, "api_key", subject="user_42", scopes=["read"], name="ci")
    return request(kind=kind, bearer=token)


def _registered_api_key(k: Kit, kind: str) -> Probe:
    token = k.unique("ak")
    k.fake.register_machine_token(token, "api_key", subject="user_42")
    return request(kind=kind, bearer=token)


# the Backend API failing while it verifies a machine token: unreachable, a 200 that is not JSON, an outage
flow("machine-api-key-bapi-dropped", configs=ONE_PROD, kinds=("api",), setup=FakeClerk.drop_connections)(
    _registered_api_key
)
flow(
    "machine-api-key-bapi-garbage",
    configs=ONE_PROD,
    kinds=("api",),
    setup=FakeClerk.serve_garbage,
    expect="backend-answer-crashes-clerk",
)(_registered_api_key)
flow("machine-api-key-bapi-down", configs=ONE_PROD, kinds=("api",), setup=FakeClerk.go_down)(_registered_api_key)
flow("handshake-nonce-bapi-dropped", configs=ONE_PROD + ONE_DEV, setup=FakeClerk.drop_connections)(
    lambda k, kind: _nonce_request(k, kind, [f"__session={k.token()}; Path=/"])
)


@flow("machine-api-key-org", configs=ONE_PROD, kinds=("api",))
def _machine_api_key_org(k: Kit, kind: str) -> Probe:
    token = k.unique("ak")
    k.fake.register_machine_token(token, "api_key", subject="org_42", claims={"team": "a"})
    return request(kind=kind, bearer=token)


@flow("machine-api-key-unknown", configs=ONE_PROD + ONE_DEV, kinds=("api",))
def _machine_api_key_unknown(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.unique("ak_unknown"))


@flow("machine-m2m", configs=ONE_PROD + ONE_DEV, kinds=("api",))
def _machine_m2m(k: Kit, kind: str) -> Probe:
    token = k.unique("mt")
    k.fake.register_machine_token(token, "m2m_token", subject="mch_7", scopes=["mch_8"])
    return request(kind=kind, bearer=token)


@flow("machine-m2m-unknown", configs=ONE_PROD, kinds=("api",))
def _machine_m2m_unknown(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.unique("mt_unknown"))


@flow("machine-oauth", configs=ONE_PROD + ONE_DEV, kinds=("api",))
def _machine_oauth(k: Kit, kind: str) -> Probe:
    token = k.unique("oat")
    k.fake.register_machine_token(token, "oauth_token", subject="user_9", client_id="client_9", scopes=["email"])
    return request(kind=kind, bearer=token)


@flow("machine-oauth-unknown", configs=ONE_PROD, kinds=("api",))
def _machine_oauth_unknown(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.unique("oat_unknown"))


# --- cookies ------------------------------------------------------------------------------------------------


@flow("cookie-none")
def _cookie_none(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser())


@flow("cookie-valid")
def _cookie_valid(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser(__session=k.token(), __client_uat=k.uat()))


@flow("cookie-valid-suffixed")
def _cookie_valid_suffixed(k: Kit, kind: str) -> Probe:
    s = k.suffix
    return request(kind=kind, cookies=k.browser(**{f"__session_{s}": k.token(), f"__client_uat_{s}": k.uat()}))


@flow("cookie-no-client-uat")
def _cookie_no_uat(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser(__session=k.token()))


@flow("cookie-client-uat-zero")
def _cookie_uat_zero(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser(__session=k.token(), __client_uat="0"))


@flow("cookie-uat-only", kinds=ALL_KINDS)
def _cookie_uat_only(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser(__client_uat=k.uat()))


@flow("cookie-iat-before-uat")
def _cookie_iat_before(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser(__session=k.token(), __client_uat=k.uat(+120)))


@flow("cookie-expired-no-refresh")
def _cookie_expired(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser(__session=k.expired(), __client_uat=k.uat(-7200)))


@flow("cookie-expired-post", kinds=("page",))
def _cookie_expired_post(k: Kit, kind: str) -> Probe:
    cookies = k.browser(__session=k.expired(), __client_uat=k.uat(-7200), **{f"__refresh_{k.suffix}": "rt_x"})
    return request(kind=kind, method="POST", cookies=cookies)


def _refreshable(k: Kit, kind: str, *, register: bool = True) -> Probe:
    sid = k.unique("sess")
    refresh = k.unique("rt")
    if register:
        k.fake.register_refresh_token(sid, refresh)
    cookies = k.browser(
        __session=k.expired(session_id=sid), __client_uat=k.uat(-7200), **{f"__refresh_{k.suffix}": refresh}
    )
    return request(kind=kind, cookies=cookies)


@flow("cookie-expired-refreshed")
def _cookie_refreshed(k: Kit, kind: str) -> Probe:
    return _refreshable(k, kind)


@flow("cookie-expired-refresh-unknown", configs=ONE_PROD + ONE_DEV)
def _cookie_refresh_unknown(k: Kit, kind: str) -> Probe:
    return _refreshable(k, kind, register=False)


@flow("cookie-expired-refresh-dropped", configs=ONE_PROD + ONE_DEV, setup=FakeClerk.drop_connections)
def _cookie_refresh_dropped(k: Kit, kind: str) -> Probe:
    return _refreshable(k, kind)


@flow("cookie-expired-refresh-garbage", configs=ONE_PROD + ONE_DEV, setup=FakeClerk.serve_garbage)
def _cookie_refresh_garbage(k: Kit, kind: str) -> Probe:
    return _refreshable(k, kind)


@flow("cookie-expired-refresh-bapi-down", configs=ONE_PROD, setup=FakeClerk.go_down)
def _cookie_refresh_down(k: Kit, kind: str) -> Probe:
    return _refreshable(k, kind)


@flow("cookie-expired-refresh-no-sid", configs=ONE_PROD)
def _cookie_refresh_no_sid(k: Kit, kind: str) -> Probe:
    token = k.raw_token(
        {"alg": "RS256", "typ": "JWT", "kid": k.fake.mint.kid},
        k.claims(sid=None, iat=int(k.now) - 3600, nbf=int(k.now) - 3610, exp=int(k.now) - 3540),
    )
    cookies = k.browser(__session=token, __client_uat=k.uat(-7200), **{f"__refresh_{k.suffix}": "rt_z"})
    return request(kind=kind, cookies=cookies)


@flow("cookie-nbf-future")
def _cookie_nbf(k: Kit, kind: str) -> Probe:
    return request(
        kind=kind, cookies=k.browser(__session=k.token(extra={"nbf": int(k.now) + 600}), __client_uat=k.uat())
    )


@flow("cookie-bad-signature", kinds=("page",))
def _cookie_bad_sig(k: Kit, kind: str) -> Probe:
    token = k.token()
    return request(kind=kind, cookies=k.browser(__session=token[:-4] + "AAAA", __client_uat=k.uat()))


@flow("cookie-no-issuer", configs=ONE_PROD + ONE_DEV, expect="issuer-checked")
def _cookie_no_iss(k: Kit, kind: str) -> Probe:
    token = k.raw_token({"alg": "RS256", "typ": "JWT", "kid": k.fake.mint.kid}, k.claims(iss=None))
    return request(kind=kind, cookies=k.browser(__session=token, __client_uat=k.uat()))


@flow("cookie-jwt-template", configs=ONE_PROD, kinds=("api",))
def _cookie_template(k: Kit, kind: str) -> Probe:
    return request(
        kind=kind, cookies=k.browser(__session=k.token(header={"cat": "cl_B7d4PD222AAA"}), __client_uat=k.uat())
    )


@flow("cookie-primary-issued-on-satellite", configs=("prod-satellite", "dev-satellite"))
def _cookie_primary_on_sat(k: Kit, kind: str) -> Probe:
    primary = "https://" + ("clerk.authd.localhost" if k.development else PROD_FAPI)
    return request(kind=kind, cookies=k.browser(__session=k.token(issuer=primary), __client_uat=k.uat()))


@flow("cookie-foreign-issuer-with-suffixed")
def _cookie_foreign_and_suffixed(k: Kit, kind: str) -> Probe:
    s = k.suffix
    cookies = k.browser(
        __session=k.token(issuer="https://clerk.other-app.example"),
        __client_uat=k.uat(),
        **{f"__session_{s}": k.token(user_id="user_suffixed"), f"__client_uat_{s}": k.uat()},
    )
    return request(kind=kind, cookies=cookies)


def _suffix_choice(k: Kit, kind: str, session: str) -> Probe:
    """An odd ``__session`` beside a good suffixed pair: which pair Clerk's lenient peek chooses."""
    s = k.suffix
    cookies = k.browser(
        __session=session,
        __client_uat=k.uat(),
        **{f"__session_{s}": k.token(user_id="user_suffixed"), f"__client_uat_{s}": k.uat()},
    )
    return request(kind=kind, cookies=cookies)


@flow("suffix-choice-padded-session", configs=ONE_PROD + ONE_DEV)
def _choice_padded(k: Kit, kind: str) -> Probe:
    return _suffix_choice(k, kind, k.padded(k.claims(sub="user_padded")))


@flow("suffix-choice-broken-header", configs=ONE_PROD + ONE_DEV)
def _choice_broken_header(k: Kit, kind: str) -> Probe:
    token = k.token(user_id="user_broken")
    return _suffix_choice(k, kind, "e30." + token.split(".", 1)[1])


@flow("suffix-choice-broken-signature", configs=ONE_PROD + ONE_DEV)
def _choice_broken_signature(k: Kit, kind: str) -> Probe:
    token = k.token(user_id="user_broken")
    return _suffix_choice(k, kind, token.rsplit(".", 1)[0] + ".!!!")


@flow("suffix-choice-newer-unsuffixed", configs=ONE_PROD + ONE_DEV)
def _choice_newer(k: Kit, kind: str) -> Probe:
    s = k.suffix
    cookies = k.browser(
        __session=k.token(user_id="user_newer", now=k.now),
        __client_uat=k.uat(-120),
        **{f"__session_{s}": k.token(user_id="user_older", now=k.now - 30), f"__client_uat_{s}": k.uat(-120)},
    )
    return request(kind=kind, cookies=cookies)


@flow("suffix-choice-dev-no-exp", configs=ONE_DEV)
def _choice_no_exp(k: Kit, kind: str) -> Probe:
    s = k.suffix
    no_exp = k.raw_token({"alg": "RS256", "typ": "JWT", "kid": k.fake.mint.kid}, k.claims(exp=None, user_id="u_s"))
    cookies = k.browser(
        __session=k.token(user_id="user_unsuffixed"),
        __client_uat="0",
        **{f"__session_{s}": no_exp, f"__client_uat_{s}": k.uat()},
    )
    return request(kind=kind, cookies=cookies)


@flow("suffix-choice-dev-expired-suffixed", configs=ONE_DEV)
def _choice_expired(k: Kit, kind: str) -> Probe:
    s = k.suffix
    cookies = k.browser(
        __session=k.token(user_id="user_unsuffixed"),
        __client_uat="0",
        **{f"__session_{s}": k.expired(), f"__client_uat_{s}": k.uat()},
    )
    return request(kind=kind, cookies=cookies)


@flow("suffixed-dev-browser", configs=ONE_DEV)
def _suffixed_dev_browser(k: Kit, kind: str) -> Probe:
    s = k.suffix
    jar = {f"__session_{s}": k.token(), f"__client_uat_{s}": k.uat(), f"__clerk_db_jwt_{s}": "dvb_suffixed"}
    return request(kind=kind, cookies=jar)


@flow("cookie-odd-values", configs=ONE_PROD + ONE_DEV)
def _cookie_odd(k: Kit, kind: str) -> Probe:
    token = k.token()
    header = ("cookie", f'__session={token}; __session=second; __client_uat="{k.uat()}"; x=%ZZ; __clerk_db_jwt=dvb_x')
    return request(kind=kind, extra=(header,))


@flow("request-latin1-bytes", configs=ONE_PROD + ONE_DEV, kinds=("page",))
def _request_latin1(k: Kit, kind: str) -> Probe:
    """Latin-1 bytes in request headers: Node reads each byte as one character (``é``), and so must we."""
    cookies = {"__clerk_db_jwt": "dvb_caf\u00e9", "__session": k.token(), "__client_uat": k.uat(), "x": "\u00ff"}
    return request(kind=kind, cookies=cookies, extra=(("referer", "https://caf\u00e9.example/"),))


@flow("request-latin1-session-cookie", configs=ONE_PROD + ONE_DEV, kinds=("page",))
def _request_latin1_session(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser(__session=k.token() + "\u00e9", __client_uat=k.uat()))


@flow("url-encodings-in-the-handshake", configs=ONE_PROD + ONE_DEV + ("prod-orgsync",), kinds=("page",))
def _url_encodings(k: Kit, kind: str) -> Probe:
    path = "/orgs/caf%C3%A9/x;y?q=a+b&s=%E2%98%BA&t=%2F&u&v=1=2&__clerk_db_jwt=dvb_q&__dev_session=z#frag"
    return request(path.split("#", maxsplit=1)[0], kind=kind, cookies=k.browser(__client_uat=k.uat()))


@flow("cookie-uat-not-a-number", configs=ONE_PROD, kinds=("page",))
def _cookie_uat_nan(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser(__session=k.token(), __client_uat="12abc", __clerk_redirect_count="x"))


@flow("cookie-handshake-nonce-cookie", configs=ONE_PROD + ONE_DEV)
def _cookie_nonce(k: Kit, kind: str) -> Probe:
    nonce = k.unique("nonce")
    k.fake.register_handshake_nonce(nonce, [f"__session={k.token()}; Path=/", f"__client_uat={k.uat()}"])
    return request(kind=kind, cookies=k.browser(__clerk_handshake_nonce=nonce))


@flow("cross-origin-after-a-redirect", configs=ONE_PROD, kinds=("page",))
def _cross_origin_counted(k: Kit, kind: str) -> Probe:
    cookies = k.browser(__session=k.token(), __client_uat=k.uat(), __clerk_redirect_count="1")
    return request(kind=kind, cookies=cookies, extra=(("referer", "https://elsewhere.example/"),))


@flow("dev-legacy-session-param", configs=ONE_DEV, kinds=("page",))
def _dev_legacy(k: Kit, kind: str) -> Probe:
    return request("/p?__dev_session=old&__clerk_db_jwt=dvb_q&keep=1", kind=kind, cookies=k.browser())


# --- the suffixed-cookie choice, every combination of the four cookies ---------------------------------------------

_SESSIONS: Final = ("absent", "own", "foreign", "malformed", "expired")
_SUFFIXED_SESSIONS: Final = ("absent", "valid", "expired")
_UATS: Final = ("absent", "0", "past", "future")


def _session_value(k: Kit, state: str, user: str) -> str | None:
    if state == "absent":
        return None
    if state == "foreign":
        return k.token(user_id=user, issuer="https://clerk.other-app.example")
    if state == "malformed":
        return "e30.bm90IGpzb24.c2ln"
    if state == "expired":
        return k.expired(user_id=user)
    return k.token(user_id=user)


def _uat_value(k: Kit, state: str) -> str | None:
    return {"absent": None, "0": "0", "past": k.uat(-600), "future": k.uat(+600)}[state]


def _cookie_matrix(session: str, suffixed: str, uat: str, suffixed_uat: str) -> FlowBuild:
    def build(k: Kit, kind: str) -> Probe:
        s = k.suffix
        values = {
            "__session": _session_value(k, session, "user_plain"),
            f"__session_{s}": _session_value(k, "own" if suffixed == "valid" else suffixed, "user_suffixed"),
            "__client_uat": _uat_value(k, uat),
            f"__client_uat_{s}": _uat_value(k, suffixed_uat),
        }
        return request(kind=kind, cookies=k.browser(**{n: v for n, v in values.items() if v is not None}))

    return build


for _combo in itertools.product(_SESSIONS, _SUFFIXED_SESSIONS, _UATS, _UATS):
    flow("cookie-matrix-" + "-".join(_combo), configs=ONE_PROD + ONE_DEV, kinds=("page",))(_cookie_matrix(*_combo))


@flow("redirect-loop-limit", configs=ONE_PROD + ONE_DEV, kinds=("page",))
def _loop(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser(__client_uat=k.uat(), __clerk_redirect_count="3"))


@flow("redirect-loop-counting", configs=ONE_PROD, kinds=("page",))
def _loop_count(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser(__client_uat=k.uat(), __clerk_redirect_count="2"))


# --- development instances -----------------------------------------------------------------------------------


@flow("dev-browser-missing", configs=DEV_CONFIGS)
def _dev_missing(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies={"__session": k.token(), "__client_uat": k.uat()})


@flow("dev-browser-in-query", configs=ONE_DEV)
def _dev_sync(k: Kit, kind: str) -> Probe:
    return request("/dashboard?__clerk_db_jwt=dvb_query&x=1", kind=kind, cookies=k.browser())


def _dev_primary_sync(target: str) -> FlowBuild:
    def build(k: Kit, kind: str) -> Probe:
        return request(f"/?__clerk_redirect_url={target}", kind=kind, cookies=k.browser())

    return build


# a development primary answering a satellite's sync: to the app's own origin as Clerk does; elsewhere not at all
flow("dev-primary-responds-to-syncing", configs=ONE_DEV, kinds=("page",))(
    _dev_primary_sync("https%3A%2F%2Fapp.example.com%2Fback%3Fa%3D1")
)
flow("dev-primary-responds-to-syncing-not-a-url", configs=ONE_DEV, kinds=("page",), expect="no-exceptions")(
    _dev_primary_sync("not%20a%20url")
)
flow("dev-primary-responds-to-syncing-elsewhere", configs=ONE_DEV, kinds=("page",), expect="redirect-url-checked")(
    _dev_primary_sync("https%3A%2F%2Fsatellite.test%2Fback%3Fa%3D1")
)


# --- handshakes ----------------------------------------------------------------------------------------------


def _nonce_request(k: Kit, kind: str, directives: object, path: str = "/dashboard") -> Probe:
    nonce = k.unique("nonce")
    k.fake.register_handshake_nonce(nonce, directives)
    separator = "&" if "?" in path else "?"
    return request(f"{path}{separator}__clerk_handshake_nonce={nonce}", kind=kind, cookies=k.browser())


@flow("handshake-nonce-session")
def _hs_nonce(k: Kit, kind: str) -> Probe:
    token = k.token()
    directives = [f"__session={token}; Path=/; Secure; SameSite=Lax", f"__client_uat={k.uat()}; Path=/"]
    return _nonce_request(k, kind, directives, "/dashboard?keep=1&__clerk_help=1")


@flow("handshake-nonce-signed-out", configs=ONE_PROD + ONE_DEV)
def _hs_nonce_out(k: Kit, kind: str) -> Probe:
    return _nonce_request(k, kind, ["__session=; Path=/; Max-Age=0", "__client_uat=0; Path=/"])


@flow("handshake-nonce-unknown", configs=ONE_PROD + ONE_DEV)
def _hs_nonce_unknown(k: Kit, kind: str) -> Probe:
    return request("/dashboard?__clerk_handshake_nonce=nope", kind=kind, cookies=k.browser())


@flow("handshake-nonce-whitespace", configs=ONE_PROD + ONE_DEV)
def _hs_nonce_ws(k: Kit, kind: str) -> Probe:
    token = k.token()
    return _nonce_request(k, kind, [f" __session={token} ; Path=/", f"__client_uat={k.uat()}"])


@flow("handshake-nonce-value-whitespace", configs=ONE_PROD + ONE_DEV)
def _hs_nonce_value_ws(k: Kit, kind: str) -> Probe:
    token = k.token()
    return _nonce_request(k, kind, [f"__session= {token}; Path=/", f"__client_uat={k.uat()}"])


@flow("handshake-nonce-non-string-directive", configs=ONE_PROD + ONE_DEV)
def _hs_nonce_non_string(k: Kit, kind: str) -> Probe:
    return _nonce_request(k, kind, [f"__client_uat={k.uat()}", 42])


@flow("handshake-nonce-string-directives", configs=ONE_PROD + ONE_DEV)
def _hs_nonce_string(k: Kit, kind: str) -> Probe:
    return _nonce_request(k, kind, "ab=")


@flow("handshake-nonce-suffixed-session", configs=ONE_PROD + ONE_DEV)
def _hs_nonce_suffixed(k: Kit, kind: str) -> Probe:
    s = k.suffix
    return _nonce_request(k, kind, [f"__session_{s}={k.token()}; Path=/", f"__client_uat_{s}={k.uat()}; Path=/"])


@flow("handshake-nonce-expired-session", configs=ONE_PROD + ONE_DEV)
def _hs_nonce_expired(k: Kit, kind: str) -> Probe:
    return _nonce_request(k, kind, [f"__session={k.expired()}; Path=/"])


def _handshake_jwt(k: Kit, payload: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    return k.fake.mint.sign(payload, header=header)


@flow("handshake-jwt-session", configs=ONE_PROD + ONE_DEV)
def _hs_jwt(k: Kit, kind: str) -> Probe:
    token = _handshake_jwt(k, {"handshake": [f"__session={k.token()}; Path=/", f"__client_uat={k.uat()}; Path=/"]})
    return request(f"/dashboard?__clerk_handshake={token}", kind=kind, cookies=k.browser())


def _hs_jwt_bad(k: Kit, kind: str) -> Probe:
    token = _handshake_jwt(k, {"handshake": [f"__session={k.token()}; Path=/"]})
    return request(f"/dashboard?__clerk_handshake={token[:-4]}AAAA", kind=kind, cookies=k.browser())


# production logs a handshake token that does not verify and goes on; development throws
flow("handshake-jwt-bad-signature", configs=ONE_PROD)(_hs_jwt_bad)
flow("handshake-jwt-bad-signature-dev", configs=ONE_DEV, expect="throws")(_hs_jwt_bad)


def _hs_jwt_padded(signed_as_sent: bool) -> FlowBuild:
    def build(k: Kit, kind: str) -> Probe:
        payload = {"handshake": [f"__session={k.token()}; Path=/"]}
        token = k.padded(payload, signed_as_sent=signed_as_sent)
        return request(f"/dashboard?__clerk_handshake={token}", kind=kind, cookies=k.browser())

    return build


# Clerk reads a padded handshake token signed as sent; we refuse it (prod: logged, the cookies decide; dev: thrown)
flow("handshake-jwt-padded", configs=ONE_PROD + ONE_DEV, expect="strict-tokens")(_hs_jwt_padded(True))
# signed before padding: refused by both, with Clerk's reason (production goes on, development throws)
flow("handshake-jwt-padded-bad-signature", configs=ONE_PROD)(_hs_jwt_padded(False))
flow("handshake-jwt-padded-bad-signature-dev", configs=ONE_DEV, expect="throws")(_hs_jwt_padded(False))


@flow("handshake-nonce-latin1-cookie", configs=ONE_PROD + ONE_DEV)
def _hs_nonce_latin1(k: Kit, kind: str) -> Probe:
    return _nonce_request(k, kind, [f"__session={k.token()}; Path=/", "greeting=caf\u00e9; Path=/"])


@flow("handshake-nonce-beyond-latin1-cookie", configs=ONE_PROD)
def _hs_nonce_unicode(k: Kit, kind: str) -> Probe:
    return _nonce_request(k, kind, [f"__session={k.token()}; Path=/", "greeting=\u263a; Path=/"])


@flow("handshake-jwt-template-category", configs=ONE_PROD)
def _hs_jwt_template(k: Kit, kind: str) -> Probe:
    token = _handshake_jwt(k, {"handshake": [f"__session={k.token()}; Path=/"]}, header={"cat": "cl_B7d4PD222AAA"})
    return request(f"/dashboard?__clerk_handshake={token}", kind=kind, cookies=k.browser())


# --- satellites, cross-origin and organization sync -------------------------------------------------------------


@flow("satellite-first-visit", configs=("prod-satellite", "dev-satellite"), kinds=("page",))
def _sat_first(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser())


@flow("satellite-synced-false", configs=("prod-satellite", "dev-satellite"), kinds=("page",))
def _sat_synced_false(k: Kit, kind: str) -> Probe:
    return request("/dashboard?__clerk_synced=false", kind=kind, cookies=k.browser())


@flow("satellite-synced-true", configs=("prod-satellite", "dev-satellite"), kinds=("page",))
def _sat_synced_true(k: Kit, kind: str) -> Probe:
    return request("/dashboard?__clerk_synced=true", kind=kind, cookies=k.browser())


@flow("satellite-origin-is-sign-in", configs=("prod-satellite",), kinds=("api",), expect="throws")
def _sat_origin(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser(), extra=(("origin", "https://accounts.example.com"),))


@flow("cross-origin-referrer", configs=("prod", "dev", "prod-satellite"), kinds=("page",))
def _cross_origin(k: Kit, kind: str) -> Probe:
    cookies = k.browser(__session=k.token(), __client_uat=k.uat())
    return request(kind=kind, cookies=cookies, extra=(("referer", "https://elsewhere.example/page"),))


@flow("known-clerk-referrer", configs=("prod", "dev"), kinds=("page",))
def _known_referrer(k: Kit, kind: str) -> Probe:
    fapi = "clerk.authd.localhost" if k.development else PROD_FAPI
    cookies = k.browser(__session=k.token(), __client_uat=k.uat())
    return request(kind=kind, cookies=cookies, extra=(("referer", f"https://{fapi}/v1/client"),))


def _org_request(k: Kit, kind: str, path: str, **claims: Any) -> Probe:
    cookies = k.browser(__session=k.token(**claims), __client_uat=k.uat())
    return request(path, kind=kind, cookies=cookies)


ORG_PATHS: Final = {
    "orgs-uppercase": ("/ORGS/acme", {"org_id": "org_2", "org_slug": "globex", "org_role": "admin"}),
    "orgs-trailing-slash": ("/orgs/acme/", {"org_id": "org_1", "org_slug": "acme", "org_role": "admin"}),
    "orgs-encoded": ("/orgs/a%20b", {"org_id": "org_1", "org_slug": "acme", "org_role": "admin"}),
    "ids-two-segments": ("/ids/x/y", {"org_id": "org_1", "org_slug": "acme", "org_role": "admin"}),
    "personal-trailing-slash": ("/me/", {"org_id": "org_1", "org_slug": "acme", "org_role": "admin"}),
    "orgs-other": ("/orgs/acme", {"org_id": "org_2", "org_slug": "globex", "org_role": "admin"}),
    "orgs-same": ("/orgs/acme/settings", {"org_id": "org_1", "org_slug": "acme", "org_role": "admin"}),
    "orgs-none": ("/orgs/acme", {}),
    "ids-other": ("/ids/org_9", {"org_id": "org_1", "org_slug": "acme", "org_role": "admin"}),
    "ids-same": ("/ids/org_1", {"org_id": "org_1", "org_slug": "acme", "org_role": "admin"}),
    "multi-two": ("/multi/a/b", {"org_id": "org_1", "org_slug": "acme", "org_role": "admin"}),
    "multi-one-same": ("/multi/acme", {"org_id": "org_1", "org_slug": "acme", "org_role": "admin"}),
    "star-empty": ("/star", {"org_id": "org_1", "org_slug": "acme", "org_role": "admin"}),
    "star-two": ("/star/x/y", {}),
    "personal-with-org": ("/me/profile", {"org_id": "org_1", "org_slug": "acme", "org_role": "admin"}),
    "personal-without-org": ("/me", {}),
    "unmatched": ("/elsewhere", {"org_id": "org_1", "org_slug": "acme", "org_role": "admin"}),
}


def _org_flow(name: str, path: str, claims: dict[str, Any]) -> None:
    @flow(f"orgsync-{name}", configs=("prod-orgsync", "dev-orgsync"))
    def build(k: Kit, kind: str) -> Probe:
        return _org_request(k, kind, path, **claims)


for _name, (_path, _claims) in ORG_PATHS.items():
    _org_flow(_name, _path, _claims)


@flow("orgsync-header-token-other-org", configs=("prod-orgsync",), kinds=("page",))
def _org_header(k: Kit, kind: str) -> Probe:
    return request("/orgs/acme", kind=kind, bearer=k.token(org_id="org_2", org_slug="globex", org_role="admin"))


@flow("header-no-sid", configs=ONE_PROD + ONE_DEV, kinds=("api",), expect="sid-required")
def _header_no_sid(k: Kit, kind: str) -> Probe:
    return request(
        kind=kind, bearer=k.raw_token({"alg": "RS256", "typ": "JWT", "kid": k.fake.mint.kid}, k.claims(sid=None))
    )


@flow("cookie-pending-session", configs=ONE_PROD + ONE_DEV, expect_service="pending-session")
def _cookie_pending(k: Kit, kind: str) -> Probe:
    return request(kind=kind, cookies=k.browser(__session=k.token(extra={"sts": "pending"}), __client_uat=k.uat()))


@flow("pending-session", configs=ONE_PROD + ONE_DEV, kinds=("api",), expect_service="pending-session")
def _pending(k: Kit, kind: str) -> Probe:
    return request(kind=kind, bearer=k.token(extra={"sts": "pending"}))


def scenarios() -> list[Scenario]:
    """Every flow on every configuration it runs on, crossed with its kinds of request."""
    return [
        Scenario(f"{f.name}[{config},{kind}]", config, f, kind)
        for f in FLOWS
        for config in f.configs or tuple(CONFIGS)
        for kind in f.kinds
    ]
