"""GETs of one OpenAI object (a store, a store's file, a batch, a File) as plain HTTP/1.1 requests.

Every API call that proxies one object makes one such GET, and the HTTP client's own work was the largest
share of a proxied GET's CPU (bench figure 1). Measured per GET in one thread against the fake, on keep-alive
connections (docs/performance.md, "The hot path, issue 14"): a plain request on the SDK client's httpx2 pool
0.42–0.54 ms, httpx2's transport alone 0.31 ms, urllib3 0.20–0.25 ms, the standard library's `http.client`
0.11 ms. So these reads use `http.client`, on keep-alive connections of their own (`KeepAliveConnections`,
one pool per SDK client, replaced with it), with the SDK client's base URL and headers and httpx2's TLS
context (certificates verified, `SSL_CERT_FILE`/`SSL_CERT_DIR` honoured, as the SDK's client does).

Faults are raised as the SDK's exceptions, carrying httpx2 requests and responses, so that `client.request`
retries and maps them exactly as it does the SDK's: a body cut short, an informational answer or a connection
that fails is a connection error. What an answer may not be is refused as OpenAIBadResponse, never retried:
longer than MAX_ANSWER_BYTES, or in a Content-Encoding (http.client asks for none). When a proxy is
configured (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, or the system's on macOS and Windows), which httpx2
honours and `http.client` does not, the reads go through the SDK client's httpx2 pool instead.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import os
import select
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import quote

import httpx2
import openai

from .exceptions import OpenAIBadResponse

# Idle connections a pool keeps for the next reads; more at once are opened, used once and closed.
MAX_IDLE_CONNECTIONS = 32
# Seconds an idle connection is kept (httpcore's default, the SDK client's too).
KEEPALIVE_EXPIRY = 5.0
DEFAULT_PORTS = {"http": 80, "https": 443}
# One object's JSON is a few KiB: a longer answer is refused, unread when its length says so (a hostile
# or broken upstream cannot make a worker hold gigabytes).
MAX_ANSWER_BYTES = 8 * 1024 * 1024
# The longest answer read through the SDK: a list page of 100 objects, search results or a page of a file's
# content take a few MiB at most.
MAX_SDK_ANSWER_BYTES = 64 * 1024 * 1024
# Exceptions of a request on a kept-alive connection that the server closed while it was idle.
_CLOSED_WHILE_IDLE = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)  # RemoteDisconnected too


@dataclass
class RawAnswer:
    """An answer as the gateway reads it: its status, headers and content, and the httpx2 response (which
    errors carry), as the SDK's raw responses have them."""

    http_response: httpx2.Response

    @property
    def status_code(self):
        return self.http_response.status_code

    @property
    def headers(self):
        return self.http_response.headers

    @property
    def content(self):
        return self.http_response.content


class PlainAnswer:
    """A plain read's answer, read as a RawAnswer is; its headers and httpx2 response are built only when
    something asks for them (an error, a poll), since building them costs more than the rest of reading it."""

    def __init__(self, status_code, headers, content, request):
        self.status_code = status_code
        self._headers = headers  # as http.client read them: (name, value) pairs
        self.content = content
        self._request = request  # () -> the httpx2 request

    @functools.cached_property
    def headers(self):
        # http.client decodes header bytes as Latin-1; httpx2 takes them back as the bytes they were.
        return httpx2.Headers([(name.encode("latin-1"), value.encode("latin-1")) for name, value in self._headers])

    @functools.cached_property
    def http_response(self):
        return httpx2.Response(self.status_code, headers=self.headers, content=self.content, request=self._request())


class PlainReads:
    """GETs of one object under an SDK client's base URL, with its headers, outside its request machinery."""

    def __init__(self, client: openai.OpenAI, http: httpx2.Client):
        base = httpx2.URL(str(client.base_url))
        self._base_url = str(base).rstrip("/")
        self._base_path = base.raw_path.decode("ascii").rstrip("/")
        # What the SDK sends on every call (its Omit placeholders left out) and on every vector store call;
        # not its Content-Type, as a GET has no body (the SDK's own GETs send none).
        headers = {**client.auth_headers, **client.default_headers, "OpenAI-Beta": "assistants=v2"}
        self._headers = {
            name: value for name, value in headers.items() if isinstance(value, str) and name != "Content-Type"
        }
        self._http = http
        self._connections = None if _proxy_configured() else KeepAliveConnections(base)

    def get(self, *segments: str, timeout: float) -> RawAnswer | PlainAnswer:
        suffix = "/".join(_path_segment(segment) for segment in segments)
        url = f"{self._base_url}/{suffix}"
        if self._connections is None:
            return self._get_through_httpx(url, timeout)
        request = functools.partial(httpx2.Request, "GET", url, headers=self._headers)
        try:
            status, headers, body = self._connections.get(f"{self._base_path}/{suffix}", self._headers, timeout)
        except TimeoutError as exc:
            raise openai.APITimeoutError(request=request()) from exc
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, cut off, TLS refused, garbled
            raise openai.APIConnectionError(request=request()) from exc
        return _checked(PlainAnswer(status, headers, body, request))

    def _get_through_httpx(self, url, timeout):
        try:
            response = self._http.get(url, headers=self._headers, timeout=timeout)
        except httpx2.TimeoutException as exc:
            raise openai.APITimeoutError(request=exc.request) from exc
        except (httpx2.RequestError, ssl.SSLError) as exc:  # refused, reset, cut off, undecodable: as the SDK says
            raise openai.APIConnectionError(request=_request_of(exc, url)) from exc
        return _checked(RawAnswer(response))


class KeepAliveConnections:
    """`http.client` connections to one origin, kept alive between requests for any thread to take, one
    request at a time each. An idle connection is dropped after KEEPALIVE_EXPIRY seconds, or as soon as the
    server is found to have closed it (or sent something unasked) while it sat idle."""

    def __init__(self, base: httpx2.URL):
        # The host as httpx2 sends it (IDNA 2008, an IPv6 address without its brackets) and always a port,
        # so that http.client never reads one out of an IPv6 address.
        host, port = base.raw_host.decode("ascii"), base.port or DEFAULT_PORTS.get(base.scheme)
        if base.scheme == "https":
            context = tls_context()
            self._new_connection = lambda timeout: http.client.HTTPSConnection(
                host, port, timeout=timeout, context=context
            )
        elif base.scheme == "http":
            self._new_connection = lambda timeout: http.client.HTTPConnection(host, port, timeout=timeout)
        else:
            raise ValueError(f"Not an HTTP URL scheme: {base.scheme!r}")
        self._idle = []  # (connection, idle since), oldest first
        self._lock = threading.Lock()

    def get(self, path: str, headers: dict[str, str], timeout: float) -> tuple[int, list, bytes]:
        """The status, headers and body of `GET path`; raises OSError or http.client.HTTPException, or
        OpenAIBadResponse for an answer that is no object's (too long, or in an encoding never asked for)."""
        deadline = time.monotonic() + timeout
        connection = self._take_idle()
        if connection is not None:
            try:
                return self._exchange(connection, path, headers, timeout)
            except _CLOSED_WHILE_IDLE:
                pass  # the server let it go while it sat idle: once more, on a new connection (a GET is safe)
        timeout = max(deadline - time.monotonic(), 0.001)
        return self._exchange(self._new_connection(timeout), path, headers, timeout)

    def _take_idle(self):
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._idle:
                    return None
                connection, idle_since = self._idle.pop()
            if now - idle_since < KEEPALIVE_EXPIRY and not _readable(connection.sock):
                return connection
            connection.close()

    def _exchange(self, connection, path, headers, timeout):
        try:
            connection.timeout = timeout  # for connecting (and the TLS handshake)
            if connection.sock is not None:
                connection.sock.settimeout(timeout)  # each read and write of a kept-alive connection
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = _read_answer(response)
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            self._keep(connection)
        return response.status, response.getheaders(), body

    def _keep(self, connection):
        now = time.monotonic()
        with self._lock:
            while self._idle and now - self._idle[0][1] >= KEEPALIVE_EXPIRY:
                self._idle.pop(0)[0].close()
            if len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append((connection, now))
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection, _ in idle:
            connection.close()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()


def _read_answer(response):
    """The whole body of an answer to a GET of one object; raises http.client.IncompleteRead when the
    connection ends before the body does, and OpenAIBadResponse for a body no object has."""
    if response.status < 200:  # an informational answer (http.client skips only 100): OpenAI sends none
        raise http.client.HTTPException(f"An informational answer ({response.status}) where an answer was due")
    encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":  # http.client asks for identity: nothing else is decoded here
        raise OpenAIBadResponse(f"OpenAI's answer came in an encoding this server did not ask for ({encoding}).")
    if response.length is not None and response.length > MAX_ANSWER_BYTES:
        raise OpenAIBadResponse(f"OpenAI's answer was longer than {MAX_ANSWER_BYTES} bytes.")
    body = response.read(MAX_ANSWER_BYTES + 1)  # unsized answers (chunked, or up to the close) too
    if len(body) > MAX_ANSWER_BYTES:
        raise OpenAIBadResponse(f"OpenAI's answer was longer than {MAX_ANSWER_BYTES} bytes.")
    # read(amt) returns what came before the connection ended, without a word: bytes still owed by the length
    # mean it ended early. (http.client raises IncompleteRead itself for chunks cut short, and a body with
    # neither ends with the connection, read whole above.)
    if response.length:
        raise http.client.IncompleteRead(body)
    response.close()
    return body


class AnswerTooLong(openai.OpenAIError):
    """An answer from OpenAI longer than this server reads, or encoded when none was asked for. An OpenAIError,
    so that the SDK passes it on as it is (any other exception it would call a connection error, and retry)."""


class _CappedStream(httpx2.SyncByteStream):
    def __init__(self, stream, limit):
        self._stream, self._limit = stream, limit

    def __iter__(self):
        read = 0
        for chunk in self._stream:
            read += len(chunk)
            if read > self._limit:
                raise AnswerTooLong(f"OpenAI's answer was longer than {self._limit} bytes.")
            yield chunk

    def close(self):
        self._stream.close()


def refuse_long_answers(response):
    """An httpx2 response hook (the SDK clients'): before the body is read, refuse what its headers already show,
    and read the rest no further than MAX_SDK_ANSWER_BYTES."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise AnswerTooLong(f"OpenAI's answer came in an encoding this server did not ask for ({encoding}).")
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_SDK_ANSWER_BYTES:
        raise AnswerTooLong(f"OpenAI's answer was longer than {MAX_SDK_ANSWER_BYTES} bytes.")
    response.stream = _CappedStream(response.stream, MAX_SDK_ANSWER_BYTES)


def _checked(answer):
    """The answer, or the SDK's exception for any other status than a success (a redirect is not followed)."""
    if not 200 <= answer.status_code < 300:
        response = answer.http_response
        raise openai.APIStatusError(f"Error code: {answer.status_code}", response=response, body=json_or_none(response))
    return answer


def json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


def _path_segment(segment):
    """One segment of the path, whatever it holds: "/" encoded, and "." or ".." too, which a server would
    otherwise resolve to another path."""
    quoted = quote(segment, safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def _readable(sock):
    """Whether a socket has something to read (or its end of file): an idle connection never should."""
    if sock is None:
        return True
    if hasattr(select, "poll"):  # select() refuses file descriptors above 1023
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


def _proxy_configured():
    """Whether a proxy is configured (the environment's, or the system's on macOS and Windows), as httpx2
    finds it."""
    return any(scheme != "no" for scheme in urllib.request.getproxies())


def tls_context():
    """The TLS context every connection to OpenAI verifies with, the SDK clients' included: made once, as
    loading the CA certificates costs about 40 ms and 0.8 MB (the SDK's client would load them per client)."""
    return _tls_context_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _tls_context_for(cert_file, cert_dir):
    """httpx2's context, as the SDK's client verifies with; it reads these two variables itself, so they key it."""
    return httpx2.create_ssl_context()


def _request_of(exc, url):
    """The request an httpx2 error was raised for (an SSL error, or a decoding one, may not carry it)."""
    try:
        return exc.request
    except (AttributeError, RuntimeError):
        return httpx2.Request("GET", url)
