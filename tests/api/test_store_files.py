"""The files of a store: list them (GET /{id}/files) and remove them (PATCH /{id})."""

import time

import pytest

from tests.conftest import assert_invalid

pytestmark = pytest.mark.django_db


@pytest.fixture
def attached(fake_openai, store):
    """Three files attached to `store`, oldest first."""
    files = [fake_openai.create_file(f"doc{n}.txt", b"content") for n in range(3)]
    for file in files:
        fake_openai.attach_file(store["id"], file["id"])
    return [file["id"] for file in files]


@pytest.fixture
def remove(api, url, store):
    def patch(body, store_id=None):
        return api.patch(url(f"/{store_id or store['id']}"), body, format="json")

    return patch


# --- list ------------------------------------------------------------------------


def test_list_files_returns_every_vector_store_file(api, url, store, attached, fake_openai):
    response = api.get(url(f"/{store['id']}/files"))
    assert response.status_code == 200
    files = response.json()
    assert sorted(f["id"] for f in files) == sorted(attached)
    assert files[0] == fake_openai.vector_store_files[(store["id"], files[0]["id"])]
    assert {f["object"] for f in files} == {"vector_store.file"}


def test_list_files_pages_with_a_link_and_passes_the_filter(api, url, store, attached, fake_openai):
    response = api.get(url(f"/{store['id']}/files", limit=2, order="asc", filter="completed"))
    assert [f["id"] for f in response.json()] == attached[:2]
    assert f"after={attached[1]}" in response["Link"]
    assert fake_openai.requests[-1].query == {"limit": "2", "order": "asc", "filter": "completed"}


def test_list_files_rejects_an_unknown_filter(api, url, store, fake_openai):
    response = api.get(url(f"/{store['id']}/files", filter="deleted"))
    assert response.status_code == 400
    assert "filter" in response.json()["errors"]


def test_list_files_of_an_unknown_store_is_404(api, url, fake_openai):
    assert api.get(url("/vs_missing/files")).status_code == 404


# --- remove --------------------------------------------------------------------------


def test_remove_detaches_the_files_and_keeps_the_file_objects(remove, store, attached, fake_openai):
    response = remove({"file_ids": attached[:2]})
    assert response.status_code == 200
    assert response.json() == [
        {"id": file_id, "object": "vector_store.file.deleted", "deleted": True} for file_id in attached[:2]
    ]
    assert [key[1] for key in fake_openai.vector_store_files if key[0] == store["id"]] == attached[2:]
    assert set(attached) <= set(fake_openai.files)


def test_remove_with_delete_files_also_deletes_the_openai_files(remove, attached, fake_openai):
    response = remove({"file_ids": attached, "delete_files": True})
    assert response.status_code == 200
    assert all(result["deleted"] and result["file_deleted"] for result in response.json())
    assert fake_openai.files == {}


def test_remove_runs_concurrently(remove, store, attached, fake_openai):
    fake_openai.delay("DELETE", r"/vector_stores/.*/files/.*", 0.5)
    assert remove({"file_ids": attached}).status_code == 200
    # All three detachments were at OpenAI at the same time (by the fake's record), not one after another.
    assert fake_openai.peak_overlap("DELETE", f"/vector_stores/{store['id']}/files/") == len(attached)


def test_partial_failure_reports_each_file_with_the_upstream_status(remove, attached, fake_openai):
    response = remove({"file_ids": [*attached[:2], "file-notattached"], "delete_files": True})
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "openai_not_found"
    assert body["detail"].startswith("1 of 3 files could not be removed")
    results = {result["id"]: result for result in body["files"]}
    assert results[attached[0]]["deleted"] and results[attached[0]]["file_deleted"]
    failed = results["file-notattached"]
    assert failed["deleted"] is False and failed["file_deleted"] is False
    assert failed["error"]["code"] == "openai_not_found"
    assert attached[0] not in fake_openai.files


def test_a_file_of_another_store_is_not_deleted_by_delete_files(remove, fake_openai, attached):
    other = fake_openai.create_vector_store(name="other")
    file = fake_openai.create_file("theirs.txt")
    fake_openai.attach_file(other["id"], file["id"])
    response = remove({"file_ids": [file["id"]], "delete_files": True})
    assert response.status_code == 404
    assert file["id"] in fake_openai.files
    assert (other["id"], file["id"]) in fake_openai.vector_store_files


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"file_ids": []},
        {"file_ids": "file-1"},
        {"file_ids": [1]},
        {"file_ids": ["file-1", "file-1"]},
        {"file_ids": ["../../files"]},
        {"file_ids": ["file-1"], "delete_files": "yes"},
        {"file_ids": ["file-1"], "extra": True},
    ],
)
def test_invalid_remove_bodies_are_400(remove, store, body, fake_openai):
    response = remove(body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert fake_openai.requests == []


# --- search ----------------------------------------------------------------------------


def test_search_returns_openais_results_page(api, url, fake_openai, upload_dir):
    store = fake_openai.create_vector_store(name="searchable")
    for name, text in [("cats.txt", b"Cats purr and sleep."), ("dogs.txt", b"Dogs bark.")]:
        fake_openai.attach_file(store["id"], fake_openai.create_file(name, text)["id"])
    body = {
        "query": "cats purr",
        "max_num_results": 5,
        "rewrite_query": False,
        "ranking_options": {"ranker": "auto", "score_threshold": 0.1},
    }
    response = api.post(url(f"/{store['id']}/search"), body, format="json")
    assert response.status_code == 200
    page = response.json()
    assert page["object"] == "vector_store.search_results.page"
    assert [result["filename"] for result in page["data"]] == ["cats.txt"]
    assert fake_openai.requests[-1].json == body


def test_search_filters_reach_openai_as_given(api, url, fake_openai):
    store = fake_openai.create_vector_store(name="filtered")
    filters = {
        "type": "or",
        "filters": [
            {"type": "eq", "key": "lang", "value": "en"},
            {"type": "and", "filters": [{"type": "in", "key": "year", "value": [2024, 2025]}]},
        ],
    }
    response = api.post(url(f"/{store['id']}/search"), {"query": ["a", "b"], "filters": filters}, format="json")
    assert response.status_code == 200
    assert fake_openai.requests[-1].json == {"query": ["a", "b"], "filters": filters}


def comparisons(count):
    return [{"type": "eq", "key": "k", "value": n} for n in range(count)]


def test_a_search_takes_up_to_a_hundred_filters_in_all(api, url, fake_openai):
    store = fake_openai.create_vector_store(name="filtered")
    filters = {"type": "or", "filters": [*comparisons(97), {"type": "and", "filters": comparisons(1)}]}  # 100
    response = api.post(url(f"/{store['id']}/search"), {"query": "q", "filters": filters}, format="json")
    assert response.status_code == 200, response.content

    filters["filters"][-1]["filters"] += comparisons(1)
    response = api.post(url(f"/{store['id']}/search"), {"query": "q", "filters": filters}, format="json")
    assert_invalid(response, "filters")
    assert response.json()["errors"]["filters"] == ["At most 100 filters in all, and/or filters included."]


def test_many_filters_are_refused_before_any_is_validated(api, url, fake_openai):
    filters = {"type": "and", "filters": [*comparisons(60_000), {"type": "not a filter type"}]}
    started = time.process_time()
    response = api.post(url("/vs_any/search"), {"query": "q", "filters": filters}, format="json")
    assert_invalid(response, "filters")
    assert response.json()["errors"]["filters"][0].startswith("At most 100 filters")
    assert time.process_time() - started < 1  # validating each took 9 s
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": "q", "filters": {"type": "in", "key": "k", "value": [1] * 400_000}}, "filters"),
        ({"query": ["q"] * 400_000}, "query"),
    ],
    ids=["values of a comparison", "queries"],
)
def test_long_lists_in_a_search_are_refused_before_the_sdk_walks_them(api, url, fake_openai, body, field):
    """The SDK walks every value before it sends a search: 400,000 took 8 s of CPU (to be answered 400)."""
    started = time.process_time()
    response = api.post(url("/vs_any/search"), body, format="json")
    assert_invalid(response, field)
    assert time.process_time() - started < 1
    assert fake_openai.requests == []


def test_a_search_takes_a_hundred_values_in_a_comparison_and_a_hundred_queries(api, url, fake_openai):
    store = fake_openai.create_vector_store(name="filtered")
    body = {"query": ["q"] * 100, "filters": {"type": "in", "key": "k", "value": list(range(100))}}
    assert api.post(url(f"/{store['id']}/search"), body, format="json").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"query": ""},
        {"query": []},
        {"query": 5},
        {"query": "q", "max_num_results": 0},
        {"query": "q", "max_num_results": 51},
        {"query": "q", "ranking_options": {"score_threshold": 2}},
        {"query": "q", "ranking_options": {"ranker": "best"}},
        {"query": "q", "filters": {"type": "eq"}},
        {"query": "q", "filters": {"type": "and", "filters": []}},
        {"query": "q", "rewrite_query": "true"},
        {"query": "q", "unknown": 1},
    ],
)
def test_invalid_search_bodies_are_400(api, url, body, fake_openai):
    response = api.post(url("/vs_any/search"), body, format="json")
    assert response.status_code == 400
    assert fake_openai.requests == []
