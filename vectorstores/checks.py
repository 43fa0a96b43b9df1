from django.conf import settings
from django.core import checks

from .conf import DEFAULTS


@checks.register()
def check_app_settings(app_configs, **kwargs):
    """A misspelt key would otherwise be ignored silently."""
    unknown = sorted(set(getattr(settings, "OPENAI_VECTOR_STORES", {})) - set(DEFAULTS))
    return [
        checks.Error(
            f"OPENAI_VECTOR_STORES has an unknown key {key!r}.",
            hint=f"Known keys: {', '.join(DEFAULTS)}.",
            id="vectorstores.E001",
        )
        for key in unknown
    ]


@checks.register()
def check_allowed_extensions(app_configs, **kwargs):
    """ALLOWED_EXTENSIONS can only narrow the types OpenAI's file_search takes."""
    from .conf import app_settings
    from .filetypes import FILE_TYPES

    unknown = sorted(set(app_settings.ALLOWED_EXTENSIONS or ()) - set(FILE_TYPES))
    if not unknown:
        return []
    return [checks.Error(
        f"OPENAI_VECTOR_STORES['ALLOWED_EXTENSIONS'] has extensions OpenAI's file_search does not take: "
        f"{', '.join(unknown)}.",
        hint=f"Choose among: {', '.join(FILE_TYPES)}.", id="vectorstores.E002",
    )]
