from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def health(request):
    """For load balancers: unauthenticated and cheap; checks the database and the cache, never OpenAI."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return unavailable("The database cannot be reached.")
    try:
        cache.get("vectorstores:health")  # the throttles count there: without it the API answers 503
    except Exception:  # Django's cache backends share no error class
        return unavailable("The cache cannot be reached.")
    return JsonResponse({"status": "ok"})


def unavailable(detail):
    return JsonResponse({"status": "unavailable", "detail": detail}, status=503)
