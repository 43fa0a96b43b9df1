"""Single-object GETs go to OpenAI as plain HTTP requests (gateway.plain_reads): what OpenAI receives is what
the SDK sends, on keep-alive connections, with certificates verified as the SDK verifies them."""

import contextlib
import datetime
import gzip
import http.client
import http.server
import ipaddress
import json
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from credentials.models import Credential
from tests.conftest import TEST_API_KEY
from vectorstores import gateway
from vectorstores.gateway import client, plain_reads
from vectorstores.gateway.client import PooledHttpClient
from vectorstores.testing import create_credential

pytestmark = pytest.mark.django_db

SENT_BY_BOTH = ("authorization", "openai-organization", "openai-project", "openai-beta", "user-agent", "accept")
# Headers the SDK's request machinery adds per request, which a plain read has no use for.
SDK_MACHINERY = {"x-stainless-retry-count", "x-stainless-read-timeout"}


@pytest.fixture
def team_credential(fake_openai, user):
    return create_credential(fake_openai, api_key=TEST_API_KEY, users=[user], organization="org-a", project="proj_b")


def test_a_plain_read_sends_what_the_sdk_sends(team_credential, fake_openai, store):
    gateway.list_vector_stores(team_credential, paged=True, limit=1)  # through the SDK
    gateway.get_vector_store(team_credential, store["id"])  # a plain read

    [by_sdk] = [request for request in fake_openai.requests if request.path == "/vector_stores"]
    [plain] = [request for request in fake_openai.requests if request.path == f"/vector_stores/{store['id']}"]
    assert all(by_sdk.headers.get(name) for name in SENT_BY_BOTH)
    assert {name: plain.headers.get(name) for name in SENT_BY_BOTH} == {
        name: by_sdk.headers[name] for name in SENT_BY_BOTH
    }
    assert plain.headers["authorization"] == f"Bearer {TEST_API_KEY}"
    assert (plain.headers["openai-organization"], plain.headers["openai-project"]) == ("org-a", "proj_b")
    # The SDK's machinery was not used for the plain read, and its GETs carry no Content-Type; nor does it.
    assert SDK_MACHINERY <= set(by_sdk.headers) and not SDK_MACHINERY & set(plain.headers)
    assert "content-type" not in by_sdk.headers and "content-type" not in plain.headers


@pytest.fixture
def connects(monkeypatch):
    """The TCP connections plain reads open (http.client's connect), and the requests the SDK's pool sends."""
    opened, through_sdk_pool = [], []
    real_connect, real_send = http.client.HTTPConnection.connect, PooledHttpClient.send

    def recording_connect(connection):
        opened.append((connection.host, connection.port))
        return real_connect(connection)

    def recording_send(client, request, **kwargs):
        through_sdk_pool.append(request)
        return real_send(client, request, **kwargs)

    monkeypatch.setattr(http.client.HTTPConnection, "connect", recording_connect)
    monkeypatch.setattr(PooledHttpClient, "send", recording_send)
    return opened, through_sdk_pool


def test_plain_reads_keep_their_connection_alive(team_credential, store, connects):
    opened, through_sdk_pool = connects
    for _ in range(3):
        assert gateway.get_vector_store(team_credential, store["id"])["id"] == store["id"]
    assert len(opened) == 1 and not through_sdk_pool


@pytest.fixture
def with_retries(settings):
    """The default retries (the test settings have none), so that "not retried" can fail."""
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "MAX_RETRIES": 2}


@pytest.mark.parametrize("seen_before_reuse", [True, False], ids=["seen idle", "found on reuse"])
def test_a_connection_closed_while_idle_is_replaced_at_once(
    user, connects, caplog, with_retries, monkeypatch, seen_before_reuse
):
    """OpenAI may close a kept-alive connection between two reads: the read goes out again on a new connection,
    without the gateway's retry and its wait, whether the close shows before the reuse or only in it."""
    if not seen_before_reuse:
        monkeypatch.setattr(plain_reads, "_readable", lambda sock: False)
    opened, _ = connects
    with upstream(close_after_answer=True) as (base_url, asked):
        credential = credential_for(base_url, user)
        for _ in range(3):
            assert gateway.get_vector_store(credential, "vs_abc")["id"] == "vs_abc"

    assert len(asked) == 3 and len(opened) == 3
    assert "Retrying" not in caplog.text


def test_an_answer_too_long_for_one_object_is_refused(team_credential, fake_openai, store, monkeypatch, with_retries):
    monkeypatch.setattr(plain_reads, "MAX_ANSWER_BYTES", 100)  # a vector store's JSON is longer

    with pytest.raises(gateway.OpenAIBadResponse):
        gateway.get_vector_store(team_credential, store["id"])
    assert len(fake_openai.requests_to("GET", f"/vector_stores/{store['id']}")) == 1  # not retried


def test_an_answer_whose_length_is_too_long_is_refused_unread(user):
    """Its Content-Length says so: nothing of it is read (the body never comes; reading it would fail)."""
    with raw_upstream(HEAD + b"Content-Length: 1000000000\r\n\r\n" + STORE_JSON) as base_url:
        with pytest.raises(gateway.OpenAIBadResponse):
            gateway.get_vector_store(credential_for(base_url, user), "vs_a")


def test_behind_a_proxy_reads_go_through_the_sdk_clients_pool(team_credential, store, connects, monkeypatch):
    """http.client knows nothing of proxies; httpx2, the SDK's client, honours the environment's."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # so that the fake, on 127.0.0.1, is reached directly
    opened, through_sdk_pool = connects

    assert gateway.get_vector_store(team_credential, store["id"])["id"] == store["id"]

    [request] = through_sdk_pool
    assert request.url.path == f"/v1/vector_stores/{store['id']}" and not opened
    assert not SDK_MACHINERY & set(request.headers)  # sent by PlainReads, not by the SDK


def test_an_id_is_one_path_segment(team_credential, fake_openai):
    with pytest.raises(gateway.OpenAINotFound):
        gateway.get_file(team_credential, "../vector_stores")
    assert [request.path for request in fake_openai.requests_to("GET", "/files")] == ["/files/..%2Fvector_stores"]


def test_an_answer_in_an_encoding_never_asked_for_is_refused(team_credential, fake_openai, store, with_retries):
    """A plain read asks for no Content-Encoding: a compressed answer is not decompressed (its size could be a
    thousand times its length), but refused, and not asked again."""
    fake_openai.fail("GET", rf"/vector_stores/{store['id']}$", 200, body="gzip?", headers={"content-encoding": "gzip"})

    with pytest.raises(gateway.OpenAIBadResponse):
        gateway.get_vector_store(team_credential, store["id"])
    assert len(fake_openai.requests_to("GET", f"/vector_stores/{store['id']}")) == 1


def test_a_dot_segment_stays_a_segment(team_credential, fake_openai):
    with pytest.raises(gateway.OpenAINotFound):
        gateway.get_file(team_credential, "..")
    assert [request.path for request in fake_openai.requests_to("GET", "/files")] == ["/files/%2E%2E"]


def test_an_informational_answer_is_never_taken_for_the_answer(user):
    """http.client skips only 100 Continue; any other 1xx is a fault, not an empty answer (whose real answer
    would then be read as the next request's)."""
    with upstream(informational=True) as (base_url, asked):
        credential = credential_for(base_url, user)
        with pytest.raises(gateway.OpenAIUnreachable):
            gateway.get_vector_store(credential, "vs_a")
        with pytest.raises(gateway.OpenAIUnreachable):
            gateway.get_vector_store(credential, "vs_b")
    assert asked == ["/v1/vector_stores/vs_a", "/v1/vector_stores/vs_b"]


def test_headers_beyond_ascii_are_read(user):
    """http.client reads header bytes as Latin-1; the answer's headers give them back as they came."""
    with upstream(extra_headers={"X-Note": "café"}) as (base_url, _):
        credential = credential_for(base_url, user)
        answer = client.request(client.clients.plain(credential).get, "vector_stores", "vs_a", expect="vector_store")
    assert answer.data["id"] == "vs_a"
    assert answer.headers["x-note"] == "café"
    assert (b"X-Note", b"caf\xe9") in answer.headers.raw  # the bytes that came, not another encoding of them


def test_an_idle_connection_is_dropped_after_the_keepalive_expiry(user, connects, monkeypatch):
    monkeypatch.setattr(plain_reads, "KEEPALIVE_EXPIRY", 0.0)
    opened, _ = connects
    with upstream() as (base_url, asked):
        credential = credential_for(base_url, user)
        for _ in range(2):
            assert gateway.get_vector_store(credential, "vs_a")["id"] == "vs_a"
    assert len(asked) == 2 and len(opened) == 2


@pytest.mark.parametrize(
    ("base_url", "connected_to"),
    [
        ("https://straße.example/v1", ("xn--strae-oqa.example", 443)),  # IDNA 2008, as httpx2 sends it
        ("http://[::1]/v1", ("::1", 80)),  # not host ":" and port 1
    ],
)
def test_the_host_connected_to_is_the_base_urls(user, settings, monkeypatch, base_url, connected_to):
    settings.OPENAI_CREDENTIALS = {"ALLOWED_BASE_URL_HOSTS": ["straße.example", "[::1]"]}
    addresses = []

    def refuse(address, *args, **kwargs):
        addresses.append(address)
        raise ConnectionRefusedError

    monkeypatch.setattr(socket, "create_connection", refuse)

    with pytest.raises(gateway.OpenAIUnreachable):
        gateway.get_vector_store(credential_for(base_url, user), "vs_a")
    assert addresses == [connected_to]


def test_an_ipv6_base_url_is_read_from(user):
    with upstream(host="::1") as (base_url, asked):
        assert gateway.get_vector_store(credential_for(base_url, user), "vs_a")["id"] == "vs_a"
    assert asked == ["/v1/vector_stores/vs_a"]


def credential_for(base_url, user):
    credential = Credential.objects.create(name="Another upstream", api_key=TEST_API_KEY, base_url=base_url)
    credential.users.add(user)
    return credential


@contextlib.contextmanager
def upstream(*, host="127.0.0.1", tls_files=None, close_after_answer=False, informational=False, extra_headers=None):
    """An upstream answering every GET with a vector store: (its base URL, the paths it was asked).

    `tls_files`: (certificate, key) to serve HTTPS with. `close_after_answer`: close each connection once it is
    answered, although the answer says nothing of it (as a server does to a connection idle too long).
    `informational`: send `103 Early Hints` first. `extra_headers`: more headers for each answer."""
    asked = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            asked.append(self.path)
            if informational:
                self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n")
            body = json.dumps({"id": self.path.rsplit("/", 1)[-1], "object": "vector_store"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra_headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = close_after_answer

        def log_message(self, *args):
            pass

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = type("Server", (http.server.ThreadingHTTPServer,), {"address_family": family})((host, 0), Handler)
    if tls_files:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls_files)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        netloc = f"[{host}]" if ":" in host else host
        yield f"{'https' if tls_files else 'http'}://{netloc}:{server.server_port}/v1", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- how an answer's body ends ----------------------------------------------------------------------------

STORE_JSON = b'{"id": "vs_a", "object": "vector_store"}'


@contextlib.contextmanager
def raw_upstream(answer):
    """An upstream that answers every request with the bytes `answer`, then closes the connection: its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stopping = threading.Event()

    def serve():
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += connection.recv(4096)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        stopping.set()
        thread.join()
        listener.close()


def chunked(body):
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize(
    "answer",
    [
        HEAD + b"Connection: close\r\n\r\n" + STORE_JSON,  # no length: the body ends with the connection
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(STORE_JSON),
        HEAD + b"Content-Length: %d\r\n\r\n" % len(STORE_JSON) + STORE_JSON,
    ],
    ids=["to the close", "chunked", "sized"],
)
def test_a_whole_body_is_read_however_it_ends(user, answer):
    with raw_upstream(answer) as base_url:
        assert gateway.get_vector_store(credential_for(base_url, user), "vs_a")["id"] == "vs_a"


@pytest.mark.parametrize(
    "answer",
    [
        HEAD + b"Connection: close\r\n\r\n" + STORE_JSON,
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(STORE_JSON),
    ],
    ids=["to the close", "chunked"],
)
def test_an_unsized_answer_too_long_for_one_object_is_refused(user, monkeypatch, answer):
    """No length to refuse it by: it is read up to the limit, and refused there."""
    monkeypatch.setattr(plain_reads, "MAX_ANSWER_BYTES", len(STORE_JSON) - 1)
    with raw_upstream(answer) as base_url, pytest.raises(gateway.OpenAIBadResponse):
        gateway.get_vector_store(credential_for(base_url, user), "vs_a")


@pytest.mark.parametrize(
    "answer",
    [
        HEAD + b"Content-Length: 50\r\n\r\n",  # nothing of it
        HEAD + b"Content-Length: 50\r\n\r\n" + STORE_JSON[:10],
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(STORE_JSON)[:20],
    ],
    ids=["sized, no byte", "sized, part", "chunked, part"],
)
def test_a_body_cut_short_is_a_connection_fault(user, answer):
    """Not an answer this server cannot read (a 502 never retried): the connection failed, and a read is retried."""
    with raw_upstream(answer) as base_url, pytest.raises(gateway.OpenAIUnreachable):
        gateway.get_vector_store(credential_for(base_url, user), "vs_a")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed(user, read_store, status):
    """Not even to the same host: where a request goes is the credential's base URL, nothing else."""
    with upstream() as (elsewhere, asked_elsewhere):
        head = f"HTTP/1.1 {status} Moved\r\nLocation: {elsewhere}/vector_stores/vs_abc\r\n".encode()
        # With a body that would pass for the store: only the status can refuse it.
        answer = head + b"Content-Length: %d\r\n\r\n" % len(STORE_JSON) + STORE_JSON
        with raw_upstream(answer) as base_url, pytest.raises(gateway.OpenAIBadResponse):
            read_store(credential_for(base_url, user), "vs_abc")
    assert asked_elsewhere == []


# --- answers through the SDK --------------------------------------------------------------------------------


def sdk_list(credential):
    return client.call(client.clients.get(credential).vector_stores.with_raw_response.list, expect="list")


LIST_JSON = b'{"object": "list", "data": [' + b", ".join([STORE_JSON] * 40) + b'], "has_more": false}'


@pytest.mark.parametrize(
    "answer",
    [
        HEAD + b"Content-Length: %d\r\n\r\n" % len(LIST_JSON) + LIST_JSON,
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(LIST_JSON),
        HEAD + b"Connection: close\r\n\r\n" + LIST_JSON,
        HEAD
        + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(gzip.compress(b"{}"))
        + gzip.compress(b"{}"),
    ],
    ids=["sized", "chunked", "to the close", "gzip, unasked"],
)
def test_an_sdk_answer_longer_than_the_cap_or_encoded_is_refused(user, monkeypatch, answer):
    monkeypatch.setattr(plain_reads, "MAX_SDK_ANSWER_BYTES", len(LIST_JSON) - 1)
    with raw_upstream(answer) as base_url, pytest.raises(gateway.OpenAIBadResponse):
        sdk_list(credential_for(base_url, user))


def test_an_sdk_answer_up_to_the_cap_is_read(user, monkeypatch):
    monkeypatch.setattr(plain_reads, "MAX_SDK_ANSWER_BYTES", len(LIST_JSON))
    answer = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(LIST_JSON)
    with raw_upstream(answer) as base_url:
        assert len(sdk_list(credential_for(base_url, user))["data"]) == 40


def test_a_long_list_is_a_502_asked_once(api, url, fake_openai, monkeypatch):
    """Not retried: it would come the same way again."""
    for n in range(30):
        fake_openai.create_vector_store(name=f"store {n}")
    monkeypatch.setattr(plain_reads, "MAX_SDK_ANSWER_BYTES", 2000)
    response = api.get(url(limit=30))
    assert (response.status_code, response.json()["code"]) == (502, "openai_bad_response")
    assert len(fake_openai.requests_to("GET", "/vector_stores")) == 1


# --- TLS ------------------------------------------------------------------------------------------------------


@pytest.fixture
def tls_upstream(tmp_path):
    """An HTTPS upstream with a self-signed certificate for 127.0.0.1: (its base URL, the certificate's file,
    the paths it was asked for)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with upstream(tls_files=(cert_file, key_file)) as (base_url, asked):
        yield base_url, cert_file, asked


@pytest.fixture(params=["plain read", "SDK call"])
def read_store(request):
    """GET a vector store by a plain read, or through the SDK client (which shares the plain reads' TLS context)."""
    if request.param == "plain read":
        return gateway.get_vector_store
    return lambda credential, store_id: client.call(
        client.clients.get(credential).vector_stores.with_raw_response.retrieve, store_id, expect="vector_store"
    )


def test_a_certificate_the_site_does_not_trust_gets_no_request(tls_upstream, user, monkeypatch, read_store):
    base_url, _, asked = tls_upstream
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    credential = credential_for(base_url, user)

    with pytest.raises(gateway.OpenAIUnreachable):
        read_store(credential, "vs_abc")
    assert asked == []  # the handshake failed: no request, no key, was sent


def test_a_certificate_trusted_as_the_sdk_trusts_it_is_read_from(tls_upstream, user, monkeypatch, read_store):
    """SSL_CERT_FILE, which httpx2 honours, is honoured by plain reads and SDK calls alike."""
    base_url, cert_file, asked = tls_upstream
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    credential = credential_for(base_url, user)

    assert read_store(credential, "vs_abc")["id"] == "vs_abc"
    assert asked == ["/v1/vector_stores/vs_abc"]


def test_a_trusted_certificate_for_another_host_gets_no_request(tls_upstream, user, monkeypatch, read_store):
    """The certificate names 127.0.0.1 only: trusted, it still does not vouch for localhost."""
    base_url, cert_file, asked = tls_upstream
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    credential = credential_for(base_url.replace("127.0.0.1", "localhost"), user)

    with pytest.raises(gateway.OpenAIUnreachable):
        read_store(credential, "vs_abc")
    assert asked == []
