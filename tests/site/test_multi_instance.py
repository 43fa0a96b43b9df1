"""Two instances of the site on one database and one Redis, as behind a load balancer: what one counts, the
other sees. Both run as `make serve` runs the site (granian, DEBUG=0), each a process of its own, with a
real `redis-server` on loopback and the fake OpenAI behind them; all of it stops at the end."""

import contextlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest

from tests.conftest import API_ROOT, TEST_API_KEY, free_port
from tests.hosts import manage, production_env, redis_server, serving
from vectorstores.testing import FakeOpenAI

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

THROTTLE_RATE = 10  # per user and day: no window ends during a test


@contextlib.contextmanager
def two_instances(tmp_path, **settings):
    """Two instances of the site on one database (`urls`), their environment (`env`) and the fake OpenAI
    (`fake`) they call; `settings`: more of their environment."""
    with FakeOpenAI(api_keys={TEST_API_KEY}) as fake:
        ports = [free_port(), free_port()]
        env = production_env(
            tmp_path,
            API_THROTTLE_USER=f"{THROTTLE_RATE}/day",
            SECURE_SSL_REDIRECT="0",
            WEB_CONCURRENCY="1",
            SERVER_THREADS="8",
            **settings,
        )
        assert manage("migrate", "--noinput", env=env).returncode == 0
        with contextlib.ExitStack() as servers:
            urls = [
                servers.enter_context(serving(["-m", "config.serve"], {**env, "BIND": f"127.0.0.1:{port}"}, port))
                for port in ports
            ]
            yield type("Site", (), {"urls": urls, "env": env, "fake": fake})


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Two instances that share one Redis, as the README says to run them."""
    tmp_path = tmp_path_factory.mktemp("two-instances")
    with redis_server(tmp_path) as redis_url, two_instances(tmp_path, REDIS_URL=redis_url) as instances:
        yield instances


@pytest.fixture(scope="module")
def site_without_redis(tmp_path_factory):
    """Two instances without REDIS_URL: each keeps its cache (the uploads' claims) in its own memory."""
    with two_instances(tmp_path_factory.mktemp("two-instances-alone")) as instances:
        yield instances


def new_caller(site, username):
    """A user of a shared credential for the fake, made in the instances' database: (token, credential id)."""
    script = f"""
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from credentials.models import Credential
user = get_user_model().objects.create_user({username!r})
credential = Credential.objects.create(
    name={username!r}, api_key={TEST_API_KEY!r}, base_url={site.fake.base_url!r}, access_mode="shared"
)
credential.users.add(user)
print(json.dumps({{"token": Token.objects.create(user=user).key, "credential": str(credential.pk)}}))
"""
    result = manage("shell", "-c", script, env=site.env)
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout.strip().splitlines()[-1])
    return made["token"], made["credential"]


def client(url, token):
    return httpx2.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=60)


def test_a_users_throttle_holds_across_both_instances(site):
    token, credential = new_caller(site, "thrifty")
    clients = [client(url, token) for url in site.urls]

    def list_stores(n):
        return clients[n % 2].get(f"{API_ROOT}?credential={credential}")

    with ThreadPoolExecutor(max_workers=16) as pool:  # all at once, half on each instance
        answers = list(pool.map(list_stores, range(16)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * THROTTLE_RATE + [429] * (16 - THROTTLE_RATE)
    refused = [answer for answer in answers if answer.status_code == 429]
    assert all(0 < int(answer.headers["Retry-After"]) <= 86400 for answer in refused)
    assert {n % 2 for n, answer in enumerate(answers) if answer.status_code == 200} == {0, 1}  # both served


@pytest.mark.parametrize("instances", ["site", "site_without_redis"])
def test_an_upload_whose_answer_was_lost_never_takes_the_file_another_instance_owns(request, instances):
    """B's upload reaches OpenAI but its answer is lost, so B looks for its File by name and size, to delete
    it. A, on the other instance, has just uploaded an identical file and is still attaching it: B must
    take its own File, not A's. With Redis, A's claim on its File says so; without it, A's record of its File
    (written as soon as OpenAI answered A) does."""
    site = request.getfixturevalue(instances)
    token, credential = new_caller(site, "twin")
    fake = site.fake
    fake.reset()
    store_a, store_b = fake.create_vector_store(name="A")["id"], fake.create_vector_store(name="B")["id"]
    fake.drop("POST", "/files", after_processing=True)  # the first upload, B's: made, its answer lost
    fake.delay("GET", "/files", 3.0)  # B's look at the recent Files waits, while A uploads
    fake.delay("POST", f"/vector_stores/{store_a}/file_batches", 4.0)  # A still owns its File meanwhile
    twin = ("twin.txt", b"the very same bytes", "text/plain")
    answers = {}

    def upload(name, url, store_id):
        with client(url, token) as http:
            answers[name] = http.post(f"{API_ROOT}/{store_id}?credential={credential}", files={"files": twin})

    b = threading.Thread(target=upload, args=("B", site.urls[1], store_b))
    b.start()
    deadline = time.monotonic() + 20
    while not fake.requests_to("GET", "/files"):  # B is looking for its File
        assert time.monotonic() < deadline, "B never looked for its lost upload"
        time.sleep(0.05)
    upload("A", site.urls[0], store_a)
    b.join(timeout=60)

    assert answers["A"].status_code == 200, answers["A"].text
    [a_file] = answers["A"].json()
    assert a_file["id"] in fake.files  # B's cleanup left A's File alone
    assert (store_a, a_file["id"]) in fake.vector_store_files
    assert answers["B"].status_code == 502
    assert [f["filename"] for f in fake.files.values()] == ["twin.txt"]  # B's own File was found and deleted


def test_a_users_long_calls_are_capped_across_both_instances(site):
    """Four uploads wait for their batches, two on each instance: the user's fifth long call, on either, is
    refused at once (MAX_LONG_CALLS_PER_USER, 4 by default), and once they have ended the next goes through."""
    token, credential = new_caller(site, "patient")
    fake = site.fake
    fake.reset()
    store = fake.create_vector_store(name="Slow")["id"]
    fake.delay("POST", f"/vector_stores/{store}/file_batches", 4.0)  # each upload waits for its batch meanwhile
    clients = [client(url, token) for url in site.urls]

    def upload(n):
        return clients[n % 2].post(
            f"{API_ROOT}/{store}?credential={credential}", files={"files": (f"f{n}.txt", b"text", "text/plain")}
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        running = [pool.submit(upload, n) for n in range(4)]
        deadline = time.monotonic() + 20
        while len(fake.requests_to("POST", f"/vector_stores/{store}/file_batches")) < 4:
            assert time.monotonic() < deadline, "the four uploads never all reached their batches"
            time.sleep(0.05)
        refused = [upload(4), upload(5)]  # one on each instance
        waited = [future.result() for future in running]

    assert [answer.status_code for answer in refused] == [429, 429]
    assert {answer.json()["code"] for answer in refused} == {"too_many_long_calls"}
    assert [answer.status_code for answer in waited] == [200] * 4
    assert len(fake.requests_to("POST", "/files")) == 4  # the refused calls sent nothing
    assert upload(6).status_code == 200  # the four gave their slots back
