"""The standalone site's production server (`make serve`): granian, serving config.wsgi.

granian reads requests on an event loop and hands a request to a worker thread only once its
headers are in, so clients that send their headers slowly (or never finish them) hold no thread:
they are dropped after HEADER_READ_TIMEOUT. Request bodies stream to the application as they
arrive (an upload is never buffered whole), and a refused upload is answered without reading it.

Set by the environment:
    BIND                 ip:port to listen on (default 127.0.0.1:8000)
    WEB_CONCURRENCY      worker processes (default 2)
    SERVER_THREADS       threads per worker that run requests (default 8)
    HEADER_READ_TIMEOUT  seconds a client has to send its request headers (default 10)
    GRACEFUL_TIMEOUT     seconds running requests get to finish on shutdown (default 30)
"""

import argparse
import importlib
import os
import socket
import sys

from django.core.exceptions import ImproperlyConfigured
from granian import Granian
from granian.constants import Interfaces
from granian.http import HTTP1Settings

from config.environment import env_address, env_count, env_seconds, server_threads


def server():
    host, port = env_address("BIND", "127.0.0.1:8000")
    return Granian(
        "config.wsgi:application",
        interface=Interfaces.WSGI,
        address=host or "127.0.0.1",
        port=port,
        workers=env_count("WEB_CONCURRENCY", 2, minimum=1, maximum=256),
        blocking_threads=server_threads(),
        http1_settings=HTTP1Settings(
            header_read_timeout=round(env_seconds("HEADER_READ_TIMEOUT", 10, maximum=3600) * 1000)
        ),
        workers_kill_timeout=env_count("GRACEFUL_TIMEOUT", 30, minimum=1, maximum=86400),
        respawn_failed_workers=True,
        log_access=True,
    )


def check_free(host, port):
    """granian answers an address in use with a Rust backtrace, and shares a port another granian holds
    (SO_REUSEPORT), so that a forgotten server would go on answering part of the requests."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        # granian listens on both IPv6 and IPv4 at "::": so must the check, or an IPv4 holder goes unseen.
        socket.create_server((host, port), family=family, dualstack_ipv6=host == "::").close()
    except OSError as error:
        raise ImproperlyConfigured(f"BIND: cannot listen on {host}:{port} ({os.strerror(error.errno)}).") from None


def main(argv=None):
    """`python -m config.serve`: serve. With `--check`, only read what serving needs (the server's settings,
    the site's, whether BIND is free) and exit: `make serve` runs it before migrating."""
    parser = argparse.ArgumentParser(prog="python -m config.serve", description=main.__doc__)
    parser.add_argument("--check", action="store_true", help="check the settings and the address, then exit")
    arguments = parser.parse_args(argv)
    try:
        configured = server()
        check_free(configured.bind_addr, configured.bind_port)
        # The site's settings, read once here: a value they refuse stops the server with its one line, not
        # every worker with a traceback until granian gives up on them.
        importlib.import_module(os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings"))
    except ImproperlyConfigured as error:
        sys.exit(f"config.serve: {error}")
    if not arguments.check:
        configured.serve()


if __name__ == "__main__":
    main()
