"""FakeClerk: a loopback stand-in for Clerk's Backend API, for tests, ``serve --dev`` and the README examples.

::

    server.py           FakeClerk: lifecycle, keys and tokens, the verifier's endpoints, request recording
    store.py            ResourceStore: users, organizations, memberships, sessions, invitations, identifiers
    routes.py           the resource endpoints over the store, as one table
    listing.py          how lists answer: filters, order_by, limit/offset
    switches.py         failure switches: forced statuses (429 with Retry-After, 5xx), slow, garbage
    machine_tokens.py   the machine-token verify endpoints
    responses.py        Clerk's JSON and error bodies
    thread.py           FakeClerkThread: one on its own loop in a background thread
"""

from clerk_authd.testing.fake_clerk.machine_tokens import MACHINE_VERIFY_ENDPOINTS
from clerk_authd.testing.fake_clerk.responses import GARBAGE_BODY, MSG_INVALID_SECRET_KEY, clerk_error
from clerk_authd.testing.fake_clerk.server import (
    DEFAULT_FRONTEND_API,
    DEFAULT_PUBLISHABLE_KEY,
    DEFAULT_SECRET_KEY,
    FakeClerk,
    RecordedRequest,
)
from clerk_authd.testing.fake_clerk.store import ResourceStore, StoreError
from clerk_authd.testing.fake_clerk.thread import FakeClerkThread

__all__ = [
    "DEFAULT_FRONTEND_API",
    "DEFAULT_PUBLISHABLE_KEY",
    "DEFAULT_SECRET_KEY",
    "GARBAGE_BODY",
    "MACHINE_VERIFY_ENDPOINTS",
    "MSG_INVALID_SECRET_KEY",
    "FakeClerk",
    "FakeClerkThread",
    "RecordedRequest",
    "ResourceStore",
    "StoreError",
    "clerk_error",
]
