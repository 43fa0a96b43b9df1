from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from vectorstores.api.exceptions import error_body


@never_cache
@csrf_exempt  # a POST gets the 405 below, not Django's CSRF page
def health(request):
    """For load balancers: unauthenticated and cheap; checks the database and the cache, never OpenAI."""
    if request.method not in ("GET", "HEAD"):
        answer = JsonResponse(error_body("Method not allowed: GET only.", "method_not_allowed"), status=405)
        answer["Allow"] = "GET, HEAD"
        return answer
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
