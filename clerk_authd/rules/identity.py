"""``Identity``: an auth object's facts as plain strings, in the order of api.md §3's identity headers.

Every auth variant gives one, so whoever renders headers (the decision, the Sanic SDK) never looks inside a
variant; the claims of a session compute theirs once (``claims.session_identity``).
"""

from __future__ import annotations

from typing import NamedTuple

#: one HTTP header as a (name, value) pair
Header = tuple[str, str]


class Identity(NamedTuple):
    """An auth object's facts as strings, ``''`` when absent, in api.md §3's identity-header order.

    The values are the token's own; a renderer must still make them safe for an HTTP header.
    """

    user_id: str = ""
    session_id: str = ""
    session_status: str = ""
    org_id: str = ""
    org_slug: str = ""
    org_role: str = ""
    #: comma-joined
    org_permissions: str = ""
    actor_id: str = ""
    token_type: str = ""
    machine_id: str = ""
    client_id: str = ""
    #: comma-joined
    scopes: str = ""
