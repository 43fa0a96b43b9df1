"""Reading the standalone site's settings from the environment.

Each reader refuses a value it cannot use with ImproperlyConfigured naming the variable, so a
mistyped deployment stops at start with one line, not a traceback or a site that fails later.
Both the settings (config/settings.py) and the production server (config/serve.py) read through here.
"""

import ipaddress
import os
import re

import dj_database_url
from django.core.exceptions import ImproperlyConfigured


def env_bool(name, default):
    """On (`1`, `true`, `yes`, `on`) or off (`0`, `false`, `no`, `off`, empty): another value stops the site."""
    value = os.environ.get(name)
    if value is None:
        return default
    value = value.strip().lower()
    if value not in {"1", "true", "yes", "on", "0", "false", "no", "off", ""}:
        raise ImproperlyConfigured(f"{name} must be 1 or 0 (or true/false, yes/no, on/off), not {value!r}.")
    return value in {"1", "true", "yes", "on"}


def env_count(name, default, minimum=0, maximum=None):
    """A whole number ≥ minimum (and ≤ maximum)."""
    value = os.environ.get(name, str(default)).strip()
    if not (
        value.isascii() and value.isdigit() and minimum <= int(value) and (maximum is None or int(value) <= maximum)
    ):
        bounds = f"of {minimum} or more" if maximum is None else f"from {minimum} to {maximum}"
        raise ImproperlyConfigured(f"{name} must be a whole number {bounds}, not {value!r}.")
    return int(value)


def env_seconds(name, default, maximum):
    """A duration in seconds, at least a millisecond (`10`, `2.5`)."""
    value = os.environ.get(name, str(default)).strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", value) or not 0.001 <= float(value) <= maximum:
        raise ImproperlyConfigured(f"{name} must be a number of seconds from 0.001 to {maximum}, not {value!r}.")
    return float(value)


def env_address(name, default):
    """`ip:port` (an IPv6 address in brackets, `[::1]:8000`), as (address, port); the address may be left out
    (`:8000`). An IP address, not a host name: the server binds to it without resolving anything."""
    value = os.environ.get(name, default).strip()
    written, _, port = value.rpartition(":")
    bracketed = written.startswith("[") and written.endswith("]")
    host = written[1:-1] if bracketed else written
    try:
        # No zone (fe80::1%lo) and IPv6 in brackets only: granian takes neither otherwise.
        address_valid = written == "" or (
            "%" not in host and ipaddress.ip_address(host).version == (6 if bracketed else 4)
        )
    except ValueError:
        address_valid = False
    valid = address_valid and port.isascii() and port.isdigit() and 1 <= int(port) <= 65535
    if not valid:
        raise ImproperlyConfigured(
            f"{name} must be an IP address and port (such as 127.0.0.1:8000 or [::1]:8000), not {value!r}."
        )
    return host, int(port)


def env_database(name, default, conn_max_age):
    """Django's DATABASES entry for a database URL (`postgres://USER:PASSWORD@HOST:PORT/NAME`, `sqlite:///PATH`)."""
    value = os.environ.get(name, default).strip()
    try:
        return dj_database_url.parse(value, conn_max_age=conn_max_age)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a database URL such as postgres://USER:PASSWORD@HOST:5432/NAME or sqlite:///PATH."
        ) from None  # not the value: it holds the password


def env_url(name, schemes):
    """A URL of one of these schemes (`redis://HOST:6379/0`)."""
    value = os.environ.get(name, "").strip()
    scheme, separator, rest = value.partition("://")
    if scheme not in schemes or not separator or not rest:
        raise ImproperlyConfigured(
            f"{name} must be a URL beginning {' or '.join(f'{scheme}://' for scheme in schemes)}."
        )  # not the value: it may hold a password
    return value


def env_rate(name, default):
    """A throttle rate as DRF reads it (`600/minute`: a count, then a second, minute, hour or day): another
    value stops the site with its name, where DRF would fail on every API call."""
    value = os.environ.get(name, default).strip()
    if not re.fullmatch(r"[0-9]+/[smhd][a-z]*", value):
        raise ImproperlyConfigured(
            f"{name} must be a rate such as 600/minute (per second, minute, hour or day), not {value!r}."
        )
    return value


def env_choice(name, default, choices):
    value = os.environ.get(name, default).strip().upper()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def env_list(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def server_threads():
    """SERVER_THREADS: the threads of each process of the production server (config/serve.py), which the
    settings also read (the long calls a process may run)."""
    return env_count("SERVER_THREADS", 8, minimum=1, maximum=1024)
