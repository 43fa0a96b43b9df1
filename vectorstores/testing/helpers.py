"""Credentials that point at a FakeOpenAI. Needs Django set up: the models are imported on use, not on import."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .fake_openai import FAKE_API_KEY, FakeOpenAI

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import Group

    from credentials.models import Credential


def _accepted_api_key(fake: FakeOpenAI) -> str:
    """A key `fake` accepts: FAKE_API_KEY if it does, else the first of its keys in sorted order."""
    with fake.lock:
        keys = sorted(fake.api_keys)
    if not keys:
        raise ValueError("the FakeOpenAI accepts no API key: give it api_keys, or pass api_key=")
    return FAKE_API_KEY if FAKE_API_KEY in keys else keys[0]


def create_credential(
    fake: FakeOpenAI,
    *,
    name: str = "Fake OpenAI",
    users: Iterable[AbstractBaseUser] = (),
    groups: Iterable[Group] = (),
    api_key: str | None = None,
    **fields: Any,
) -> Credential:
    """Save a Credential whose base URL is the (started) `fake`, usable by `users` and members of `groups`.

    `api_key` defaults to a key the fake accepts (FAKE_API_KEY if it does, else the first in sorted
    order); other model fields (`organization`, `project`) may be given as keywords. The credential is
    validated like the admin does, so a site whose OPENAI_CREDENTIALS["ALLOWED_BASE_URL_HOSTS"] leaves
    out 127.0.0.1 gets a ValidationError here rather than a refused call later.
    """
    from credentials.models import Credential

    credential = Credential(name=name, api_key=api_key or _accepted_api_key(fake), base_url=fake.base_url, **fields)
    credential.full_clean()
    credential.save()
    credential.users.add(*users)
    credential.groups.add(*groups)
    return credential
