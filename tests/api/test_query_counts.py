"""SQL queries per API call: the token (with its user), the credential, and the audit INSERT; nothing else.

Once the credential's OpenAI client is cached and its `last_used_at` is fresh (written at most once
a minute), every endpoint costs at most three queries, whatever it asks of OpenAI. The benchmark
(`make bench`, figure 7) reports the same count from a live request; see docs/performance.md.
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credentials.models import Credential
from tests.conftest import text_file

pytestmark = pytest.mark.django_db

CACHED_CALL_QUERIES = 3  # SELECT token + user, SELECT credential, INSERT audit entry
TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)
SUBQUERY = re.compile(r"\([^()]*\)")


def tables(captured):
    """(statement, table) of each captured query, e.g. ("SELECT", "authtoken_token"): its own table, not
    one of its subqueries'."""
    return [(query["sql"].split()[0].upper(), TABLE.search(outer(query["sql"])).group(1)) for query in captured]


def outer(sql):
    while SUBQUERY.search(sql):
        sql = SUBQUERY.sub("", sql)
    return sql


@pytest.fixture
def warm(api, url, store, credential):
    """One call first: it builds the credential's OpenAI client and writes last_used_at."""
    assert api.get(url(f"/{store['id']}")).status_code == 200
    credential.refresh_from_db()
    assert credential.last_used_at is not None


def attached_file(fake_openai, store):
    file = fake_openai.create_file("attached.txt", b"some text")
    fake_openai.attach_file(store["id"], file["id"])
    return file["id"]


# Each endpoint: (name, call(api, url, store_id, fake_openai, store) -> response).
ENDPOINTS = [
    ("list (all pages)", lambda api, url, sid, fake, store: api.get(url())),
    ("list (one page)", lambda api, url, sid, fake, store: api.get(url(limit=5))),
    ("create", lambda api, url, sid, fake, store: api.post(url(), {"name": "new"}, format="json")),
    ("retrieve", lambda api, url, sid, fake, store: api.get(url(f"/{sid}"))),
    ("update", lambda api, url, sid, fake, store: api.put(url(f"/{sid}"), {"name": "renamed"}, format="json")),
    ("delete", lambda api, url, sid, fake, store: api.delete(url(f"/{sid}"))),
    (
        "upload files",
        lambda api, url, sid, fake, store: api.post(
            url(f"/{sid}"),
            {"files": [text_file("a.txt", b"alpha"), text_file("b.md", b"# beta", "text/markdown")]},
            format="multipart",
        ),
    ),
    (
        "remove files",
        lambda api, url, sid, fake, store: api.patch(
            url(f"/{sid}"), {"file_ids": [attached_file(fake, store)], "delete_files": True}, format="json"
        ),
    ),
    ("list store files", lambda api, url, sid, fake, store: api.get(url(f"/{sid}/files"))),
    ("search", lambda api, url, sid, fake, store: api.post(url(f"/{sid}/search"), {"query": "text"}, format="json")),
]


# Queries of the site's records (vectorstores.ownership) an endpoint makes on top: the new store's record;
# whether deleted Files have records to forget (uploaded with POST /files, or attached to recorded stores);
# an upload records each of its two Files as the uploader's, once it has checked that no record holds its id.
RECORD_WRITES = {"create": 1, "remove files": 2, "upload files": 4}


@pytest.mark.parametrize("name, call", ENDPOINTS, ids=[name for name, _ in ENDPOINTS])
def test_each_endpoint_costs_at_most_three_queries_with_a_cached_client(api, url, store, fake_openai, warm, name, call):
    with CaptureQueriesContext(connection) as captured:
        response = call(api, url, store["id"], fake_openai, store)
    assert response.status_code == 200, response.content
    # A savepoint (the record's INSERT may conflict) is a statement only inside the test's transaction.
    queries = [query["sql"] for query in captured if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    assert len(queries) <= CACHED_CALL_QUERIES + RECORD_WRITES.get(name, 0), queries


def test_a_cached_client_get_makes_exactly_the_token_credential_and_audit_queries(
    api, url, store, warm, django_assert_num_queries
):
    with django_assert_num_queries(CACHED_CALL_QUERIES) as captured:
        assert api.get(url(f"/{store['id']}")).status_code == 200
    assert tables(captured) == [
        ("SELECT", "authtoken_token"),
        ("SELECT", "credentials_credential"),
        ("INSERT", "vectorstores_auditentry"),
    ]


def test_the_first_use_within_a_minute_adds_one_update_of_last_used_at(
    api, url, store, credential, django_assert_num_queries
):
    Credential.objects.filter(pk=credential.pk).update(last_used_at=None)
    with django_assert_num_queries(CACHED_CALL_QUERIES + 1) as captured:
        assert api.get(url(f"/{store['id']}")).status_code == 200
    assert ("UPDATE", "credentials_credential") in tables(captured)
    with django_assert_num_queries(CACHED_CALL_QUERIES):  # and the next call within the minute does not
        assert api.get(url(f"/{store['id']}")).status_code == 200


def test_a_stale_last_used_at_is_written_again(api, url, store, credential, django_assert_num_queries):
    Credential.objects.filter(pk=credential.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    with django_assert_num_queries(CACHED_CALL_QUERIES + 1):
        assert api.get(url(f"/{store['id']}")).status_code == 200


def test_refusals_cost_no_more(api, url, store, warm, django_assert_max_num_queries):
    with django_assert_max_num_queries(CACHED_CALL_QUERIES):  # someone else's (or no such) credential
        assert api.get(url(f"/{store['id']}", credential_id="00000000-0000-4000-8000-000000000000")).status_code == 404
    with django_assert_max_num_queries(CACHED_CALL_QUERIES):  # a body refused before anything reaches OpenAI
        assert api.post(url(), {"name": 5}, format="json").status_code == 400
    with django_assert_max_num_queries(CACHED_CALL_QUERIES):  # OpenAI's own 404
        assert api.get(url("/vs_missing")).status_code == 404
