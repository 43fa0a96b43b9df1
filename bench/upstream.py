"""The upstream: the package's fake OpenAI (vectorstores.testing), in a process of its own, steered by the driver.

Its own process, so that the fake never competes for a GIL with the driver's clients and shares
nothing with the server workers being measured: like OpenAI, it is somewhere else.

One change to the fake, made here through its public hooks (`handler_class()` and the handler's
`read_body()`), so the fake itself stays what the tests use: a request body over LARGE_BODY bytes
is read as it streams in and dropped except for its first and last KEEP bytes. The fake would
otherwise hold a 1 GiB upload several times over in memory. The multipart structure survives (part
headers at the start, closing boundary at the end), so the fake still answers with a File object,
and the body's full size is recorded (`large_bodies()`), which proves the whole file reached the
upstream.
"""

import multiprocessing
import re
import traceback

from vectorstores.testing import FakeOpenAI, FakeOpenAIHandler

LARGE_BODY = 8 * 1024 * 1024
KEEP = 64 * 1024
START_TIMEOUT = 30.0
CALL_TIMEOUT = 120.0


class _BodyKeeper:
    """Keeps a body whole up to LARGE_BODY bytes; past that, only its first and last KEEP bytes."""

    def __init__(self):
        self.total = 0
        self.whole = bytearray()
        self.head = None  # set once the body is found to be large
        self.tail = bytearray()

    def add(self, chunk):
        self.total += len(chunk)
        if self.head is None:
            self.whole += chunk
            if len(self.whole) <= LARGE_BODY:
                return
            self.head, self.tail, self.whole = bytes(self.whole[:KEEP]), self.whole[KEEP:], None
        else:
            self.tail += chunk
        if len(self.tail) > 4 * KEEP:
            del self.tail[:-KEEP]

    @property
    def large(self):
        return self.head is not None

    def body(self):
        return bytes(self.whole) if self.head is None else self.head + bytes(self.tail[-KEEP:])


class _DiscardingHandler(FakeOpenAIHandler):
    """The fake's request handler, reading bodies in pieces and keeping a large one's ends only."""

    def read_body(self):
        keeper = _BodyKeeper()
        for piece in self.body_pieces():
            keeper.add(piece)
        if keeper.large:
            self.server.fake.record_large_body(keeper.total)
        return keeper.body()


class BenchFake(FakeOpenAI):
    """FakeOpenAI with the discarding handler and a few seeding and reading helpers."""

    def __init__(self, api_keys):
        super().__init__(api_keys=api_keys)
        self._large_bodies = []

    def handler_class(self):
        return _DiscardingHandler

    def record_large_body(self, size):
        with self.lock:
            self._large_bodies.append(size)

    def large_bodies(self):
        with self.lock:
            return list(self._large_bodies)

    def configure(self, **knobs):
        """Set processing knobs: upload_delay, batch_processing_time, poll_after_ms."""
        with self.lock:
            for name, value in knobs.items():
                if name not in {"upload_delay", "batch_processing_time", "poll_after_ms"}:
                    raise ValueError(f"unknown knob {name!r}")
                setattr(self, name, value)

    def seed_vector_stores(self, count, prefix="bench"):
        return [self.create_vector_store(name=f"{prefix}-{index}")["id"] for index in range(count)]

    def request_count(self):
        with self.lock:
            return len(self.requests)

    def count_requests(self, method, path_regex):
        pattern = re.compile(path_regex)
        with self.lock:
            return sum(request.method == method and bool(pattern.fullmatch(request.path)) for request in self.requests)

    def forget_requests(self):
        with self.lock:
            self.requests.clear()


def _serve(connection, api_keys):
    """The upstream process: start the fake, then run the driver's calls until it says stop (None)."""
    fake = BenchFake(api_keys)
    fake.start()
    connection.send(fake.base_url)
    try:
        while (message := connection.recv()) is not None:
            name, args, kwargs = message
            try:
                connection.send((True, getattr(fake, name)(*args, **kwargs)))
            except Exception:
                connection.send((False, traceback.format_exc()))
    finally:
        fake.stop()


class Upstream:
    """The driver's handle on the upstream process: `upstream.reset()`, `upstream.delay(...)`, ...

    Every method of BenchFake (and FakeOpenAI) runs in the upstream process; results must pickle.
    """

    def __init__(self, api_key):
        context = multiprocessing.get_context("spawn")  # nothing of the driver's state is inherited
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, [api_key]), name="bench-upstream", daemon=True)
        self.base_url = None

    def __enter__(self):
        self._process.start()
        if not self._connection.poll(START_TIMEOUT):
            self.close()
            raise RuntimeError("the fake OpenAI did not start")
        self.base_url = self._connection.recv()
        return self

    def __exit__(self, *exc_info):
        self.close()

    @property
    def pid(self):
        return self._process.pid

    def call(self, name, *args, **kwargs):
        self._connection.send((name, args, kwargs))
        if not self._connection.poll(CALL_TIMEOUT):
            raise RuntimeError(f"the fake OpenAI did not answer {name}()")
        ok, result = self._connection.recv()
        if not ok:
            raise RuntimeError(f"the fake OpenAI failed in {name}():\n{result}")
        return result

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)

    def close(self):
        if self._process.is_alive():
            try:
                self._connection.send(None)
            except OSError:
                pass
            self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()  # our own child, by its handle
            self._process.join(5)
