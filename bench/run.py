"""The benchmark driver: a fresh database and keys, the fake OpenAI in its own process, the app under
the production server (config/serve.py), then the figures, then everything stopped.

Usage: `python -m bench [--only 1,3] [--quick]`."""

import argparse
import datetime
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx2
import openai

from . import figures
from .report import FAIL, Row, details, markdown_table, text_table
from .server import AppServer
from .stats import cpu_speed
from .upstream import Upstream

API_ROOT = "/api/v1/openai-assistants-vector-store"
FIGURES = {
    "1": [figures.proxy_overhead, figures.client_reuse],
    "2": [figures.list_at_scale],
    "3": [figures.upload_parallelism],
    "4": [figures.memory],
    "5": [figures.polling_latency],
    "6": [figures.throughput],
    "7": [figures.queries_per_request],
    "8": [figures.ownership_costs],
    "9": [figures.peer_litellm],
}


@dataclass
class Bench:
    """What the figures work with: the running server and upstream, and the bench user's access."""

    server: AppServer
    upstream: Upstream
    env: dict
    api_key: str
    token: str
    credential_id: str
    upload_dir: Path
    quick: bool

    def scaled(self, full, quick):
        return quick if self.quick else full

    def path(self, suffix="", **query):
        """An API path naming the bench credential, e.g. path("/vs_abc")."""
        return f"{API_ROOT}{suffix}?{urlencode({'credential': self.credential_id, **query})}"

    def wait_until_quiet(self, timeout=20.0):
        """Wait until no request has reached the fake for a moment: the previous figure's have drained."""
        deadline, last = time.monotonic() + timeout, self.upstream.request_count()
        while time.monotonic() < deadline:
            time.sleep(0.3)
            if (count := self.upstream.request_count()) == last:
                return
            last = count

    def app(self):
        """An HTTP client of the app, signed in with the bench user's token (keep-alive)."""
        return httpx2.Client(base_url=self.server.url, headers={"Authorization": f"Token {self.token}"}, timeout=120)

    def sdk(self):
        """A direct OpenAI SDK client of the fake, configured as the app configures its own."""
        return openai.OpenAI(api_key=self.api_key, base_url=self.upstream.base_url, max_retries=0)


def environment(workdir):
    """The settings of this run, for the driver and the server alike (see bench/settings.py)."""
    upload_dir, static_root = workdir / "uploads", workdir / "static"
    upload_dir.mkdir()
    static_root.mkdir()
    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CRYPTOGRAPHY_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on 127.0.0.1
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'bench.sqlite3'}",
        # One bench user sends thousands of requests a minute; the default 600/minute would answer 429.
        "API_THROTTLE_USER": "1000000/minute",
        "STATIC_ROOT": str(static_root),
        "BENCH_UPLOAD_DIR": str(upload_dir),
        "WEB_CONCURRENCY": "2",  # config/serve.py's defaults, whatever the caller's environment says
        "SERVER_THREADS": "8",
    }


def create_access(upstream_url, api_key):
    """Migrate, then create the bench user, its DRF token and a credential for the fake. Returns (token, id)."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections
    from rest_framework.authtoken.models import Token

    from credentials.models import Credential

    call_command("migrate", interactive=False, verbosity=0)
    user = get_user_model().objects.create_user(f"bench-{secrets.token_hex(4)}")
    token = Token.objects.create(user=user)
    # Shared: the figures proxy stores seeded in the fake (figure 8 measures owned mode on its own).
    credential = Credential.objects.create(
        name=f"bench {user.username}", api_key=api_key, base_url=upstream_url, access_mode="shared"
    )
    credential.users.add(user)
    connections.close_all()  # the server opens its own connections
    return token.key, str(credential.pk)


def remove_access(credential_id):
    """Delete the bench credential and user again (the point of it is a DATABASE_URL that outlives the run)."""
    from django.db import connections

    from credentials.models import Credential

    credential = Credential.objects.get(pk=credential_id)
    users = list(credential.users.all())
    credential.delete()
    for user in users:
        user.delete()  # and its token; the audit trail keeps the rows, without the user
    connections.close_all()


def machine_description():
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    memory_gib = int(meminfo["MemTotal"].split()[0]) / 1024**2
    return (
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), {memory_gib:.1f} GiB RAM, "
        f"Linux {platform.release()}, Python {platform.python_version()}, openai {openai.__version__}"
    )


def python_speed():
    return f"sum(range(10**6)) takes {cpu_speed() * 1000:.0f} ms (best of 5)"


def load_average():
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def run_figures(bench, selected):
    rows = []
    for key in selected:
        for figure in FIGURES[key]:
            print(f"... {figure.__doc__.splitlines()[0]}", flush=True)
            bench.wait_until_quiet()
            try:
                new_rows = figure(bench)
            except Exception as error:
                traceback.print_exc()
                new_rows = [
                    Row(
                        figure.__doc__.split(" ", 1)[0] + " " + figure.__name__, f"error: {error!r}"[:200], "runs", FAIL
                    )
                ]
            for row in new_rows:
                print(f"    {row.figure}: {row.value} (target {row.target}) {row.status}", flush=True)
            rows += new_rows
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", help="comma-separated figure numbers (1-9); default: all")
    parser.add_argument("--quick", action="store_true", help="fewer calls and a 128 MiB upload: a smoke run")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table and details as Markdown")
    parser.add_argument(
        "--cpu-breakdown",
        action="store_true",
        help="instrument the workers to show where the CPU of a call goes (figure 1; adds a little)",
    )
    parser.add_argument("--keep-log", metavar="FILE", help="copy the server log (access + errors) here")
    args = parser.parse_args(argv)
    selected = args.only.split(",") if args.only else list(FIGURES)
    if unknown := [key for key in selected if key not in FIGURES]:
        parser.error(f"unknown figures: {', '.join(unknown)}")

    started = datetime.datetime.now(datetime.UTC)
    header = [
        f"date: {started:%Y-%m-%d %H:%M} UTC",
        f"machine: {machine_description()}",
        f"load average at start (1/5/15 min): {load_average()}",
        f"Python speed now: {python_speed()}",
    ]
    print("\n".join(header), flush=True)
    api_key = "sk-bench-" + secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="vectorstores-bench-") as tmp:
        workdir = Path(tmp)
        env = environment(workdir)
        if args.cpu_breakdown:
            (workdir / "cpu").mkdir()
            env["BENCH_CPU_PROBE_DIR"] = str(workdir / "cpu")
        os.environ.update(env)
        with Upstream(api_key) as upstream:
            token, credential_id = create_access(upstream.base_url, api_key)
            server_env = {**os.environ, "TMPDIR": env["BENCH_UPLOAD_DIR"]}  # anything else temporary, too
            with AppServer(server_env, workdir / "server.log") as server:
                database = env["DATABASE_URL"].split(":", 1)[0]
                print(
                    f"app: {server.url} (granian, {env['WEB_CONCURRENCY']} workers x "
                    f"{env['SERVER_THREADS']} threads, DEBUG=0, {database}); fake OpenAI: {upstream.base_url} "
                    f"(pid {upstream.pid})",
                    flush=True,
                )
                bench = Bench(
                    server, upstream, env, api_key, token, credential_id, Path(env["BENCH_UPLOAD_DIR"]), args.quick
                )
                rows = run_figures(bench, selected)
            remove_access(credential_id)
        if args.keep_log:
            shutil.copyfile(workdir / "server.log", args.keep_log)
    header += [
        f"load average at end (1/5/15 min): {load_average()}",
        f"Python speed at end: {python_speed()}",
        f"database: {database}",
    ]

    print("\n" + "\n".join(header) + "\n\n" + text_table(rows) + "\n\n" + details(rows))
    if args.markdown:
        Path(args.markdown).write_text(
            "\n".join(f"- {line}" for line in header) + "\n\n" + markdown_table(rows) + "\n\n" + details(rows) + "\n"
        )
    return 1 if any(row.status == FAIL for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
