"""JSON that Python reads but that could not be sent on: NaN, Infinity, numbers out of a float's range, lone
surrogates, nesting too deep, and (from a caller) a key given twice in one object. From a caller it is a 400
before anything reaches OpenAI, in a JSON body or in a multipart upload's JSON fields; from OpenAI it is an
answer this server cannot trust (502). NUL characters, which JSON can carry, are refused in a caller's text
wherever it goes on, keys and free-form values included. Bodies in another charset than UTF-8 are a 400."""

import time

import pytest

from tests.api.multipart_bodies import CONTENT_TYPE, body, file_part, part
from tests.conftest import assert_invalid, text_file
from vectorstores.gateway import store_uploads

pytestmark = pytest.mark.django_db

# What a caller may type that json.loads reads but nothing can write back as JSON (or UTF-8).
UNSENDABLE = {
    "NaN": '{"year": NaN}',
    "Infinity": '{"year": Infinity}',
    "-Infinity": '{"year": -Infinity}',
    "1e999": '{"year": 1e999}',
    "-1e400": '{"year": -1e400}',
    "lone surrogate": '{"team": "\\ud800"}',
    "a key twice": '{"team": "support", "team": "sales"}',  # Python keeps one: the other is lost
}
CASES = [pytest.param(text, id=name) for name, text in UNSENDABLE.items()]


@pytest.fixture
def attached_file(fake_openai, store):
    file = fake_openai.create_file("notes.txt", b"some text")
    fake_openai.attach_file(store["id"], file["id"])
    return file


@pytest.mark.parametrize("attributes", CASES)
@pytest.mark.parametrize("route", ["update a file", "attach a file", "file batch"])
def test_a_json_body_is_a_400_parse_error_before_openai(api, url, store, attached_file, fake_openai, route, attributes):
    file_id = attached_file["id"]
    path, body = {
        "update a file": (f"/{store['id']}/files/{file_id}", '{"attributes": ATTRIBUTES}'),
        "attach a file": (f"/{store['id']}/files", f'{{"file_id": "{file_id}", "attributes": ATTRIBUTES}}'),
        "file batch": (f"/{store['id']}/file_batches", f'{{"file_ids": ["{file_id}"], "attributes": ATTRIBUTES}}'),
    }[route]
    fake_openai.requests.clear()

    response = api.post(url(path), body.replace("ATTRIBUTES", attributes).encode(), content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "parse_error"), response.content
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    ("charset", "body"),
    [
        ("utf-7", b'{"metadata": {"+2AA-": "v"}}'),  # "+2AA-" is a lone surrogate in UTF-7
        ("raw_unicode_escape", b'{"metadata": {"\\ud800": "v"}}'),
        ("latin-1", '{"metadata": {"k": "caf\u00e9"}}'.encode("latin-1")),
        ("no-such-charset", b'{"metadata": {"k": "v"}}'),
    ],
)
def test_a_json_body_in_another_charset_than_utf8_is_a_400_before_openai(api, url, store, fake_openai, charset, body):
    fake_openai.requests.clear()
    response = api.put(url(f"/{store['id']}"), body, content_type=f"application/json; charset={charset}")
    assert (response.status_code, response.json()["code"]) == (400, "parse_error"), response.content
    assert fake_openai.requests == []


@pytest.mark.parametrize("charset", ["utf-8", "UTF8", "us-ascii", None])
def test_a_json_body_in_utf8_is_read(api, url, store, fake_openai, charset):
    content_type = "application/json" + (f"; charset={charset}" if charset else "")
    body = '{"metadata": {"k": "caf\u00e9 ☕"}}'.encode()
    response = api.put(url(f"/{store['id']}"), body, content_type=content_type)
    assert response.status_code == 200, response.content
    assert fake_openai.vector_stores[store["id"]]["metadata"] == {"k": "café ☕"}


UPLOAD_FIELDS = [
    *(pytest.param("attributes", text, id=name) for name, text in UNSENDABLE.items()),
    pytest.param("attributes", "[" * 100_000 + "]" * 100_000, id="attributes nested too deep"),
    pytest.param(
        "chunking_strategy", '{"type": "static", "static": {"max_chunk_size_tokens": NaN}}', id="chunking NaN"
    ),
    pytest.param("chunking_strategy", '{"a":' * 5000 + "1" + "}" * 5000, id="chunking nested too deep"),
]


@pytest.mark.parametrize(("field", "text"), UPLOAD_FIELDS)
@pytest.mark.parametrize("wait", ["true", "false"])
def test_an_upload_field_is_a_400_before_any_file_reaches_openai(
    api, url, store, fake_openai, upload_dir, field, text, wait
):
    response = api.post(
        url(f"/{store['id']}", wait=wait), {"files": [text_file("a.txt")], field: text}, format="multipart"
    )
    assert_invalid(response, field)
    assert fake_openai.requests_to("POST", "/files") == []
    assert fake_openai.files == {}
    assert list(upload_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("charset", "attributes"),
    [("utf-7", b'{"k": "+2AA-"}'), ("latin-1", '{"k": "r\u00e9sum\u00e9"}'.encode())],  # "+2AA-" is U+D800 in UTF-7
)
def test_an_upload_in_another_charset_than_utf8_is_a_400_before_anything_is_stored(
    api, url, store, fake_openai, upload_dir, charset, attributes
):
    """Read in another charset, names and text would change (UTF-8's "é" read as latin-1 is "Ã©")."""
    payload = body(file_part(b"r\xc3\xa9sum\xc3\xa9.txt"), part(b'name="attributes"', attributes, content_type=None))
    response = api.generic("POST", url(f"/{store['id']}"), payload, content_type=f"{CONTENT_TYPE}; charset={charset}")
    assert (response.status_code, response.json()["code"]) == (400, "parse_error"), response.content
    assert fake_openai.requests_to("POST", "/files") == []
    assert list(upload_dir.iterdir()) == []


def test_an_upload_declaring_utf8_is_read(api, url, store, fake_openai, upload_dir):
    payload = body(file_part(b"r\xc3\xa9sum\xc3\xa9.txt"))
    response = api.generic("POST", url(f"/{store['id']}"), payload, content_type=f"{CONTENT_TYPE}; charset=UTF8")
    assert response.status_code == 200, response.content
    assert [file["filename"] for file in fake_openai.files.values()] == ["r\u00e9sum\u00e9.txt"]


def test_an_upload_that_fails_in_this_server_leaves_no_file_at_openai(api, url, store, fake_openai, monkeypatch):
    """Not a fault of OpenAI's (those are reported per file): a bug of ours still cleans up what it uploaded."""

    def broken_batch(*args, **kwargs):
        raise RuntimeError("a fault of this server")

    monkeypatch.setattr(store_uploads, "create_file_batch", broken_batch)
    with pytest.raises(RuntimeError):
        api.post(url(f"/{store['id']}"), {"files": [text_file("a.txt"), text_file("b.txt")]}, format="multipart")
    assert len(fake_openai.requests_to("POST", "/files")) == 2
    assert fake_openai.files == {}


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["NaN", "Infinity"])
def test_an_answer_from_openai_holding_one_is_a_502(api, url, store, fake_openai, value):
    fake_openai.vector_stores[store["id"]]["usage_bytes"] = value  # the fake writes it as NaN / Infinity

    response = api.get(url(f"/{store['id']}"))
    assert (response.status_code, response.json()["code"]) == (502, "openai_bad_response")


@pytest.mark.parametrize(
    "name", [b"\xed\xa0\x80", b"\xff"], ids=["a surrogate encoded in UTF-8", "bytes that are not UTF-8"]
)
def test_an_answer_from_openai_with_bytes_that_are_no_utf8_text_is_a_502(api, url, store, fake_openai, name):
    answer = b'{"object": "vector_store", "id": "%s", "name": "%s"}' % (store["id"].encode(), name)
    fake_openai.fail("GET", f"/vector_stores/{store['id']}$", 200, body=answer)

    response = api.get(url(f"/{store['id']}"))
    assert (response.status_code, response.json()["code"]) == (502, "openai_bad_response")


# --- NUL characters ---------------------------------------------------------------------------------

NUL_BODIES = {
    "search query": ("/{store}/search", {"query": "a\x00b"}),
    "search query list": ("/{store}/search", {"query": ["a", "a\x00b"]}),
    "filter value": ("/{store}/search", {"query": "a", "filters": {"type": "eq", "key": "k", "value": "v\x00"}}),
    "filter value list": ("/{store}/search", {"query": "a", "filters": {"type": "in", "key": "k", "value": ["\x00"]}}),
    "metadata key": ("", {"name": "x", "metadata": {"k\x00": "v"}}),
    "attribute key": ("/{store}/files/{file}", {"attributes": {"k\x00": "v"}}),
    "attribute value": ("/{store}/files/{file}", {"attributes": {"k": "v\x00"}}),
}


@pytest.mark.parametrize("case", list(NUL_BODIES))
def test_a_nul_character_in_a_json_body_is_a_400_before_openai(api, url, store, attached_file, fake_openai, case):
    path, body = NUL_BODIES[case]
    fake_openai.requests.clear()
    response = api.post(url(path.format(store=store["id"], file=attached_file["id"])), body, format="json")
    assert_invalid(response)
    assert "Null characters are not allowed." in str(response.json()["errors"])
    assert fake_openai.requests == []


@pytest.mark.parametrize("attributes", ['{"k\\u0000": "v"}', '{"k": "v\\u0000"}'], ids=["key", "value"])
def test_a_nul_character_in_upload_attributes_is_a_400_before_openai(api, url, store, fake_openai, attributes):
    response = api.post(
        url(f"/{store['id']}"), {"files": [text_file("a.txt")], "attributes": attributes}, format="multipart"
    )
    assert_invalid(response, "attributes")
    assert fake_openai.requests_to("POST", "/files") == []


def test_finding_a_key_given_twice_takes_time_in_proportion_to_the_object(api, url, fake_openai):
    """40,000 keys and the last one repeated: refused at once (a search that compared each key with those before
    it took 16 s here, and a body at Django's size limit would hold a worker for minutes)."""
    metadata = ",".join(f'"{n}": ""' for n in range(40_000))
    started = time.monotonic()
    response = api.post(url(), f'{{"metadata": {{{metadata}, "0": ""}}}}', content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "parse_error")
    assert time.monotonic() - started < 3
