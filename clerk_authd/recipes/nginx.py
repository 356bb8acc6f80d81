"""nginx (``auth_request``): one file for ``nginx -p <dir> -c nginx.conf``, in front of one upstream.

- ``/verify`` is asked in an internal subrequest that carries no body and sets ``X-Original-Method`` /
  ``X-Original-URL`` itself (``proxy_set_header`` replaces the client's);
- every identity header is copied with ``proxy_set_header``, which also drops the client's header of that name in
  any case, even when the answer's value is empty (nginx then sends none); nginx drops every header with an
  ``_`` in its name (``ignore_invalid_headers``), so ``X_Clerk_User_Id`` never reaches the upstream either;
- a GET or HEAD carrying a handshake (query or cookie) is proxied to ``/handshake``, whose 307 and cookies reach
  the browser as they are (``/handshake`` takes no other method; another one is decided by ``/verify``);
- on a decision, nginx can read only the first ``Set-Cookie`` of a subrequest, so the service repeats each in
  ``X-Clerk-Set-Cookie-<n>`` and the recipe adds them back;
- a 401 goes to ``X-Clerk-Redirect-To`` (307 to the handshake, 302 to sign-in) or stays a 401 for API calls;
- with ``--verdict-cache DIR`` (off by default), nginx keeps allowed answers (``VERDICT_CACHE``, below).

The verdict cache is ``proxy_cache`` on the auth location. An allowed answer says how long it may be kept
(``Cache-Control: private, max-age=N``: the token's remaining life less the clock skew); nginx refuses to store
anything marked ``private``, so the service repeats ``N`` in ``X-Accel-Expires``, nginx's own header, and the
cache reads that one alone. Every denial says ``no-store`` and sends no ``X-Accel-Expires``, a machine token's
answer says ``max-age=0``, and an answer with a ``Set-Cookie`` (a refresh) is never stored by nginx, so only
allowed answers are reused, for exactly the request they were given for: the key holds the original method and
URL, both credentials and every other header the decision reads. The trade-off: a session revoked at Clerk
stays allowed here until its answer's ``max-age`` runs out (at most the token's own remaining lifetime, about a
minute for Clerk's session tokens), as it does in the service's own verified-token cache. The cache files hold
their key, credentials included: ``DIR`` belongs on a tmpfs (``/dev/shm``, ``/run``) that only nginx reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from clerk_authd.recipes.options import NGINX_COOKIE_COPIES, RecipeOptions, display_name
from clerk_authd.rules.names import HANDSHAKE, HANDSHAKE_NONCE, IDENTITY_HEADERS

FILE_NAME = "nginx.conf"

#: the verdict cache's key: what a ``/verify`` decision reads of the request (the original method and URL, the
#: credentials, and the headers Clerk's cookie path and the answer consult)
VERDICT_CACHE_KEY: Final = "|".join(
    (
        "$request_method",
        "$scheme://$http_host$request_uri",
        "$http_authorization",
        "$http_cookie",
        "$http_origin",
        "$http_referer",
        "$http_sec_fetch_dest",
        "$http_accept",
    )
)
#: the auth location's caching directives (with ``verdict_cache_zone`` in ``http``)
VERDICT_CACHE: Final = (
    "# verdict cache: an allowed answer is kept for its max-age, for exactly the request it was given for",
    "proxy_cache clerk_verdicts;",
    f'proxy_cache_key "{VERDICT_CACHE_KEY}";',
    "proxy_cache_methods GET HEAD;",
    '# nginx stores nothing "private"; X-Accel-Expires carries the same max-age, sent with allowed answers only',
    "proxy_ignore_headers Cache-Control;",
)


def verdict_cache_zone(directory: str) -> str:
    """The ``http``-level ``proxy_cache_path`` of the verdict cache in ``directory`` (16 MB of keys, about
    128 000 verdicts; files unread for 2 minutes, longer than any session token lives, are dropped)."""
    return (
        f"proxy_cache_path {directory} levels=1 keys_zone=clerk_verdicts:16m max_size=256m inactive=2m"
        " use_temp_path=off;"
    )


def variable(header: str) -> str:
    """The nginx variable a recipe keeps ``header`` of the auth answer in: ``x-clerk-user-id`` → ``clerk_user_id``."""
    return header.removeprefix("x-").replace("-", "_")


def _lines(indent: int, lines: Iterable[str]) -> str:
    return "\n".join(" " * indent + line for line in lines)


def _block(indent: int, lines: Iterable[str]) -> str:
    """``_lines`` ending in a newline, for a block the template holds only when an option asks for it."""
    return _lines(indent, lines) + "\n"


def render(options: RecipeOptions) -> dict[str, str]:
    """``nginx.conf``."""
    cookies = [f"x-clerk-set-cookie-{n}" for n in range(1, NGINX_COOKIE_COPIES + 1)]
    answer_headers = [*IDENTITY_HEADERS, "x-clerk-redirect-to", *cookies]
    keep = [f"auth_request_set ${variable(h)} $upstream_http_{h.replace('-', '_')};" for h in answer_headers]
    copy = [f"proxy_set_header {display_name(h)} ${variable(h)};" for h in IDENTITY_HEADERS]
    clear = [f'proxy_set_header {display_name(h)} "";' for h in ("x-clerk-redirect-to", *cookies)]
    set_cookies = [f"add_header Set-Cookie ${variable(h)} always;" for h in cookies]
    handshake_inputs = "".join(f"$arg_{name}$cookie_{name}" for name in (HANDSHAKE, HANDSHAKE_NONCE))
    original = [
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        'proxy_set_header Upgrade "";',
        "proxy_pass_request_body off;",
        'proxy_set_header Content-Length "";',
        "proxy_set_header X-Original-Method $request_method;",
        "proxy_set_header X-Original-URL $scheme://$http_host$request_uri;",
    ]
    zone = _block(4, [verdict_cache_zone(options.verdict_cache)]) if options.verdict_cache else ""
    verify_cache = _block(12, VERDICT_CACHE) if options.verdict_cache else ""
    text = f"""\
# clerk-authd proxy-config nginx: nginx in front of http://{options.upstream}, asking clerk-authd at
# http://{options.authd}. Run: nginx -p <a writable directory> -c <this file> -e stderr
daemon off;
worker_processes 1;
pid nginx.pid;
error_log stderr warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;
    # a header with "_" in its name (X_Clerk_User_Id) is dropped, never passed on
    ignore_invalid_headers on;
    underscores_in_headers off;
{zone}
    # 1 when a GET or HEAD carries a Clerk handshake, in its query or its cookies; another method goes to
    # /verify, which resolves the handshake too, and its cookies reach the browser with the app's answer
    map "$request_method {handshake_inputs}" $clerk_handshake {{
        default 0;
        "~^(GET|HEAD) ." 1;
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        "" "";
    }}

    upstream clerk_authd {{
        server {options.authd};
        keepalive 16;
    }}
    upstream app {{
        server {options.upstream};
        keepalive 16;
    }}

    server {{
        listen {options.listen};

        location = /_clerk_authd/verify {{
            internal;
            proxy_pass http://clerk_authd/verify?{options.auth_query};
{_lines(12, original)}
{verify_cache}        }}

        location = /_clerk_authd/handshake {{
            internal;
            proxy_pass http://clerk_authd/handshake;
{_lines(12, original)}
        }}

        location / {{
            if ($clerk_handshake) {{
                rewrite ^ /_clerk_authd/handshake? last;
            }}
            auth_request /_clerk_authd/verify;
{_lines(12, keep)}
            # every identity header, always: an empty one removes the client's header of that name
{_lines(12, copy)}
{_lines(12, clear)}
            # the cookies of a server-side refresh
{_lines(12, set_cookies)}
            error_page 401 = @clerk_authd_signed_out;
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }}

        location @clerk_authd_signed_out {{
            # a page load goes where Clerk sends it (the handshake, 307, or the sign-in page, 302) with the
            # answer's cookies; an API call gets 401
{_lines(12, set_cookies)}
            add_header Cache-Control no-store always;
            if ($clerk_auth_status = handshake) {{
                return 307 $clerk_redirect_to;
            }}
            if ($clerk_redirect_to) {{
                return 302 $clerk_redirect_to;
            }}
            return 401;
        }}
    }}
}}
"""
    return {FILE_NAME: text}
