"""Organization sync matching: path-to-regexp v6 semantics as Clerk uses them (clerk-semantics §11)."""

from __future__ import annotations

import time

import pytest

from clerk_authd.rules.orgsync import OrganizationMatcher, OrgTarget, PathMatcher, PatternError

ORG = "organization"


@pytest.mark.parametrize(
    ("org_patterns", "personal_patterns", "path", "expected"),
    [
        (["/orgs/:id"], [], "/orgs/org_foo", OrgTarget(ORG, organization_id="org_foo")),
        (["/orgs/:id"], [], "/personal-account/my-resource", None),
        (
            ["/orgs/:id", "/orgs/:id/", "/orgs/:id/(.*)"],
            [],
            "/orgs/org_foo/",
            OrgTarget(ORG, organization_id="org_foo"),
        ),
        (["/orgs/:id/(.*)"], [], "/orgs/org_foo/a/b/c", OrgTarget(ORG, organization_id="org_foo")),
        (
            ["/unknown-thing/:any/orgs/:id"],
            [],
            "/unknown-thing/thing/orgs/org_foo",
            OrgTarget(ORG, organization_id="org_foo"),
        ),
        (["/orgs/:slug"], [], "/orgs/my-org", OrgTarget(ORG, organization_slug="my-org")),
        ([], ["/personal-account"], "/personal-account", OrgTarget("personal_account")),
        (["/orgs/:id", "/orgs/:slug"], [], "/orgs/my-org", OrgTarget(ORG, organization_id="my-org")),
        (["/orgs/:slug"], ["/", "/(.*)"], "/orgs/my-org", OrgTarget(ORG, organization_slug="my-org")),
        ([], ["/user/:any", "/user/:any/(.*)"], "/user/123/home", OrgTarget("personal_account")),
    ],
)
def test_clerks_pinned_matcher_cases(
    org_patterns: list[str], personal_patterns: list[str], path: str, expected: OrgTarget | None
) -> None:
    """Every row of §11's matcher table picks the same target as Clerk."""
    assert OrganizationMatcher(org_patterns, personal_patterns).find_target(path) == expected


def test_an_invalid_pattern_is_refused_when_compiled() -> None:
    """A pattern path-to-regexp v6 rejects raises ``Invalid pattern``, naming the patterns."""
    with pytest.raises(PatternError, match=r'Invalid pattern "/orgs/:id/\*\*\*"'):
        OrganizationMatcher(["/orgs/:id/***"])


@pytest.mark.parametrize("pattern", ["/orgs/:", "/orgs/(", "/orgs/((a))", "/orgs/(?x)", "/orgs/{:id", "/orgs/()"])
def test_other_malformed_patterns_are_refused(pattern: str) -> None:
    """Missing names, unbalanced or capturing groups and empty groups are compile errors, as in v6."""
    with pytest.raises(PatternError):
        PathMatcher([pattern])


def test_matching_is_case_insensitive_and_the_trailing_delimiter_optional() -> None:
    """v6 defaults: ``sensitive: false``, ``strict: false``."""
    matcher = PathMatcher(["/Orgs/:slug"])
    assert matcher.match("/orgs/acme") == {"slug": "acme"}
    assert matcher.match("/orgs/acme/") == {"slug": "acme"}
    assert matcher.match("/orgs/acme/x") is None


def test_parameter_values_are_not_url_decoded() -> None:
    """Clerk passes no decoder, so ``%20`` stays as it is."""
    assert PathMatcher(["/orgs/:slug"]).match("/orgs/a%20b") == {"slug": "a%20b"}


def test_a_parameter_stops_at_delimiters() -> None:
    """``:name`` matches ``[^/#?]+?``."""
    assert PathMatcher(["/orgs/:slug"]).match("/orgs/a#b") is None


def test_optional_and_repeated_parameters_follow_v6() -> None:
    """``?`` makes a prefixed parameter optional; ``*`` repeats it with its prefix."""
    assert PathMatcher(["/orgs/:slug?"]).match("/orgs") == {}
    assert PathMatcher(["/files/:path*"]).match("/files/a/b/c") == {"path": "a/b/c"}


def test_no_patterns_means_no_target() -> None:
    """An empty configuration never matches."""
    matcher = OrganizationMatcher()
    assert matcher.find_target("/orgs/x") is None
    assert matcher.find_target("/") is None


def test_the_handshake_value_is_the_id_the_slug_or_empty() -> None:
    """``organization_id`` carries the id, else the slug, and is empty for the personal account."""
    assert OrgTarget(ORG, organization_id="org_1").query_value == "org_1"
    assert OrgTarget(ORG, organization_slug="acme").query_value == "acme"
    assert OrgTarget("personal_account").query_value == ""


@pytest.mark.parametrize(
    "path",
    [
        "/o/" + "-" * 6400 + "/x/y",
        "/o/" + "a-" * 3200 + "/x",
        "/o/" + "a-" * 3200 + "b" * 100 + "/" + "c-" * 1000 + "/",
    ],
    ids=["dashes", "pairs", "segments"],
)
def test_two_parameters_in_one_segment_match_in_linear_time(path: str) -> None:
    """Finding 6: ``/o/:id-:rest`` on a hostile 6.4 KB path backtracked for ~200 ms (1.2 s for the first
    path under Python's ``re``); RE2 answers each in well under the budget, and still matches v6's way."""
    matcher = OrganizationMatcher(["/o/:id-:rest", "/o/:id-:rest/(.*)"])
    started = time.perf_counter()
    for _ in range(10):
        matcher.find_target(path)
    assert (time.perf_counter() - started) / 10 < 0.02
    assert PathMatcher(["/o/:id-:rest"]).match("/O/a-b-c") == {"id": "a", "rest": "b-c"}


def test_a_pattern_that_cannot_run_in_linear_time_is_refused_at_start_up() -> None:
    """Lookaround in a custom parameter pattern has no bounded-time matcher: refused like a v6 compile error."""
    with pytest.raises(PatternError, match="invalid perl operator"):
        PathMatcher([r"/o/(\d+(?=x))"])
