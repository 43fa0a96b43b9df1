"""Where a credential's API key may be sent: its base URL, checked against the site's allow-list.

A blank base URL means OpenAI's own API (never the OPENAI_BASE_URL environment variable: a key
goes only to the URL it was saved with). Anything else must use HTTPS, or plain HTTP to a loopback
address, and name a host in OPENAI_CREDENTIALS["ALLOWED_BASE_URL_HOSTS"].
"""

import functools
import ipaddress
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from .conf import credential_settings

OPENAI_BASE_URL = "https://api.openai.com/v1"


def endpoint_url(base_url):
    """The URL a credential with this base_url sends its key to."""
    return base_url or OPENAI_BASE_URL


def base_url_problem(base_url):
    """Why a key may not be sent to `base_url` (blank: OpenAI), or None."""
    if not base_url:
        return None
    return _base_url_problem(base_url, tuple(credential_settings.ALLOWED_BASE_URL_HOSTS))


@functools.lru_cache(maxsize=256)  # every API call asks, twice, about the same few URLs
def _base_url_problem(base_url, allowed_hosts):
    try:
        parts = urlsplit(base_url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        return "Enter a valid URL."
    if not host or parts.scheme not in ("http", "https") or parts.username is not None or parts.password is not None:
        return "Enter an http(s) URL with a host and no user name or password."
    if parts.scheme == "http" and not is_loopback(host):
        return "Plain HTTP would send the API key unencrypted: use https:// (plain http only to a loopback address)."
    if not host_allowed(host, allowed_hosts):
        return (
            f"This site does not send API keys to {host}. Hosts allowed: "
            f"{', '.join(allowed_hosts) or 'none'} "
            "(the OPENAI_CREDENTIALS['ALLOWED_BASE_URL_HOSTS'] setting)."
        )
    return None


def validate_base_url(base_url):
    if problem := base_url_problem(base_url):
        raise ValidationError(problem, code="base_url_not_allowed")


def host_allowed(host, allowed_hosts):
    host = host.lower().rstrip(".")
    for pattern in allowed_hosts:
        pattern = pattern.lower().strip("[]")
        if pattern == "*" or host == pattern.lstrip(".") or (pattern.startswith(".") and host.endswith(pattern)):
            return True
    return False


def is_loopback(host):
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# OpenAI-Organization and OpenAI-Project go out as HTTP headers: a line break would add a header of its own,
# and a character outside ASCII fails every call (httpx2 and http.client encode headers as ASCII).
validate_header_value = RegexValidator(
    r"\A[\x21-\x7e]*\Z",
    "Visible ASCII characters only, no spaces: it is sent as an HTTP header.",
    code="invalid_header_value",
)
