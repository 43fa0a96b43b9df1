"""HTTP plumbing: the threaded server, authentication, request recording and fault injection."""

from __future__ import annotations

import copy
import http.client
import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from .multipart import MultipartError, parse_multipart
from .routes import Call, match_route, upload_file
from .state import FakeState
from .validation import ApiError, invalid, not_found

_HOST = "127.0.0.1"  # the fake serves on loopback only
READ_SIZE = 1024 * 1024  # the largest piece of a request body read at once
# The key a FakeOpenAI accepts unless it is given others (and the pytest plugin's default).
FAKE_API_KEY = "sk-fake-openai-test-key-0123456789abcdef"

_MALFORMED_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library "
    "correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
)
_MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth "
    "(i.e. Authorization: Bearer YOUR_KEY)."
)


@dataclass
class RecordedRequest:
    """One request the fake received, as `FakeOpenAI.requests` keeps it (bodies decoded)."""

    method: str
    path: str  # relative to /v1, without the query string
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    filenames: list[bytes] = field(default_factory=list)  # raw bytes as sent on the wire
    decoded_filenames: list[str] = field(default_factory=list)
    file_sizes: list[int] = field(default_factory=list)
    # time.monotonic() when the fake started handling the request (its body read) and when its answer
    # was ready; answered_at stays None while the request is in flight (e.g. held by a delay).
    received_at: float | None = None
    answered_at: float | None = None


def peak_overlap(requests: Iterable[RecordedRequest]) -> int:
    """The most of `requests` the fake was handling at the same moment (one still in flight counts until now).

    A request answered at the very instant another arrives does not overlap it.
    """
    events = []
    for request in requests:
        if request.received_at is None:
            continue
        events.append((request.received_at, 1))
        events.append((request.answered_at if request.answered_at is not None else float("inf"), -1))
    peak = current = 0
    for _, change in sorted(events):  # at the same instant, -1 sorts first: an end before a start
        current += change
        peak = max(peak, current)
    return peak


@dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int
    # "before": close the connection without acting; "after": act, then lose the answer.
    drop: str | None = None


# handle()'s answer for "close the connection mid-answer".
DROPPED: tuple[int, bytes, dict[str, str]] = (0, b"", {})


@dataclass
class _Delay:
    method: str
    path: re.Pattern[str]
    seconds: float


def _mask_key(key: str) -> str:
    """Hide most of a key like OpenAI's 401 message does; short keys show only their start."""
    head, tail = (key[:5], key[-4:]) if len(key) >= 16 else (key[:2], "")
    return head + "*" * (len(key) - len(head) - len(tail)) + tail


def _default_fault_error(status: int) -> ApiError:
    if status == 429:
        return ApiError(
            429, "Rate limit reached for requests. Please try again later.", type="requests", code="rate_limit_exceeded"
        )
    if status >= 500:
        return ApiError(
            status, "The server had an error while processing your request. Sorry about that!", type="server_error"
        )
    return ApiError(status, f"Injected fault: {status} {http.client.responses.get(status, 'Error')}.")


def _parse_request(
    method: str, path: str, query_string: str, headers: dict[str, str], raw_body: bytes
) -> tuple[RecordedRequest, Call, ApiError | None]:
    """Decode a request once, for both the record and the handler; a body error is returned, not raised."""
    query = dict(parse_qsl(query_string, keep_blank_values=True))  # dict() keeps the last repeated value
    request = RecordedRequest(method, path, query, headers)
    call = Call(params={}, query=query)
    content_type = headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        try:
            call.form, call.files = parse_multipart(content_type, raw_body)
        except MultipartError as error:
            return request, call, invalid(f"Could not parse the multipart body: {error}.")
        request.form = dict(call.form)
        request.filenames = [part.raw_filename for part in call.files]
        request.decoded_filenames = [part.filename for part in call.files]
        request.file_sizes = [len(part.content) for part in call.files]
    elif raw_body:
        try:
            request.json = json.loads(raw_body)
        except ValueError:
            return request, call, invalid(_MALFORMED_JSON)
        if not isinstance(request.json, dict):
            return request, call, invalid("Invalid body: expected a JSON object.")
        call.body = copy.deepcopy(request.json)  # state may keep parts of it; keep the record pristine
    return request, call, None


class FakeOpenAI(FakeState):
    """A stateful fake of the Vector Stores + Files API served over real HTTP on 127.0.0.1.

    `with FakeOpenAI() as fake:` starts it on a free port and always stops it; `start()` and `stop()`
    do the same by hand. Only requests whose `Authorization: Bearer` key is in `api_keys` are answered
    (default: FAKE_API_KEY alone); others get OpenAI's 401.
    """

    def __init__(self, api_keys: Iterable[str] = (FAKE_API_KEY,)) -> None:
        super().__init__()
        self._initial_api_keys = frozenset(api_keys)
        self.api_keys: set[str] = set(self._initial_api_keys)
        self.requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._generation = 0  # bumped by reset()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def handler_class(self) -> type[FakeOpenAIHandler]:
        """The request handler of each connection: a subclass may return a FakeOpenAIHandler subclass."""
        return FakeOpenAIHandler

    def start(self) -> None:
        """Serve on 127.0.0.1, on a free port (see `base_url`), from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeOpenAI is already started")
        self._server = _Server((_HOST, 0), self.handler_class())
        self._server.fake = self
        # A short poll interval keeps stop() quick: shutdown() waits for the loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        """The URL to give the SDK or a credential: `http://127.0.0.1:<port>/v1`."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started")
        return f"http://{_HOST}:{self._server.server_port}/v1"

    @property
    def running(self) -> bool:
        """Whether the fake is started (and not stopped since)."""
        return self._server is not None

    def stop(self) -> None:
        """Stop serving and close the port; does nothing if not started."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget all state and test setup; keys removed by a test come back, keys added stay."""
        with self.lock:
            super().reset()
            self._generation += 1
            self.requests.clear()
            self._faults.clear()
            self._delays.clear()
            self.api_keys |= self._initial_api_keys

    # --- test helpers ---

    def requests_to(self, method: str, path_prefix: str) -> list[RecordedRequest]:
        """The recorded `method` requests whose path (relative to /v1) starts with `path_prefix`."""
        with self.lock:
            return [
                request
                for request in self.requests
                if request.method == method.upper() and request.path.startswith(path_prefix)
            ]

    def peak_overlap(self, method: str, path_prefix: str) -> int:
        """The most `requests_to(method, path_prefix)` the fake was handling at the same moment, by its
        own clock (`received_at` to `answered_at`): how concurrent the callers really were at OpenAI."""
        return peak_overlap(self.requests_to(method, path_prefix))

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests with `status` instead of handling them."""
        with self.lock:
            self._faults.append(
                _Fault(method.upper(), re.compile(path_regex), status, body, dict(headers or {}), times)
            )

    def drop(self, method: str, path_regex: str, *, after_processing: bool = False, times: int = 1) -> None:
        """Close the connection mid-answer for the next `times` matching requests.

        With `after_processing` the request takes effect first: the answer is lost on its way back.
        """
        with self.lock:
            self._faults.append(
                _Fault(
                    method.upper(),
                    re.compile(path_regex),
                    0,
                    None,
                    {},
                    times,
                    drop="after" if after_processing else "before",
                )
            )

    def delay(self, method: str, path_regex: str, seconds: float) -> None:
        """Wait `seconds` before answering every matching request, until `reset()`."""
        with self.lock:
            self._delays.append(_Delay(method.upper(), re.compile(path_regex), seconds))

    # --- request handling ---

    def handle(self, method: str, target: str, headers: dict[str, str], raw_body: bytes) -> tuple[int, bytes, dict]:
        """Answer one HTTP request, recorded with when it came (`received_at`) and when its answer was ready
        (`answered_at`); returns (status, body, headers)."""
        received_at = time.monotonic()
        url = urlsplit(target)
        in_api = url.path.startswith("/v1/")
        path = url.path[3:] if in_api else url.path
        request, call, body_error = _parse_request(method, path, url.query, headers, raw_body)
        request.received_at = received_at
        with self.lock:
            self.requests.append(request)
            delay = sum(rule.seconds for rule in self._delays if rule.method == method and rule.path.fullmatch(path))
            generation = self._generation
        try:
            time.sleep(delay)  # outside the lock, so other requests keep flowing meanwhile
            if generation != self._generation:
                return DROPPED  # sent before a reset(): its test is over and must not touch the next one's state
            try:
                self._authenticate(headers.get("authorization", ""))
                fault = self._take_fault(method, path)
                if fault is not None and fault.drop != "after":
                    return self._fault_response(fault)
                if not in_api:
                    raise not_found(f"Invalid URL ({method} {url.path})")
                handler, call.params = match_route(method, path)
                if body_error is not None:
                    raise body_error
                if handler is upload_file:
                    time.sleep(self.upload_delay)  # also outside the lock: concurrent uploads overlap
                with self.lock:
                    self.settle_due_batches()
                    result = handler(self, call)
                    body, extra_headers = result if isinstance(result, tuple) else (result, {})
                    # Serialise while still locked: handlers return the live state dicts (or bytes, sent as they are).
                    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                return DROPPED if fault is not None else self._response(200, payload, extra_headers)
            except ApiError as error:
                return self._response(error.status, json.dumps(error.body()).encode())
            except Exception as error:  # a bug in the fake: answer 500 legibly instead of dropping the connection
                traceback.print_exc()
                bug = ApiError(500, f"FakeOpenAI crashed: {error!r}", type="server_error")
                return self._response(500, json.dumps(bug.body()).encode())
        finally:
            # Whatever ends it (an answer, a fault, a dropped connection, a crash): the answer is ready.
            request.answered_at = time.monotonic()

    def _authenticate(self, authorization: str) -> None:
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(401, _MISSING_KEY)
        if key not in self.api_keys:
            raise ApiError(
                401,
                f"Incorrect API key provided: {_mask_key(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.method == method and fault.path.fullmatch(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _fault_response(self, fault: _Fault) -> tuple[int, bytes, dict]:
        if fault.drop:
            return DROPPED
        if fault.body is None:
            payload = json.dumps(_default_fault_error(fault.status).body()).encode()
        elif isinstance(fault.body, (bytes, str)):
            payload = fault.body.encode() if isinstance(fault.body, str) else fault.body
        else:
            payload = json.dumps(fault.body).encode()
        return self._response(fault.status, payload, fault.headers)

    @staticmethod
    def _response(status: int, payload: bytes, extra_headers: dict[str, str] | None = None) -> tuple[int, bytes, dict]:
        headers = {"Content-Type": "application/json", "x-request-id": f"req_{uuid.uuid4().hex}"}
        return status, payload, {**headers, **(extra_headers or {})}


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not block interpreter exit
    request_queue_size = 128  # the default 5 makes the kernel reset bursts of new connections
    fake: FakeOpenAI

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout under test) is expected; anything else is a bug worth a traceback.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class FakeOpenAIHandler(BaseHTTPRequestHandler):
    """The fake's HTTP request handler. A subclass may override `read_body()`, e.g. to keep less of a
    large body, reading it through `body_pieces()`; `self.server.fake` is the FakeOpenAI."""

    protocol_version = "HTTP/1.1"  # keep-alive, so the SDK's connection pool can reuse connections
    # Headers and body are separate writes; without TCP_NODELAY each answer waits ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.server.fake.handle(self.command, self.path, headers, self.read_body())
        if answer is DROPPED:
            # Half an answer, then the connection goes: what a crashed server or a cut network looks like.
            self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id')
            self.wfile.flush()
            self.close_connection = True
            return
        status, payload, response_headers = answer
        self.send_response(status)
        for name, value in response_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    def read_body(self) -> bytes:
        """The whole request body, as the fake will parse it."""
        return b"".join(self.body_pieces())

    def body_pieces(self) -> Iterator[bytes]:
        """The request body as it arrives, READ_SIZE bytes at a time at most."""
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            yield from self._pieces(int(self.headers.get("Content-Length") or 0))
            return
        # httpx2 streams unsized uploads in chunks.
        while size := int(self.rfile.readline().split(b";")[0], 16):
            if not (yield from self._pieces(size)):
                return
            self.rfile.readline()  # CRLF after each chunk
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # optional trailers
            pass

    def _pieces(self, size: int) -> Generator[bytes, None, bool]:
        """The next `size` bytes of the body; returns False if the body ends first."""
        while size > 0:
            piece = self.rfile.read(min(READ_SIZE, size))
            if not piece:
                return False
            size -= len(piece)
            yield piece
        return True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging; tests inspect `FakeOpenAI.requests` instead."""
