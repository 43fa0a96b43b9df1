"""Keep OpenAI API keys out of anything this app shows or logs."""

import logging
import re

from django.conf import settings
from django.utils.log import AdminEmailHandler

# OpenAI keys start with "sk-" (sk-proj-..., sk-svcacct-...); masked echoes like "sk-ab***cd" count too.
API_KEY_PATTERN = re.compile(r"\bsk-[A-Za-z0-9_*.\-]{3,}")


def redact(text, secrets=()):
    """`text` with anything shaped like an OpenAI API key removed, and each of `secrets` (keys of any shape)."""
    text = str(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return API_KEY_PATTERN.sub("sk-***", text)


class RedactAPIKeysFilter(logging.Filter):
    """A logging filter for handlers: no OpenAI API key reaches a log, tracebacks included.

    Add it to every handler (LOGGING["filters"] with "()": "vectorstores.redaction.RedactAPIKeysFilter");
    a filter on a logger would miss records propagated from its children.
    """

    def filter(self, record):
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RedactingAdminEmailHandler(AdminEmailHandler):
    """Django's error mails to ADMINS (its `mail_admins` handler), with anything shaped like an OpenAI key
    redacted from the subject and from the text and HTML reports, whose tracebacks show local variables."""

    def emit(self, record):
        # As Django's own handler does (its check skips a handler that overrides send_mail): no ADMINS, no report.
        if settings.ADMINS:
            super().emit(record)

    def send_mail(self, subject, message, *args, **kwargs):
        if kwargs.get("html_message"):
            kwargs["html_message"] = redact(kwargs["html_message"])
        super().send_mail(redact(subject), redact(message), *args, **kwargs)
