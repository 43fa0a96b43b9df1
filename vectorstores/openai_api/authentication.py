"""Authentication of the OpenAI-compatible routes: the SDKs send their API key as `Authorization: Bearer <key>`."""

from django.apps import apps

from ..api.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """The API's token authentication (DRF's, one SQL statement) under OpenAI's keyword: `Authorization: Bearer
    <token>`.

    A host with its own token model subclasses it with `model = TheirToken` (DRF's TokenAuthentication looks
    the key up in `model`) and names the subclass in OPENAI_API_AUTHENTICATION_CLASSES.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        if self.model is None and not apps.is_installed("rest_framework.authtoken"):
            return None  # a site without DRF's tokens: nobody authenticates this way (a 401, not a 500)
        return super().authenticate(request)
