"""List, get, create, update and delete vector stores: what the caller gets and what OpenAI receives."""

import json

import pytest

from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def stores(fake_openai):
    """Five stores, oldest first."""
    return [fake_openai.create_vector_store(name=f"store {n}") for n in range(5)]


# --- list ----------------------------------------------------------------------


def test_list_without_paging_returns_every_store_following_upstream_pages(api, url, fake_openai):
    created = [fake_openai.create_vector_store(name=f"s{n}") for n in range(230)]
    response = api.get(url())
    assert response.status_code == 200
    assert [s["id"] for s in response.json()] == [s["id"] for s in reversed(created)]
    assert "Link" not in response
    assert len(fake_openai.requests_to("GET", "/vector_stores")) == 3  # pages of 100


def test_list_objects_pass_through_unchanged(api, url, fake_openai):
    store = fake_openai.create_vector_store(name="as is")
    fake_openai.vector_stores[store["id"]]["field_openai_adds_later"] = {"nested": [1, 2]}
    assert api.get(url()).json() == [{**store, "field_openai_adds_later": {"nested": [1, 2]}}]


def test_unpaged_list_is_bounded_and_links_to_the_rest(api, url, fake_openai, settings):
    created = [fake_openai.create_vector_store(name=f"s{n}") for n in range(7)]
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "LIST_MAX_ITEMS": 5}
    response = api.get(url())
    assert len(response.json()) == 5
    assert f"after={created[2]['id']}" in response["Link"]


def test_unpaged_list_follows_only_the_pages_its_bound_takes_in_full_pages(api, url, fake_openai, settings):
    """An upstream that answers one store a page (with more to come) made one unpaged list 10,000 calls."""
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "LIST_MAX_ITEMS": 300}
    store = fake_openai.create_vector_store(name="one a page")
    page = {"object": "list", "data": [store], "first_id": store["id"], "last_id": store["id"], "has_more": True}
    fake_openai.fail("GET", "/vector_stores", 200, body=page, times=1000)

    response = api.get(url())

    assert response.status_code == 200 and len(response.json()) == 3
    assert len(fake_openai.requests_to("GET", "/vector_stores")) == 3  # 300 stores in pages of 100
    assert f"after={store['id']}" in response["Link"]  # the rest, a page at a time


def test_list_with_limit_returns_one_page_and_a_next_link(api, url, stores):
    response = api.get(url(limit=2, order="asc"))
    assert [s["id"] for s in response.json()] == [s["id"] for s in stores[:2]]
    link = response["Link"]
    assert link.startswith("<http://testserver/api/v1/openai-assistants-vector-store?")
    assert link.endswith('>; rel="next"')
    assert f"after={stores[1]['id']}" in link and "limit=2" in link and "order=asc" in link

    next_url = link[1 : link.index(">")].removeprefix("http://testserver")
    second = api.get(next_url)
    assert [s["id"] for s in second.json()] == [s["id"] for s in stores[2:4]]


def test_last_page_has_no_link(api, url, stores):
    response = api.get(url(limit=10))
    assert len(response.json()) == 5
    assert "Link" not in response


def test_list_paging_parameters_reach_openai(api, url, stores, fake_openai):
    api.get(url(limit=3, order="asc", after=stores[0]["id"]))
    assert fake_openai.requests[-1].query == {"limit": "3", "order": "asc", "after": stores[0]["id"]}


BAD_LIST_QUERIES = [
    {"limit": 0},
    {"limit": 101},
    {"limit": "x"},
    *({"limit": loose} for loose in ["1.0", " 1", "+1", "\u0661"]),  # not digits, though int() reads them ("١" is 1)
    {"order": "up"},
    {"after": "../x"},
]


@pytest.mark.parametrize("query", BAD_LIST_QUERIES)
def test_bad_list_parameters_are_400(api, url, query, fake_openai):
    response = api.get(url(**query))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert fake_openai.requests == []


@pytest.mark.parametrize("name", ["limit", "order", "credential"])
def test_a_parameter_given_twice_is_400_naming_it(api, url, credential, name, fake_openai):
    """One of the values would be dropped without a word."""
    values = {"limit": ("1", "2"), "order": ("asc", "desc"), "credential": (credential.pk, credential.pk)}[name]
    response = api.get(f"{url()}&" + "&".join(f"{name}={value}" for value in values))
    assert (response.status_code, response.json()["errors"]) == (400, {name: ["Give this parameter once."]})
    assert fake_openai.requests == []


# --- get, create, update, delete -------------------------------------------------


def test_get_returns_the_store(api, url, stores):
    response = api.get(url(f"/{stores[0]['id']}"))
    assert response.status_code == 200
    assert response.json() == stores[0]


def test_get_unknown_store_is_404_with_openai_request_id(api, url, fake_openai):
    response = api.get(url("/vs_missing"))
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "openai_not_found"
    assert "vs_missing" in body["detail"]
    assert body["openai_request_id"].startswith("req_")


def test_create_sends_every_field_and_returns_the_store(api, url, fake_openai):
    file = fake_openai.create_file("a.txt", b"hello")
    body = {
        "name": "Docs",
        "description": "Product docs",
        "file_ids": [file["id"]],
        "metadata": {"team": "search"},
        "expires_after": {"anchor": "last_active_at", "days": 7},
        "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}},
    }
    response = api.post(url(), body, format="json")
    assert response.status_code == 200
    created = response.json()
    assert created["object"] == "vector_store"
    assert created == fake_openai.vector_stores[created["id"]]
    assert fake_openai.requests[-1].json == body


def test_create_with_an_empty_body_is_allowed(api, url, fake_openai):
    response = api.post(url(), {}, format="json")
    assert response.status_code == 200
    assert response.json()["id"] in fake_openai.vector_stores


def test_update_changes_name_metadata_and_expiry(api, url, stores, fake_openai):
    store_id = stores[0]["id"]
    body = {"name": "Renamed", "metadata": {"k": "v"}, "expires_after": None}
    response = api.put(url(f"/{store_id}"), body, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert fake_openai.vector_stores[store_id]["metadata"] == {"k": "v"}
    assert fake_openai.requests[-1].method == "POST"
    assert fake_openai.requests[-1].json == body


def test_delete_returns_the_deletion_object(api, url, stores, fake_openai):
    store_id = stores[0]["id"]
    response = api.delete(url(f"/{store_id}"))
    assert response.status_code == 200
    assert response.json() == {"id": store_id, "object": "vector_store.deleted", "deleted": True}
    assert store_id not in fake_openai.vector_stores


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_unknown_store_is_404_for_every_method(api, url, method, fake_openai):
    response = getattr(api, method)(url("/vs_nope"), {}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "openai_not_found"


# --- routes ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "/"])
def test_routes_answer_with_and_without_trailing_slash_without_redirect(api, url, store, fake_openai, path):
    assert api.get(url(path)).status_code == 200
    assert api.post(url(path), {"name": "x"}, format="json").status_code == 200
    assert api.get(url(f"/{store['id']}{path}")).status_code == 200
    assert api.get(url(f"/{store['id']}/files{path}")).status_code == 200
    assert api.post(url(f"/{store['id']}/search{path}"), {"query": "q"}, format="json").status_code == 200


@pytest.mark.parametrize("store_id", ["..%2Ffiles", "..", "a%20b", "x" * 129, "vs_1%3Fx=1"])
def test_path_ids_outside_the_safe_alphabet_are_400_and_never_reach_openai(api, url, store_id, fake_openai):
    response = api.get(url(f"/{store_id}"))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert fake_openai.requests == []


def test_dot_dot_slash_files_is_400(api, url, fake_openai):
    response = api.get(url("/..%2Ffiles"))
    assert response.status_code == 400
    assert fake_openai.requests == []


# --- validation before anything goes upstream --------------------------------------

INVALID_CREATE_BODIES = {
    "17 metadata pairs": {"metadata": {f"k{n}": "v" for n in range(17)}},
    "metadata key of 65 chars": {"metadata": {"k" * 65: "v"}},
    "metadata value of 513 chars": {"metadata": {"k": "v" * 513}},
    "metadata value not a string": {"metadata": {"k": 1}},
    "metadata not an object": {"metadata": ["k"]},
    "expiry of 0 days": {"expires_after": {"anchor": "last_active_at", "days": 0}},
    "expiry of 366 days": {"expires_after": {"anchor": "last_active_at", "days": 366}},
    "expiry with another anchor": {"expires_after": {"anchor": "created_at", "days": 3}},
    "expiry days as a string": {"expires_after": {"anchor": "last_active_at", "days": "3"}},
    "chunk size below 100": {
        "file_ids": ["file-1"],
        "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}},
    },
    "chunk size above 4096": {
        "file_ids": ["file-1"],
        "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 4097, "chunk_overlap_tokens": 0}},
    },
    "overlap above half": {
        "file_ids": ["file-1"],
        "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 401}},
    },
    "negative overlap": {
        "file_ids": ["file-1"],
        "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": -1}},
    },
    "static without its settings": {"file_ids": ["file-1"], "chunking_strategy": {"type": "static"}},
    "unknown chunking type": {"file_ids": ["file-1"], "chunking_strategy": {"type": "other"}},
    "chunking without files": {"chunking_strategy": {"type": "auto"}},
    "duplicate file ids": {"file_ids": ["file-1", "file-1"]},
    "501 file ids": {"file_ids": [f"file-{n}" for n in range(501)]},
    "file id with a slash": {"file_ids": ["../files"]},
    "name as a number": {"name": 5},
    "file_ids as a string": {"file_ids": "file-1"},
    "unknown field": {"nmae": "typo"},
    "a list instead of an object": ["name"],
}


@pytest.mark.parametrize("body", INVALID_CREATE_BODIES.values(), ids=INVALID_CREATE_BODIES.keys())
def test_invalid_create_bodies_are_400_with_field_errors(api, url, body, fake_openai):
    response = api.post(url(), body, format="json")
    assert response.status_code == 400
    result = response.json()
    assert result["code"] == "invalid"
    assert result["errors"]
    assert fake_openai.requests == []


def test_the_edges_of_the_limits_are_accepted(api, url, fake_openai):
    file = fake_openai.create_file("a.txt", b"x")
    body = {
        "metadata": {f"{n:02d}" + "k" * 62: "v" * 512 for n in range(16)},
        "expires_after": {"anchor": "last_active_at", "days": 365},
        "file_ids": [file["id"]],
        "chunking_strategy": {
            "type": "static",
            "static": {"max_chunk_size_tokens": 4096, "chunk_overlap_tokens": 2048},
        },
    }
    assert api.post(url(), body, format="json").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"name": ["x"]},
        {"metadata": {"k": None}},
        {"expires_after": {"anchor": "last_active_at"}},
        {"description": "x"},
    ],
)
def test_invalid_update_bodies_are_400(api, url, stores, body, fake_openai):
    response = api.put(url(f"/{stores[0]['id']}"), body, format="json")
    assert response.status_code == 400
    assert not fake_openai.requests_to("POST", f"/vector_stores/{stores[0]['id']}")


@pytest.mark.parametrize("payload", [b"{", b"{'name': 1}", b"\xff\xfe", b"[1,", b"nul"])
def test_malformed_json_is_400_not_500(api, url, payload, fake_openai):
    response = api.generic("POST", url(), payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert fake_openai.requests == []


def test_a_json_body_of_another_media_type_is_415(api, url, fake_openai):
    response = api.generic("POST", url(), b"name=x", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_unknown_route_under_the_api_is_json_404(api, url, stores):
    response = api.get(url(f"/{stores[0]['id']}/nothing-here"))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "message": "Not found.", "code": "not_found"}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_an_unknown_route_is_json_404_for_every_method_even_with_csrf_checks(user, url, stores, method):
    client = client_for(user)
    client.handler.enforce_csrf_checks = True  # as for a real client: no test-client exemption
    response = client.generic(method, url(f"/{stores[0]['id']}/nothing-here"), b"{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "message": "Not found.", "code": "not_found"}


def test_a_json_body_over_djangos_memory_limit_is_a_json_413(api, url, fake_openai, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.generic("POST", url(), json.dumps({"name": "x" * 2000}), content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert fake_openai.requests == []


def test_options_describes_nothing(api, url, stores):
    """The OpenAPI document describes the API; DRF's OPTIONS answer would show the views' docstrings."""
    response = api.options(url(f"/{stores[0]['id']}"))
    assert response.status_code == 405
    assert "host_url_kwargs" not in response.content.decode()
    assert "OPTIONS" not in response["Allow"]  # nor is it offered


def test_text_reaches_openai_exactly_as_sent(api, url, fake_openai):
    body = {"name": "  padded name\t", "metadata": {"note": " kept "}}
    assert api.post(url(), body, format="json").status_code == 200
    assert fake_openai.requests[-1].json == body


@pytest.mark.parametrize("payload", [b'{"name": "a\\ud800"}', b'{"metadata": {"k\\udfff": "v"}}'])
def test_text_that_is_not_unicode_is_400(api, url, payload, fake_openai):
    response = api.generic("POST", url(), payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert fake_openai.requests == []


def test_an_id_with_a_trailing_newline_is_400(api, url, fake_openai):
    response = api.get(url("/vs_abc%0A"))
    assert response.status_code == 400
    assert fake_openai.requests == []


def test_answers_are_json_even_for_a_browser(api, url, fake_openai):
    response = api.get(url(), HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
