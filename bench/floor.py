"""The stack's floor for figure 1: the same GET /{id}, with everything but the framework and the SDK taken out.

Mounted only by the benchmark's settings (ROOT_URLCONF = "bench.floor"), never by the site.
`GET /bench/floor/<store_id>?credential=<uuid>` goes through the server, Django's middleware, DRF's
dispatch and JSON rendering, and the gateway's SDK call, exactly as the API does, but does no
database work: no authentication, no access check, no audit entry (the credential is loaded on the
first call and kept). What the real endpoint adds on top of this is the price of those three.
"""

from django.urls import include, path
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from credentials.models import Credential
from vectorstores import gateway


class StackFloor(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = []
    renderer_classes = [JSONRenderer]
    credentials = {}  # per process: loaded once

    def get(self, request, store_id):
        pk = request.query_params["credential"]
        if pk not in self.credentials:
            self.credentials[pk] = Credential.objects.get(pk=pk)
        return Response(gateway.get_vector_store(self.credentials[pk], store_id))


urlpatterns = [
    path("bench/floor/<str:store_id>", StackFloor.as_view()),
    path("", include("config.urls")),
]
