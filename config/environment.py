"""Reading the standalone site's settings from the environment.

Each reader refuses a value it cannot use with ImproperlyConfigured naming the variable, so a
mistyped deployment stops at start with one line, not a traceback or a site that fails later.
Both the settings (config/settings.py) and the production server (config/serve.py) read through here.
"""

import os
import re

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


def env_count(name, default, minimum=0):
    """A whole number ≥ minimum."""
    value = os.environ.get(name, str(default)).strip()
    if not (value.isascii() and value.isdigit() and int(value) >= minimum):
        raise ImproperlyConfigured(f"{name} must be a whole number of {minimum} or more, not {value!r}.")
    return int(value)


def env_seconds(name, default):
    """A duration in seconds, more than 0 (`10`, `2.5`)."""
    value = os.environ.get(name, str(default)).strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", value) or float(value) <= 0:
        raise ImproperlyConfigured(f"{name} must be a number of seconds more than 0, not {value!r}.")
    return float(value)


def env_address(name, default):
    """`host:port` (an IPv6 host in brackets, `[::1]:8000`), as (host, port); the host may be left out (`:8000`)."""
    value = os.environ.get(name, default).strip()
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]*):([0-9]{1,5})", value)
    if not match or not 1 <= int(match[2]) <= 65535:
        raise ImproperlyConfigured(f"{name} must be host:port (such as 127.0.0.1:8000 or [::1]:8000), not {value!r}.")
    return match[1].strip("[]"), int(match[2])


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
