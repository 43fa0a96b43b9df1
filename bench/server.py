"""The app as `make serve` runs it: granian with config/serve.py, DEBUG off,
listening on a free port of 127.0.0.1. Plus what the benchmark reads of its processes in /proc."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0  # above GRACEFUL_TIMEOUT (30 s)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# What reading or signalling a process that ended in the meantime raises.
GONE = (ProcessLookupError, FileNotFoundError, PermissionError)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AppServer:
    """`python -m config.serve`, started and stopped by the benchmark."""

    def __init__(self, env, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "BIND": f"127.0.0.1:{self.port}"}
        self.log_path = Path(log_path)
        self.process = None

    def __enter__(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "config.serve"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def _wait_until_ready(self):
        expected = int(self.env.get("WEB_CONCURRENCY", "2"))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; see {self.log_path}")
            try:
                healthy = httpx2.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200
            except httpx2.HTTPError:
                healthy = False
            if healthy and len(self.worker_pids()) == expected:
                return
            time.sleep(0.2)
        raise RuntimeError(f"the server did not become ready in {START_TIMEOUT:.0f} s; see {self.log_path}")

    def worker_pids(self):
        """The server's workers: the children of its main process."""
        return children_of(self.process.pid)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            for pid in self.worker_pids():
                with contextlib.suppress(*GONE):
                    os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait(5)


def children_of(parent_pid):
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(*GONE):
            # Field 4 of /proc/<pid>/stat is the parent pid; the name (field 2) may hold spaces.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent_pid:
                pids.append(int(entry.name))
    return sorted(pids)


def memory_status(pid):
    """VmRSS and VmHWM (peak RSS) of a process, in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
    return values


def reset_peak_rss(pid):
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs). False if not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def cpu_seconds(pid):
    """User + system CPU time a process (all its threads) has used so far."""
    with contextlib.suppress(*GONE):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return 0.0


def machine_cpu_busy():
    """(busy, total) jiffies of the whole machine since boot, from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)
