"""What a recipe is built from: where the proxy listens, the upstream, the service, and the operator's query.

``auth_query`` is the query every recipe puts on its auth URL: the operator's requirements and always an explicit
``accepts`` (from the settings unless the requirements name one), so the auth URL never has an empty query and
Caddy never copies the client's onto it (``rules.proxied``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from clerk_authd.config import Settings
from clerk_authd.rules.instance import cookie_suffix
from clerk_authd.rules.names import IDENTITY_HEADERS
from clerk_authd.rules.requirements import RequirementError, parse_requirements

DEFAULT_LISTEN: Final = "127.0.0.1:8080"
DEFAULT_UPSTREAM: Final = "http://127.0.0.1:3000"
#: the cookies a ``/verify`` answer repeats in ``X-Clerk-Set-Cookie-<n>`` that the nginx recipes copy
NGINX_COOKIE_COPIES: Final = 4


class RecipeError(ValueError):
    """An option a recipe cannot be built from; the message names it."""


@dataclass(frozen=True, slots=True)
class HostPort:
    """A ``host:port`` the recipe dials or binds."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_host_port(text: str, option: str) -> HostPort:
    """``HOST:PORT`` (``[v6]:PORT``), or ``RecipeError`` naming ``option``."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RecipeError(f"{option}: {text!r} is not HOST:PORT")
    return HostPort(host, int(port))


def parse_http_url(text: str, option: str) -> HostPort:
    """An ``http://host:port`` URL with no path, or ``RecipeError`` naming ``option``."""
    parts = urlsplit(text)
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise RecipeError(f"{option}: {text!r} is not an http://HOST[:PORT] URL without a path")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise RecipeError(f"{option}: {text!r} has a bad port") from exc
    return HostPort(parts.hostname, port)


@dataclass(frozen=True, slots=True)
class RecipeOptions:
    """Everything a recipe is built from, checked."""

    listen: HostPort
    upstream: HostPort
    authd: HostPort
    #: the auth URL's query: the operator's requirements, then ``accepts``
    auth_query: str
    #: the operator's requirements as given (``--requirements``), empty for none
    requirements: str = ""
    #: the cookies a refresh may set (Traefik copies cookies by name): Clerk's, un-suffixed and, when the
    #: publishable key is known, suffixed
    session_cookies: tuple[str, ...] = ("__session", "__client_uat")
    #: ``--authd`` was given (the Kubernetes recipe otherwise names the Service)
    authd_given: bool = True
    #: ``--verdict-cache``: the directory of nginx's verdict cache (``recipes.nginx``), empty for none
    verdict_cache: str = ""

    @property
    def identity_headers(self) -> tuple[str, ...]:
        """Every identity header, spelled as the README spells them (``X-Clerk-User-Id``)."""
        return tuple(display_name(name) for name in IDENTITY_HEADERS)

    @property
    def identity_headers_lower(self) -> tuple[str, ...]:
        """Every identity header in lower case (HTTP/2 and Envoy spell them so)."""
        return IDENTITY_HEADERS


def display_name(name: str) -> str:
    """``x-clerk-user-id`` → ``X-Clerk-User-Id``."""
    return "-".join(piece.capitalize() for piece in name.split("-"))


#: what an nginx path may hold here without quoting: no space, ``;``, quote, brace or variable can change the file
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_./-]+")


def parse_cache_directory(text: str, option: str) -> str:
    """A directory for nginx's verdict cache, or ``RecipeError`` naming ``option``: written into the configuration
    as it is, so only plain path characters are taken."""
    if not _PLAIN_PATH.fullmatch(text):
        raise RecipeError(f"{option}: {text!r} is not a plain directory path (letters, digits, _ . / -)")
    return text


def options_from_settings(
    settings: Settings,
    *,
    listen: str | None = None,
    upstream: str | None = None,
    authd: str | None = None,
    requirements: str = "",
    verdict_cache: str | None = None,
) -> RecipeOptions:
    """The options of ``proxy-config``: flags, else the settings (the service's own address, its ``accepts``)."""
    pairs = parse_qsl(requirements.removeprefix("?"), keep_blank_values=True)
    try:
        parsed = parse_requirements(pairs)
    except RequirementError as exc:
        raise RecipeError(f"--requirements: {exc.parameter}: {exc.why}") from exc
    if parsed.accepts_token is None:
        pairs.append(("accepts", ",".join(settings.accepts_token)))
    service = authd if authd is not None else f"http://{HostPort(settings.host, settings.port)}"
    cookies: tuple[str, ...] = ("__session", "__client_uat")
    if settings.publishable_key:
        suffix = cookie_suffix(settings.publishable_key)
        cookies = (*cookies, f"__session_{suffix}", f"__client_uat_{suffix}")
    return RecipeOptions(
        listen=parse_host_port(listen or DEFAULT_LISTEN, "--listen"),
        upstream=parse_http_url(upstream or DEFAULT_UPSTREAM, "--upstream"),
        authd=parse_http_url(service, "--authd"),
        auth_query=urlencode(pairs, safe=":,"),
        requirements=requirements,
        session_cookies=cookies,
        authd_given=authd is not None,
        verdict_cache=parse_cache_directory(verdict_cache, "--verdict-cache") if verdict_cache is not None else "",
    )
