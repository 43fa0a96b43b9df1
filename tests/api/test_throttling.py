"""One caller cannot exhaust a shared credential's quota: DRF throttles per user, with Retry-After."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

from tests.conftest import client_for, text_file
from tests.hosts import redis_server
from vectorstores.api.throttling import UserRateThrottle
from vectorstores.api.views import VectorStoreViewSet

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


def upload(api, url, fake, store, files):
    body = {"files": [text_file(f"f{n}.txt") for n in range(files)]}
    return api.post(url(f"/{store}"), body, format="multipart")


def removal(api, url, fake, store, files):
    file_ids = [fake.create_file(f"f{n}.txt", b"text")["id"] for n in range(files)]
    for file_id in file_ids:
        fake.attach_file(store, file_id)
    return api.patch(url(f"/{store}"), {"file_ids": file_ids}, format="json")


# A call that makes one OpenAI call per file, and that call (method, path prefix).
FAN_OUT = {"upload": (upload, ("POST", "/files")), "removal": (removal, ("DELETE", "/vector_stores/"))}


@pytest.mark.usefixtures("three_per_minute", "upload_dir")
@pytest.mark.parametrize("fan_out", FAN_OUT.values(), ids=FAN_OUT.keys())
def test_a_call_that_makes_an_openai_call_per_file_counts_once_per_file(api, url, store, fan_out, fake_openai):
    call, upstream = fan_out
    assert call(api, url, fake_openai, store["id"], 2).status_code == 200
    assert len(fake_openai.requests_to(*upstream)) == 2
    assert api.get(url()).status_code == 200  # 2 + 1: the rate is spent
    assert api.get(url()).status_code == 429


@pytest.mark.usefixtures("three_per_minute")
@pytest.mark.parametrize("fan_out", FAN_OUT.values(), ids=FAN_OUT.keys())
def test_a_call_for_more_files_than_the_rate_is_refused_before_it_goes_upstream(
    api, url, store, fan_out, fake_openai, upload_dir
):
    call, upstream = fan_out
    response = call(api, url, fake_openai, store["id"], 4)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert fake_openai.requests_to(*upstream) == []
    assert list(upload_dir.iterdir()) == []
    assert [api.get(url()).status_code for _ in range(3)] == [200, 200, 429]  # its files were not counted


class DailyThrottle(UserRateThrottle):
    scope = "daily"


def test_a_call_one_throttle_refuses_for_its_files_is_counted_once_by_the_others(
    api, url, user, store, fake_openai, upload_dir, monkeypatch
):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "daily": "100/day"})
    monkeypatch.setattr(VectorStoreViewSet, "throttle_classes", [UserRateThrottle, DailyThrottle])
    cache.clear()
    assert upload(api, url, fake_openai, store["id"], 4).status_code == 429  # the minute's rate refuses it
    daily_count = f"throttle_daily_{user.pk}:count"  # DRF's cache key of the daily throttle, and its count
    assert cache.get(daily_count) == 1
    cache.clear()


@pytest.fixture(params=["stores", "a store's files", "a batch's files", "a file's content"])
def unpaged_read(request, url, store, fake_openai):
    """An unpaged read of three upstream pages: (its path, the upstream path of its pages)."""
    if request.param == "stores":
        for n in range(249):  # and `store`
            fake_openai.create_vector_store(name=f"s{n}")
        return url(), "/vector_stores"
    if request.param == "a store's files":
        for n in range(250):
            fake_openai.attach_file(store["id"], fake_openai.create_file(f"f{n}.txt", b"text")["id"])
        return url(f"/{store['id']}/files"), f"/vector_stores/{store['id']}/files"
    if request.param == "a batch's files":
        file_ids = [fake_openai.create_file(f"f{n}.txt", b"text")["id"] for n in range(250)]
        with fake_openai.lock:
            batch = fake_openai.create_batch(store["id"], [(file_id, None, None) for file_id in file_ids])
        path = f"/{store['id']}/file_batches/{batch['id']}/files"
        return url(path), f"/vector_stores{path}"
    file_id = fake_openai.create_file("long.txt", b"x" * 25)["id"]
    fake_openai.attach_file(store["id"], file_id)
    fake_openai.content_page_chars = 10
    return url(f"/{store['id']}/files/{file_id}/content"), f"/vector_stores/{store['id']}/files/{file_id}/content"


def upstream_pages(fake, path):
    return [request for request in fake.requests if request.method == "GET" and request.path == path]


def test_an_unpaged_read_counts_once_per_upstream_page(api, url, unpaged_read, fake_openai, throttle_rates):
    throttle_rates("5/minute")
    path, upstream = unpaged_read

    assert api.get(path).status_code == 200
    assert len(upstream_pages(fake_openai, upstream)) == 3

    assert [api.get(url(limit=1)).status_code for _ in range(3)] == [200, 200, 429]  # 3 + 2 = 5


def test_an_unpaged_read_past_the_rate_stops_reading(api, unpaged_read, fake_openai, throttle_rates):
    throttle_rates("2/minute")
    path, upstream = unpaged_read

    response = api.get(path)

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60
    assert len(upstream_pages(fake_openai, upstream)) == 2  # the third page, past the rate, was never asked for


@pytest.fixture(params=["no token", "a wrong token", "OpenAI-compatible, no token"])
def refused_call(request, url, credential, store):
    """A call the API refuses with 401, in one of the ways a caller can fail to sign in, and how to read
    the error code of its answer."""
    client = client_for(None)
    if request.param == "a wrong token":
        client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    if request.param.startswith("OpenAI-compatible"):
        path = f"/api/openai/{credential.pk}/v1/vector_stores/{store['id']}"
        return lambda: client.get(path), lambda body: body["error"]["code"]
    return lambda: client.get(url()), lambda body: body["code"]


@pytest.mark.usefixtures("three_per_minute")
def test_refused_callers_are_throttled_per_ip(refused_call, api, url, fake_openai):
    call, error_code = refused_call
    assert [call().status_code for _ in range(3)] == [401, 401, 401]
    response = call()
    assert response.status_code == 429
    assert error_code(response.json()) == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60
    assert api.get(url()).status_code == 200  # a signed-in user at the same IP keeps their own allowance


@pytest.mark.usefixtures("three_per_minute")
def test_a_forged_x_forwarded_for_does_not_make_a_new_anonymous_caller(url, fake_openai):
    client = client_for(None)
    statuses = [client.get(url(), HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]


@pytest.mark.usefixtures("three_per_minute")
def test_behind_a_proxy_callers_are_counted_by_the_address_it_saw(url, settings, fake_openai):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = client_for(None)
    forged = [client.get(url(), HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 192.0.2.1").status_code for n in range(4)]
    assert forged == [401, 401, 401, 429]
    assert client.get(url(), HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 401  # another caller


@pytest.mark.usefixtures("three_per_minute", "cache_down")
def test_when_the_cache_is_down_no_call_goes_uncounted(api, url, refused_call, fake_openai, caplog):
    """The throttles count in the cache: without it every call is refused with 503 (never let through
    unmetered), signed in or not, in the API's error shape on either surface."""
    response = api.get(url())
    assert response.status_code == 503
    assert response.json()["code"] == "throttle_unavailable"
    call, error_code = refused_call
    response = call()
    assert response.status_code == 503
    assert error_code(response.json()) == "throttle_unavailable"
    assert fake_openai.requests == []
    assert "the cache failed" in caplog.text


class TenPerHour(UserRateThrottle):
    rate = "10/hour"


def ten_per_hour(cache):
    throttle = TenPerHour()
    throttle.cache = cache
    return throttle


@pytest.fixture
def user_request(user, rf):
    request = rf.get("/")
    request.user = user
    return request


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_cache(redis_url):
    cache = RedisCache(redis_url, {})
    yield cache
    cache.clear()
    cache.close()


@pytest.fixture(params=["local memory", pytest.param("Redis", marks=pytest.mark.subprocess)])
def throttle_cache(request):
    """What the throttles count in: Django's local-memory cache (one process) or a real Redis (several)."""
    if request.param == "Redis":
        yield request.getfixturevalue("redis_cache")
        return
    cache = LocMemCache("throttle-tests", {})
    yield cache
    cache.clear()


def test_requests_that_arrive_together_never_pass_the_rate(user_request, throttle_cache):
    """Each request is one atomic increment: 40 threads at once, 10 pass (DRF's read-then-write throttle
    lets requests that read the same history all pass)."""
    start = threading.Barrier(40)

    def attempt(_):
        throttle = ten_per_hour(throttle_cache)
        start.wait()
        return throttle.allow_request(user_request, view=None), throttle

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(attempt, range(40)))

    assert sum(allowed for allowed, _ in results) == 10
    assert all(0 < throttle.wait() <= 3600 for allowed, throttle in results if not allowed)


def test_a_charge_adds_to_the_count_of_the_request_it_follows(user_request, throttle_cache):
    throttle = ten_per_hour(throttle_cache)
    assert throttle.allow_request(user_request, view=None)
    assert throttle.charge(5)  # 6 of 10
    assert not throttle.charge(5)  # 11: refused, and taken back
    assert 0 < throttle.wait() <= 3600
    assert throttle.charge(4)  # 10
    assert not ten_per_hour(throttle_cache).allow_request(user_request, view=None)


@pytest.mark.subprocess
def test_in_an_open_window_a_request_is_one_increment(user_request, redis_cache, redis_url):
    """Redis's own count of what it ran: once the window is open, a request only increments its count
    (Django's RedisCache.incr checks that the key exists first)."""
    server = redis.Redis.from_url(redis_url)
    assert ten_per_hour(redis_cache).allow_request(user_request, view=None)  # opens the window
    server.config_resetstat()

    for _ in range(3):
        assert ten_per_hour(redis_cache).allow_request(user_request, view=None)

    commands = {name: stats["calls"] for name, stats in server.info("commandstats").items()}
    assert {name: calls for name, calls in commands.items() if name not in ADMINISTRATION} == {
        "cmdstat_exists": 3,
        "cmdstat_incrby": 3,
    }


ADMINISTRATION = {"cmdstat_config|resetstat", "cmdstat_info"}


@pytest.mark.subprocess
def test_a_count_that_lost_its_expiry_gets_the_windows(user_request, redis_cache, redis_url):
    """Redis's INCR of a count that expired just after Django checked that it exists makes a new count of 1
    with no expiry, whose window would never end: the request that reads 1 gives it the window's."""
    throttle = ten_per_hour(redis_cache)
    key = throttle.get_cache_key(user_request, view=None)
    redis_cache.set(f"{key}:count", 0, timeout=None)  # such a count, before its increment
    server = redis.Redis.from_url(redis_url)
    assert server.ttl(redis_cache.make_and_validate_key(f"{key}:count")) == -1  # no expiry

    assert throttle.allow_request(user_request, view=None)

    assert 3590 < server.ttl(redis_cache.make_and_validate_key(f"{key}:count")) <= 3600
    assert redis_cache.get(f"{key}:start") == throttle.now  # and the window its start
