"""One caller cannot exhaust a shared credential's quota: DRF throttles per user, with Retry-After."""

import pytest

from tests.conftest import client_for

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
