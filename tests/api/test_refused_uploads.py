"""Nothing a refused caller uploads is stored: the body is read only after every access check.

Each test streams a 200 MB multipart body over a real socket to the live server, samples the upload
directory between chunks while it streams, and reads the answer as it arrives.
"""

import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.api.multipart_bodies import CONTENT_TYPE, closing, file_part
from tests.conftest import admin_url, logged_in, token_header, token_of
from vectorstores.models import AuditEntry

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.subprocess]  # a live server

BODY_BYTES = 200 * 1024 * 1024
CHUNK = 1024 * 1024
CSRF_COOKIE = "csrftoken"


def stream_upload(server_url, path, headers, upload_dir, *, audited=True):
    """POST a BODY_BYTES multipart upload to `path`, sampling `upload_dir` between chunks.

    Returns (the answer's status line and body, the most files seen in upload_dir at one sample).
    """
    address = urlsplit(server_url)
    head = file_part(b"big.txt", b"")[:-2]  # the file part up to its content
    tail = b"\r\n" + closing()
    request = (
        "".join(
            [
                f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\n",
                *(f"{name}: {value}\r\n" for name, value in headers.items()),
                f"Content-Type: {CONTENT_TYPE}\r\nContent-Length: {BODY_BYTES}\r\n\r\n",
            ]
        ).encode()
        + head
    )
    answer = bytearray()
    most_files = 0
    entries_before = AuditEntry.objects.count()
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        reader = threading.Thread(target=_read_all, args=(connection, answer), daemon=True)
        reader.start()
        connection.sendall(request)
        sent = len(head)
        try:
            while sent < BODY_BYTES - len(tail) and reader.is_alive():  # until the answer is in
                chunk = min(CHUNK, BODY_BYTES - len(tail) - sent)
                connection.sendall(b"x" * chunk)
                sent += chunk
                most_files = max(most_files, len(list(upload_dir.iterdir())))
            connection.sendall(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: the rest was never wanted
        most_files = max(most_files, len(list(upload_dir.iterdir())))
        reader.join(timeout=30)
    if audited:
        _wait_for_the_audit_entry(entries_before + 1)
    status_line, _, rest = bytes(answer).partition(b"\r\n")
    return status_line.decode(), rest.partition(b"\r\n\r\n")[2], most_files


def _wait_for_the_audit_entry(count, timeout=10):
    """The live server writes the audit entry once the response is closed: wait for it before the test ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and AuditEntry.objects.count() < count:
        time.sleep(0.02)


def _read_all(connection, into):
    """Read one HTTP answer (its headers, then Content-Length bytes) as it arrives."""
    try:
        while chunk := connection.recv(65536):
            into.extend(chunk)
            head, separator, body = bytes(into).partition(b"\r\n\r\n")
            if separator and len(body) >= _content_length(head):
                return
    except OSError:
        pass


def _content_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.fixture
def upload_path(url, store):
    """The API's upload URL of `store` (path and query)."""
    return url(f"/{store['id']}")


@pytest.fixture
def signed_in(user):
    """Session cookies of `user` (and a CSRF cookie the caller does not echo in a header)."""
    client = logged_in(user)
    client.get(reverse("admin:login"))  # sets the CSRF cookie
    return {
        "Cookie": f"sessionid={client.cookies['sessionid'].value}; {CSRF_COOKIE}={client.cookies[CSRF_COOKIE].value}"
    }


@pytest.fixture
def nothing_reached_openai(fake_openai):
    yield
    assert fake_openai.requests_to("POST", "/files") == []


@pytest.mark.usefixtures("nothing_reached_openai")
def test_a_session_without_a_csrf_token_stores_nothing(live_server, upload_path, signed_in, upload_dir):
    # Not audited: a session whose CSRF check fails is not signed in for this call.
    status, body, most_files = stream_upload(live_server.url, upload_path, signed_in, upload_dir, audited=False)

    assert status.split()[1] == "403"
    assert b"CSRF" in body
    assert most_files == 0


@pytest.mark.usefixtures("nothing_reached_openai")
def test_a_caller_who_may_not_use_the_credential_stores_nothing(live_server, upload_path, other_user, upload_dir):
    status, body, most_files = stream_upload(live_server.url, upload_path, token_header(other_user), upload_dir)

    assert status.split()[1] == "404"
    assert b"credential_not_found" in body
    assert most_files == 0


@pytest.fixture
def one_call_a_minute(throttle_rates):
    throttle_rates("1/minute")


@pytest.mark.usefixtures("nothing_reached_openai", "one_call_a_minute")
def test_a_throttled_caller_stores_nothing(live_server, api, url, upload_path, user, upload_dir):
    assert api.get(url()).status_code == 200  # the minute's one call
    status, _body, most_files = stream_upload(live_server.url, upload_path, token_header(user), upload_dir)

    assert status.split()[1] == "429"
    assert most_files == 0


@pytest.fixture
def console_path(store, credential):
    return admin_url("vector_store_upload", credential.pk, store["id"])


@pytest.fixture
def staff_signed_in(user, signed_in):
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_credential", "change_credential"]))
    return signed_in


@pytest.mark.usefixtures("nothing_reached_openai")
def test_the_consoles_upload_without_a_csrf_token_stores_nothing(
    live_server, console_path, staff_signed_in, upload_dir
):
    status, _, most_files = stream_upload(live_server.url, console_path, staff_signed_in, upload_dir, audited=False)

    assert status.split()[1] == "403"
    assert most_files == 0


@pytest.mark.usefixtures("nothing_reached_openai")
def test_the_consoles_upload_to_a_credential_the_user_may_not_use_stores_nothing(
    live_server, console_path, staff_signed_in, credential, user, upload_dir
):
    credential.users.remove(user)
    csrf = staff_signed_in["Cookie"].rpartition(f"{CSRF_COOKIE}=")[2]
    status, _, most_files = stream_upload(
        live_server.url, console_path, {**staff_signed_in, "X-CSRFToken": csrf}, upload_dir, audited=False
    )

    assert status.split()[1] == "404"
    assert most_files == 0


def test_an_allowed_caller_streams_to_disk_as_the_sampling_sees(live_server, upload_path, user, upload_dir, settings):
    """The control: the same sampling does see an allowed upload's file while it streams in."""
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "MAX_FILE_SIZE": 50 * CHUNK}
    status, _, most_files = stream_upload(live_server.url, upload_path, token_header(user), upload_dir)

    assert status.split()[1] == "413"  # past MAX_FILE_SIZE, while streaming
    assert most_files == 1


@pytest.mark.usefixtures("nothing_reached_openai")
@pytest.mark.parametrize(("token", "refused"), [("not-a-token", "401"), ("other user's", "404")])
def test_the_openai_compatible_upload_of_a_refused_caller_stores_nothing(
    live_server, credential, other_user, upload_dir, token, refused
):
    """The same for `POST /files` of the OpenAI-compatible routes (Bearer tokens, the credential in the path)."""
    key = token_of(other_user) if token == "other user's" else token
    path = f"/api/openai/{credential.pk}/v1/files"
    status, body, most_files = stream_upload(
        live_server.url, path, {"Authorization": f"Bearer {key}"}, upload_dir, audited=refused != "401"
    )

    assert status.split()[1] == refused
    assert (b"authentication_failed" if refused == "401" else b"credential_not_found") in body
    assert most_files == 0
