"""Every way a Backend API call fails, and the exception each one raises."""

from __future__ import annotations

import dataclasses

import pytest

from clerk_authd.clerk.backend_api import ClerkClient, Organization, RetryPolicy, User
from clerk_authd.errors import BackendAPIError, ClerkAPIError, ClerkAPIResponseError, ClerkTransportError
from clerk_authd.testing.fake_clerk import MSG_INVALID_SECRET_KEY, FakeClerk, clerk_error


async def test_a_clerk_error_body_is_a_clerk_api_response_error(fake: FakeClerk, client: ClerkClient) -> None:
    """A 422 keeps status, clerk_trace_id and every errors[] entry with code, message, long_message and meta."""
    with pytest.raises(ClerkAPIResponseError) as caught:
        await client.organizations.create_organization(name=None)  # type: ignore[typeddict-item]
    error = caught.value
    assert (error.status, error.clerk_trace_id, error.retry_after) == (422, "fake", None)
    assert error.errors == [
        ClerkAPIError(
            code="form_param_missing",
            message="name must be included",
            long_message="name must be included",
            meta={"param_name": "name"},
        )
    ]
    assert (error.code, error.first_message) == ("form_param_missing", "name must be included")
    assert str(error).endswith("/v1/organizations answered 422: name must be included")


async def test_a_wrong_secret_key_is_a_401(fake: FakeClerk) -> None:
    """clerk_key_invalid with Clerk's message; the wrong key itself appears nowhere in the error."""
    async with ClerkClient(secret_key="sk_test_wrong_key", api_url=fake.url) as client:
        with pytest.raises(ClerkAPIResponseError) as caught:
            await client.users.get_user_list()
    assert (caught.value.status, caught.value.code, caught.value.first_message) == (
        401,
        "clerk_key_invalid",
        MSG_INVALID_SECRET_KEY,
    )
    assert "sk_test_wrong_key" not in str(caught.value)


async def test_an_unknown_resource_is_a_404(fake: FakeClerk, client: ClerkClient) -> None:
    """resource_not_found, as a ClerkAPIResponseError."""
    with pytest.raises(ClerkAPIResponseError) as caught:
        await client.invitations.revoke_invitation("inv_missing")
    assert (caught.value.status, caught.value.code) == (404, "resource_not_found")


async def test_a_non_json_error_page_keeps_its_status_and_the_cf_ray_trace(
    fake: FakeClerk, client: ClerkClient
) -> None:
    """A proxy's HTML 502: no errors[], the CF-Ray header as clerk_trace_id (Clerk's getTraceId)."""
    fake.fail_with(400, headers={"CF-Ray": "8c1d-AMS"})
    fake.serve_garbage()
    with pytest.raises(ClerkAPIResponseError) as caught:
        await client.sessions.get_session("sess_1")
    assert (caught.value.status, caught.value.errors, caught.value.clerk_trace_id) == (400, [], "8c1d-AMS")
    assert caught.value.code is None
    assert caught.value.first_message is None


async def test_a_2xx_that_is_not_json_is_a_backend_api_error(fake: FakeClerk, client: ClerkClient) -> None:
    """Neither a Clerk error nor a transport failure: the base type, with the 200."""
    fake.serve_garbage()
    with pytest.raises(BackendAPIError, match="not JSON") as caught:
        await client.users.get_user("user_1")
    assert type(caught.value) is BackendAPIError
    assert caught.value.status == 200


async def test_a_2xx_json_of_the_wrong_shape_is_a_backend_api_error(fake: FakeClerk, client: ClerkClient) -> None:
    """A 200 object that is not a page (no data array) or not a count (no total_count)."""
    fake.fail_with(200, errors=[])
    with pytest.raises(BackendAPIError, match="without a data array") as page:
        await client.organizations.get_organization_list()
    with pytest.raises(BackendAPIError, match="without an integer total_count") as count:
        await client.users.get_count()
    assert type(page.value) is type(count.value) is BackendAPIError


async def test_a_slow_answer_is_a_transport_error(fake: FakeClerk) -> None:
    """An attempt longer than timeout_s (no retries) is a ClerkTransportError with no status."""
    fake.slow(2.0)
    async with ClerkClient(
        secret_key=fake.secret_key, api_url=fake.url, timeout_s=0.2, retry=RetryPolicy(max_retries=0)
    ) as client:
        with pytest.raises(ClerkTransportError, match=r"timed out after 0\.2s") as caught:
            await client.users.get_user("user_1")
    assert caught.value.status is None


@pytest.mark.parametrize("bad_id", ["", "..", "user_1/../../jwks", "user 1", "user_1?x=1", "ü"])
async def test_an_id_that_is_not_an_identifier_is_never_sent(fake: FakeClerk, client: ClerkClient, bad_id: str) -> None:
    """Ids go into paths; anything that could change the path is refused before a request."""
    with pytest.raises(BackendAPIError, match="not a Clerk identifier"):
        await client.users.ban_user(bad_id)
    with pytest.raises(BackendAPIError, match="not a Clerk identifier"):
        await client.organizations.delete_organization_membership(organization_id="org_1", user_id=bad_id)
    assert fake.received == []


async def test_a_closed_client_refuses_calls(fake: FakeClerk) -> None:
    """The sub-APIs share the client's lifecycle."""
    client = ClerkClient(secret_key=fake.secret_key, api_url=fake.url)
    with pytest.raises(BackendAPIError, match="unopened"):
        await client.users.get_user("user_1")
    async with client:
        pass
    with pytest.raises(BackendAPIError, match="closed"):
        await client.organizations.get_organization_list()


def test_results_are_frozen_and_keep_unknown_fields() -> None:
    """A field Clerk adds is kept in extra; a field it drops takes its default; nothing can be assigned."""
    user = User.from_json({"id": "user_1", "object": "user", "brand_new_field": {"x": 1}, "email_addresses": []})
    assert (user.id, user.extra, user.banned, user.email_addresses) == (
        "user_1",
        {"brand_new_field": {"x": 1}},
        False,
        (),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        user.id = "user_2"  # type: ignore[misc]
    org = Organization.from_json({"id": "org_1", "public_metadata": None})
    assert (org.public_metadata, org.name) == (None, "")


def test_a_resource_that_is_not_an_object_is_refused() -> None:
    """from_json of a list or a string is a malformed answer."""
    with pytest.raises(BackendAPIError, match="User that is not a JSON object"):
        User.from_json(["not", "a", "user"])


def test_error_entries_keep_the_well_formed_members_only() -> None:
    """An entry that is not an object is dropped; a body whose errors are not a list has none."""
    (entry,) = ClerkAPIError.parse_body({"errors": [clerk_error("x_code", "msg"), "not an entry"]})
    assert (entry.code, entry.message) == ("x_code", "msg")
    assert ClerkAPIError.parse_body({"errors": "not a list"}) == []
