"""Where a worker's CPU goes per API call: `python -m bench --only 1 --cpu-breakdown`.

A diagnostic, off by default: bench/settings.py adds `CpuBreakdown` as the first middleware when
BENCH_CPU_PROBE_DIR is set. It wraps a few functions of DRF and of the app to add up the CPU time
(time.thread_time, so waiting for OpenAI is not counted) spent in each, for API calls only, and
every few calls writes the totals of its process to BENCH_CPU_PROBE_DIR/cpu-<pid>.json, which
figure 1 reads. A function that no longer exists is skipped, not an error.
"""

import collections
import functools
import json
import os
import threading
import time
from pathlib import Path

API_PREFIX = "/api/v1/openai-assistants-vector-store"
SKIP_FIRST = 20  # per process: the first calls import code and fill caches
WRITE_EVERY = 25

# (module, attribute path, label): what is timed.
PROBES = [
    ("rest_framework.views", "APIView.dispatch", "DRF dispatch"),
    ("rest_framework.authentication", "TokenAuthentication.authenticate", "token authentication (1 query)"),
    ("vectorstores.ownership", "usable_credential", "access check (1 query)"),
    ("vectorstores.gateway.client", "request", "OpenAI call"),
    ("rest_framework.views", "APIView.check_throttles", "throttles"),
]
# Work an API call leaves for after its response (run by response.close(), outside the middleware).
AFTER_RESPONSE_PROBES = [
    ("vectorstores.api.audit", "_save", "audit INSERT (after the response)"),
]

_lock = threading.Lock()
_totals = collections.Counter()
_state = threading.local()


def _wrap(owner, name, label, after_response):
    real = getattr(owner, name)

    @functools.wraps(real)
    def timed(*args, **kwargs):
        if not after_response and not getattr(_state, "active", False):
            return real(*args, **kwargs)
        started = time.thread_time()
        try:
            return real(*args, **kwargs)
        finally:
            spent = time.thread_time() - started
            if after_response:
                with _lock:
                    if _totals["calls seen"] > SKIP_FIRST:
                        _totals[label] += spent
            else:
                _state.spent[label] += spent

    setattr(owner, name, timed)


def install():
    import importlib

    probes = [(*probe, False) for probe in PROBES] + [(*probe, True) for probe in AFTER_RESPONSE_PROBES]
    for module_name, path, label, after_response in probes:
        owner = importlib.import_module(module_name)
        *parents, name = path.split(".")
        try:
            for parent in parents:
                owner = getattr(owner, parent)
            _wrap(owner, name, label, after_response)
        except AttributeError:
            continue


class CpuBreakdown:
    """Middleware: the per-label CPU totals of this process's API calls, written to a JSON file."""

    installed = False

    def __init__(self, get_response):
        self.get_response = get_response
        self.path = Path(os.environ["BENCH_CPU_PROBE_DIR"])
        if not CpuBreakdown.installed:
            install()
            CpuBreakdown.installed = True

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        _state.active, _state.spent = True, collections.Counter()
        started = time.thread_time()
        try:
            return self.get_response(request)
        finally:
            _state.spent["Django, whole request"] += time.thread_time() - started
            _state.active = False
            self._add(_state.spent)

    def _add(self, spent):
        with _lock:
            _totals["calls seen"] += 1
            if _totals["calls seen"] <= SKIP_FIRST:
                return
            _totals.update(spent)
            _totals["calls"] += 1
            if _totals["calls"] % WRITE_EVERY == 0:
                (self.path / f"cpu-{os.getpid()}.json").write_text(json.dumps(_totals))


def read_breakdown(directory):
    """{label: CPU seconds per call} over every worker's file, or {} when there is none."""
    totals = collections.Counter()
    for file in Path(directory).glob("cpu-*.json"):
        totals.update(json.loads(file.read_text()))
    calls = totals.pop("calls", 0)
    totals.pop("calls seen", None)
    return {label: seconds / calls for label, seconds in totals.items()} if calls else {}
