"""The tenant quota counts alike in one process (memory://) and in Redis (shared by
replicas): the same hits get the same answers."""

from __future__ import annotations

import uuid

import pytest

from cloud.rate_limits import WINDOW_SECONDS, TenantRateLimiter


@pytest.mark.parametrize("uri", ["memory://", "redis://127.0.0.1:6379/0"])
def test_a_window_admits_up_to_the_quota_and_says_when_it_ends(uri: str) -> None:
    limiter = TenantRateLimiter(uri)
    tenant, other = f"t-{uuid.uuid4().hex}", f"t-{uuid.uuid4().hex}"
    per_s = 10  # 100 points a 10-second window
    assert limiter.admit(tenant, 60, per_s) is None
    assert limiter.admit(tenant, 40, per_s) is None  # exactly the quota
    wait = limiter.admit(tenant, 1, per_s)
    assert wait is not None and 1 <= wait <= WINDOW_SECONDS
    # A refused hit still counts (as limits counts it in Redis): retrying does not help.
    assert limiter.admit(tenant, 1, per_s) is not None
    assert limiter.admit(other, 100, per_s) is None  # tenants never share a window
    # A new plan's rate starts its own count (limits keys a window by its limit).
    assert limiter.admit(other, 150, per_s * 2) is None
    assert limiter.admit(other, 51, per_s * 2) is not None  # 201 > 200


def test_a_window_ends_and_the_next_starts_empty(monkeypatch) -> None:
    clock = [1_000.0]
    monkeypatch.setattr("cloud.rate_limits.time.time", lambda: clock[0])
    limiter = TenantRateLimiter("memory://")
    assert limiter.admit("t", 100, 10) is None
    assert limiter.admit("t", 1, 10) == WINDOW_SECONDS
    clock[0] += WINDOW_SECONDS - 0.5
    assert limiter.admit("t", 1, 10) == 1.0  # half a second left: at least 1 s
    clock[0] += 0.5
    assert limiter.admit("t", 100, 10) is None
