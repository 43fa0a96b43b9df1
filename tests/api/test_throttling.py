"""One caller cannot exhaust a shared credential's quota: DRF throttles per user, with Retry-After."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import client_for
from vectorstores.api.throttling import UserRateThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_per_minute(throttle_rates):
    throttle_rates("3/minute")


@pytest.mark.usefixtures("three_per_minute")
def test_a_user_over_the_rate_gets_429_with_retry_after(api, url, fake_openai):
    assert [api.get(url()).status_code for _ in range(3)] == [200, 200, 200]
    response = api.get(url())
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60
    assert len(fake_openai.requests) == 3  # the throttled call never reached OpenAI


@pytest.mark.usefixtures("three_per_minute")
def test_each_user_has_their_own_allowance(api, url, credential, other_user, fake_openai):
    credential.users.add(other_user)
    for _ in range(3):
        api.get(url())
    assert api.get(url()).status_code == 429
    assert client_for(other_user).get(url()).status_code == 200


@pytest.mark.usefixtures("throttle_rates")  # which empties the cache afterwards
def test_requests_that_arrive_together_never_pass_the_rate(user, rf):
    """Each request is one atomic increment: 40 threads at once, 10 pass (DRF's read-then-write throttle
    lets requests that read the same history all pass)."""
    request = rf.get("/")
    request.user = user

    class TenPerHour(UserRateThrottle):
        rate = "10/hour"

    start = threading.Barrier(40)

    def attempt(_):
        throttle = TenPerHour()
        start.wait()
        return throttle.allow_request(request, view=None), throttle

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(attempt, range(40)))

    assert sum(allowed for allowed, _ in results) == 10
    assert all(0 < throttle.wait() <= 3600 for allowed, throttle in results if not allowed)
