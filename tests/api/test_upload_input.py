"""What an upload may send: file names, file types and multipart bodies that are odd or hostile."""

import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.api.multipart_bodies import BOUNDARY, CONTENT_TYPE, body, file_part, part
from tests.conftest import api_path, text_file, token_of
from vectorstores.checks import check_allowed_extensions

pytestmark = pytest.mark.django_db


@pytest.fixture
def post_raw(api, url, store, upload_dir):
    """post_raw(body_bytes): a hand-made multipart upload into `store`."""

    def post(payload, content_type=CONTENT_TYPE):
        return api.generic("POST", url(f"/{store['id']}"), payload, content_type=content_type)

    return post


@pytest.fixture
def nothing_reached_openai_and_nothing_left(fake_openai, upload_dir):
    yield
    assert fake_openai.requests_to("POST", "/files") == []
    assert list(upload_dir.iterdir()) == []


# --- file names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        (b"../../etc/passwd.txt", "passwd.txt"),
        (b"C:\\\\Users\\\\ann\\\\notes.txt", "notes.txt"),
        (b"a &amp; b.txt", "a &amp; b.txt"),
        (b"&#46;.txt", "&#46;.txt"),  # never unescaped: what the client sent
        (("x" * 251 + ".txt").encode(), "x" * 251 + ".txt"),
        ("naïve 日本 %22quoted%22.txt".encode(), 'naïve 日本 "quoted".txt'),
    ],
)
def test_names_reach_openai_as_sent_with_any_path_reduced_to_its_last_part(post_raw, fake_openai, raw, sent):
    response = post_raw(body(file_part(raw)))
    assert response.status_code == 200, response.json()
    assert response.json()[0]["filename"] == sent
    assert fake_openai.requests_to("POST", "/files")[0].decoded_filenames == [sent]


@pytest.mark.parametrize(
    "content_type",
    [
        f'multipart/form-data; boundary="{BOUNDARY}"',
        f"multipart/form-data; BOUNDARY={BOUNDARY}",
        f"multipart/form-data; charset=utf-8; boundary={BOUNDARY}",
    ],
    ids=["quoted", "upper-case-parameter", "other-parameters"],
)
def test_the_boundary_is_read_as_django_reads_it(post_raw, content_type):
    response = post_raw(body(file_part(b"a.txt")), content_type=content_type)
    assert response.status_code == 200, response.json()
    assert [file["filename"] for file in response.json()] == ["a.txt"]


def test_an_rfc5987_name_is_decoded(post_raw, fake_openai):
    response = post_raw(body(part(b"name=\"files\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt")))
    assert response.status_code == 200
    assert response.json()[0]["filename"] == "résumé.txt"


@pytest.mark.usefixtures("nothing_reached_openai_and_nothing_left")
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"nul\x00byte.txt", "control characters"),
        (b"bell\x07.txt", "control characters"),
        (b"tab\there.txt", "control characters"),
        ("doc\u202etxt.exe.txt".encode(), "control characters"),
        (("x" * 300 + ".txt").encode(), "longer than 255 characters"),
        (("x" * 1000 + ".txt").encode(), "are longer than the 1024 bytes"),
        (b"", "has no file name"),
        (b"../", "has no file name"),
        (b"..", "has no file name"),
        (b"caf\xe9.txt", "not valid UTF-8"),
        ("\u200b".encode(), "has no visible characters"),
        (" \u00a0 ".encode(), "has no visible characters"),
    ],
)
def test_unusable_names_are_refused_naming_the_part(post_raw, raw, reason):
    response = post_raw(body(file_part(b"fine.txt"), file_part(raw)))
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert "part 2" in response.json()["detail"].lower()


@pytest.mark.usefixtures("nothing_reached_openai_and_nothing_left")
def test_a_part_after_the_closing_boundary_is_refused(post_raw):
    response = post_raw(body(file_part(b"a.txt")) + file_part(b"smuggled.txt"))
    assert response.status_code == 400
    assert "follows the closing boundary" in response.json()["detail"]


def test_transport_padding_after_the_first_boundary_is_read_as_django_reads_it(post_raw, fake_openai):
    padded = body(file_part(b"a.txt"), file_part(b"b.txt")).replace(
        BOUNDARY.encode() + b"\r\n", BOUNDARY.encode() + b" \t\r\n", 1
    )
    response = post_raw(padded)
    assert response.status_code == 200, response.json()
    assert [file["filename"] for file in response.json()] == ["a.txt", "b.txt"]
    sent = sorted(name for request in fake_openai.requests_to("POST", "/files") for name in request.decoded_filenames)
    assert sent == ["a.txt", "b.txt"]


@pytest.mark.usefixtures("nothing_reached_openai_and_nothing_left")
def test_a_part_with_two_content_dispositions_is_refused(post_raw):
    twice = b'name="files"; filename="first.txt"\r\nContent-Disposition: form-data; name="files"; filename="second.txt"'
    response = post_raw(body(file_part(b"a.txt"), part(twice)))
    assert response.status_code == 400
    assert "more than one Content-Disposition" in response.json()["detail"]


@pytest.mark.usefixtures("nothing_reached_openai_and_nothing_left")
def test_when_the_check_and_djangos_parser_count_different_files_the_upload_is_refused(post_raw, monkeypatch):
    from vectorstores.api.multipart import PartHeaderScanner

    real = PartHeaderScanner._check_part
    monkeypatch.setattr(
        PartHeaderScanner,
        "_check_part",
        lambda self, headers: real(
            self,
            headers.replace(b'filename="b.txt"', b'filename=""').replace(b'name="files"; filename=""', b'name="other"'),
        ),
    )
    response = post_raw(body(file_part(b"a.txt"), file_part(b"b.txt")))
    assert response.status_code == 400
    assert "cannot be read unambiguously" in response.json()["detail"]


def test_a_long_extension_never_reaches_the_file_system(post_raw, upload_dir, settings):
    """Django names its temporary file after the upload's extension; here it never sees the caller's name."""
    name = ("a." + "日" * 80).encode()  # an extension of 240 bytes: with Django's naming, a path too long
    response = post_raw(body(file_part(name)))
    assert response.status_code == 400
    assert "not accepted" in response.json()["detail"]


@pytest.mark.usefixtures("nothing_reached_openai_and_nothing_left")
def test_a_files_part_that_is_a_plain_field_is_refused(post_raw):
    response = post_raw(body(file_part(b"fine.txt"), part(b'name="files"', b"just text", None)))
    assert response.status_code == 400
    assert "not a file" in response.json()["detail"]


# --- file types ----------------------------------------------------------------------------


@pytest.mark.usefixtures("nothing_reached_openai_and_nothing_left")
@pytest.mark.parametrize(
    ("name", "content", "content_type", "reason"),
    [
        (b"setup.exe", b"MZ...", b"application/octet-stream", "not accepted"),
        (b"noextension", b"text", b"text/plain", "not accepted"),
        (b"report.pdf", b"%PDF-1.7 ...", b"text/plain", "contradicts"),
        (b"notes.txt", b"text", b"application/pdf", "contradicts"),
        (b"notes.md", b"text", b"image/png", "contradicts"),
        (b"fake.pdf", b"<html>not a pdf</html>", b"application/pdf", "not a .pdf file"),
        (b"fake.docx", b"plain text", b"application/octet-stream", "not a .docx file"),
    ],
)
def test_files_of_other_types_are_refused_naming_the_file(post_raw, name, content, content_type, reason):
    response = post_raw(body(file_part(name, content, content_type)))
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert name.decode() in response.json()["detail"]


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        (b"report.PDF", b"%PDF-1.7 ...", b"application/pdf"),
        (b"report.pdf", b"%PDF-1.7 ...", b"application/octet-stream"),
        (
            b"slides.pptx",
            b"PK\x03\x04...",
            b"application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        (b"main.py", b"print(1)", b"text/x-python"),
        (b"main.ts", b"let x = 1", b"application/typescript"),
        (b"data.json", b"{}", b"application/json"),
        (b"readme.md", b"# hi", b"text/markdown"),
    ],
)
def test_supported_types_are_accepted(post_raw, name, content, content_type):
    assert post_raw(body(file_part(name, content, content_type))).status_code == 200


def test_a_host_can_narrow_the_accepted_extensions(post_raw, settings):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "ALLOWED_EXTENSIONS": [".md"]}
    assert post_raw(body(file_part(b"a.md"))).status_code == 200
    response = post_raw(body(file_part(b"a.txt")))
    assert response.status_code == 400
    assert "allowed: .md" in response.json()["detail"]


def test_allowed_extensions_beyond_file_search_are_a_system_check_error(settings):
    settings.OPENAI_VECTOR_STORES = {"ALLOWED_EXTENSIONS": [".md", ".exe"]}
    assert [error.id for error in check_allowed_extensions(None)] == ["vectorstores.E002"]


# --- odd multipart bodies ----------------------------------------------------------------------


@pytest.mark.usefixtures("nothing_reached_openai_and_nothing_left")
@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        (body(file_part(b"a.txt")), "multipart/form-data"),  # no boundary
        (body(file_part(b"a.txt"), closed=False), CONTENT_TYPE),  # cut short
        (b"\xff\xfe garbage \x00", CONTENT_TYPE),
        # RFC 2231 parameters in an encoding Python does not know, in the part headers Django's parser reads
        (body(part(b"name=\"files\"; filename*=bogus''%41.txt")), CONTENT_TYPE),
        (body(part(b"name*=bogus''%41", content_type=None)), CONTENT_TYPE),
        (body(file_part(b"a.txt", content_type=b"text/plain; charset*=bogus''%41")), CONTENT_TYPE),
    ],
)
def test_malformed_multipart_is_400(post_raw, payload, content_type):
    response = post_raw(payload, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["code"] in {"parse_error", "invalid"}


@pytest.mark.usefixtures("nothing_reached_openai_and_nothing_left")
def test_a_non_multipart_upload_is_415(post_raw):
    response = post_raw(b"files=a.txt", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


# --- a client that goes away -----------------------------------------------------------------------


@pytest.mark.subprocess
@pytest.mark.django_db(transaction=True)
def test_a_client_that_disconnects_mid_upload_leaves_no_temporary_file(
    live_server, credential, user, store, fake_openai, upload_dir
):
    address = urlsplit(live_server.url)
    start = file_part(b"big.txt", b"x" * 300_000)[:-2]  # the file part's content, never finished
    path = api_path(credential.pk, f"/{store['id']}")
    request = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {address.netloc}\r\nAuthorization: Token {token_of(user)}\r\n"
        f"Content-Type: {CONTENT_TYPE}\r\nContent-Length: 10000000\r\n\r\n"
    ).encode() + start
    with socket.create_connection((address.hostname, address.port)) as client:
        client.sendall(request)
        deadline = time.monotonic() + 5
        while not any(upload_dir.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.02)  # the server is writing the file: now go away
        assert any(upload_dir.iterdir()), "the server never started writing the upload"
    deadline = time.monotonic() + 10
    while any(upload_dir.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(upload_dir.iterdir()) == []
    assert fake_openai.requests_to("POST", "/files") == []


def test_simple_uploaded_files_still_work(upload):
    assert upload(text_file("plain.txt", b"plain")).status_code == 200


@pytest.mark.usefixtures("nothing_reached_openai_and_nothing_left")
@pytest.mark.parametrize("content_type", ["application/json", "text/plain", ""])
def test_an_upload_without_a_multipart_body_is_415(api, url, store, content_type):
    response = api.generic("POST", url(f"/{store['id']}"), b"", content_type=content_type)
    assert response.status_code == 415


@pytest.mark.usefixtures("nothing_reached_openai_and_nothing_left")
def test_a_body_with_too_many_fields_is_a_json_400(post_raw, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    fields = [part(f'name="f{n}"'.encode(), b"v", None) for n in range(10)]
    response = post_raw(body(file_part(b"a.txt"), *fields))
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.usefixtures("nothing_reached_openai_and_nothing_left")
def test_a_text_part_that_is_not_utf8_is_a_400_not_replaced(post_raw):
    """Django's parser reads such bytes as U+FFFD: what the caller sent would be changed without a word."""
    attributes = part(b'name="attributes"', '{"team": "café"}'.encode("latin-1"), None)
    response = post_raw(body(file_part(b"a.txt"), attributes))
    assert (response.status_code, response.json()["code"]) == (400, "parse_error")
    assert "not valid UTF-8" in response.json()["detail"]


def test_a_text_part_in_utf8_is_read_as_sent(post_raw, fake_openai):
    attributes = part(b'name="attributes"', '{"team": "café ☕"}'.encode(), None)
    response = post_raw(body(file_part("résumé.txt".encode()), attributes))
    assert response.status_code == 200, response.content
    [stored] = fake_openai.vector_store_files.values()
    assert stored["attributes"] == {"team": "café ☕"}
    assert [file["filename"] for file in fake_openai.files.values()] == ["résumé.txt"]


# --- bodies without a length ---------------------------------------------------------------------


@pytest.mark.parametrize("route", ["create a store", "upload"])
def test_a_body_sent_in_chunks_is_a_411_before_anything_reaches_openai(api, url, store, fake_openai, upload_dir, route):
    """Django reads a body by its Content-Length: sent in chunks, it would be read as empty and the call made."""
    path, payload, content_type = {
        "create a store": ("", b'{"name": "chunked"}', "application/json"),
        "upload": (f"/{store['id']}", body(file_part(b"a.txt")), CONTENT_TYPE),
    }[route]
    fake_openai.requests.clear()
    response = api.generic("POST", url(path), payload, content_type=content_type, HTTP_TRANSFER_ENCODING="chunked")
    assert (response.status_code, response.json()["code"]) == (411, "length_required")
    assert fake_openai.requests == []
    assert list(upload_dir.iterdir()) == []


def test_the_media_type_is_read_whatever_its_case(api, url, store, fake_openai, upload_dir):
    """RFC 9110: "MULTIPART/Form-Data" is multipart/form-data (the boundary keeps its case)."""
    content_type = CONTENT_TYPE.replace("multipart/form-data", "MULTIPART/Form-Data")
    response = api.generic("POST", url(f"/{store['id']}"), body(file_part(b"a.txt")), content_type=content_type)
    assert response.status_code == 200, response.content
    assert [file["filename"] for file in fake_openai.files.values()] == ["a.txt"]
