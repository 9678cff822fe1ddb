"""The access policy in-process: token order, the per-token cache and its invalidation."""

from __future__ import annotations

import pytest
from mlops_server.access import AccessPolicy, InvalidToken, Membership, access_level
from mlops_server.errors import Unauthorized
from starlette.requests import Request


class CountingLookup:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def memberships(self, token: str) -> Membership:
        self.calls.append(token)
        if token == "bad":
            raise InvalidToken
        return Membership(roles={1: 30} if token == "dev" else {})


def request(query: str = "", **headers: str) -> Request:
    raw = [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "query_string": query.encode(), "headers": raw})


def test_tokens_are_looked_up_once_per_ttl_and_again_after_invalidation() -> None:
    # Given
    lookup = CountingLookup()
    policy = AccessPolicy(lookup, allow_public=True, ttl=60)
    # When the same token comes three times, by header, bearer and query
    callers = [
        policy.caller(request(X_Gitlab_Token="dev")),
        policy.caller(request(Authorization="Bearer dev")),
        policy.caller(request("gitlab_token=dev")),
    ]
    # Then GitLab was asked once, and each caller is the developer
    assert lookup.calls == ["dev"]
    assert [c.via for c in callers] == ["header", "bearer", "query"]
    assert all(access_level(c, 1, "private") == 3 for c in callers)
    assert "dev" not in repr(callers[0])
    # When a membership event drops the cache
    policy.invalidate()
    policy.caller(request(X_Gitlab_Token="dev"))
    # Then GitLab is asked again
    assert lookup.calls == ["dev", "dev"]


def test_expired_entries_are_refetched() -> None:
    lookup = CountingLookup()
    policy = AccessPolicy(lookup, ttl=0)
    policy.caller(request(X_Gitlab_Token="dev"))
    policy.caller(request(X_Gitlab_Token="dev"))
    assert lookup.calls == ["dev", "dev"]


def test_query_token_comes_first_then_default_then_public_then_401() -> None:
    lookup = CountingLookup()
    both = AccessPolicy(lookup, allow_public=False).caller(
        request("gitlab_token=dev", X_Gitlab_Token="other")
    )
    assert both.via == "query"
    defaulted = AccessPolicy(lookup, allow_public=True, default_token="dev").caller(request())
    assert defaulted.via == "default"
    assert defaulted.roles == {1: 30}
    assert AccessPolicy(lookup, allow_public=True).caller(request()).anonymous
    with pytest.raises(Unauthorized):
        AccessPolicy(lookup, allow_public=False).caller(request())
    with pytest.raises(Unauthorized):
        AccessPolicy(lookup).caller(request(X_Gitlab_Token="bad"))


def test_without_a_lookup_everyone_is_anonymous_in_public_mode() -> None:
    caller = AccessPolicy(None).caller(request(X_Gitlab_Token="anything"))
    assert caller.anonymous
    assert access_level(caller, 1, "public") == 2
    assert access_level(caller, 1, "internal") == 0
