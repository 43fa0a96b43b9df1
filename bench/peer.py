"""The peer of figure 9: the LiteLLM proxy (its OpenAI pass-through, `/openai/...`), pointed at the same fake.

Never installed with the project: `make bench-peer` puts it in a virtualenv of its own (`.venv-peer`),
because its pinned dependencies (an older `openai` among them) cannot share this project's.
"""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx2

from .server import GONE, PROJECT_ROOT, START_TIMEOUT, STOP_TIMEOUT, children_of, cpu_seconds, free_port

DEFAULT_EXECUTABLE = PROJECT_ROOT / ".venv-peer" / "bin" / "litellm"
MASTER_KEY = "sk-bench-peer-master"


def executable():
    """The `litellm` command to run: BENCH_LITELLM, else .venv-peer's; None when neither exists."""
    path = Path(os.environ.get("BENCH_LITELLM") or DEFAULT_EXECUTABLE)
    return path if path.is_file() else None


def version(command):
    """The installed litellm's version, from the Python of its virtualenv."""
    python = Path(command).parent / "python"
    query = "import importlib.metadata as m; print(m.version('litellm'))"
    result = subprocess.run([str(python), "-c", query], capture_output=True, text=True, timeout=60)
    return result.stdout.strip() or "?"


class LiteLLMProxy:
    """`litellm --config ...` on a free port of 127.0.0.1, its OpenAI pass-through aimed at `upstream_url`
    (the fake's root, without /v1) with the fake's key; one worker, as LiteLLM starts by default."""

    def __init__(self, command, upstream_url, api_key, workdir, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command, self.log_path = command, Path(log_path)
        self.config = Path(workdir) / "litellm.yaml"
        self.config.write_text(f"general_settings:\n  master_key: {MASTER_KEY}\nmodel_list: []\n")
        # A clean environment: LiteLLM reads DATABASE_URL and more of the bench's own variables.
        self.env = {
            **{name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ},
            "OPENAI_API_BASE": upstream_url,
            "OPENAI_API_KEY": api_key,
            "LITELLM_LOG": "ERROR",
        }
        self.process = None

    def __enter__(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.command), "--config", str(self.config), "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its children go with it
            )
        deadline = time.monotonic() + START_TIMEOUT * 2  # it imports a lot
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"litellm exited with {self.process.returncode}; see {self.log_path}")
            with contextlib.suppress(httpx2.HTTPError):
                if httpx2.get(f"{self.url}/health/liveliness", timeout=2).status_code == 200:
                    return self
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"litellm did not answer in time; see {self.log_path}")

    def __exit__(self, *exc_info):
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(*GONE):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(*GONE):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def client(self):
        return httpx2.Client(base_url=self.url, headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=120)

    def cpu_seconds(self):
        """CPU time of the proxy and any processes it started."""
        return sum(cpu_seconds(pid) for pid in [self.process.pid, *children_of(self.process.pid)])
