"""Two middlewares that keep hostile or unlucky requests from becoming 500s.

HostileInputMiddleware (first in MIDDLEWARE) refuses a request whose path, query string,
cookies or headers hold a NUL character, before anything reads them: PostgreSQL refuses NUL
in text, so a NUL in the session cookie (looked up by key in django_session), in a token or
in a query parameter was a database error, a 500, on every route. Django's session store
only checks that a key is 8 characters or longer, so the check cannot be left to it.

ApiErrorMiddleware makes the API answer in its JSON error shape whatever DEBUG is: an
/api/ path that matches no URL is a JSON 404 (naming the URL with its trailing slash when
that is the one meant; APPEND_SLASH would redirect a GET, and raise RuntimeError for a POST
under DEBUG), and a database outage in any view is a 503 with Retry-After (handler500 only
runs when DEBUG is off; under DEBUG it was the technical 500 page).
"""

from django.http import HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from shop.api.exceptions import database_unavailable, error_body, is_database_outage

NUL = "\x00"


def _bad_request(request, fields: dict[str, list[str]]) -> HttpResponse:
    # `invalid`, as for any other bad query parameter, with the same fields naming each.
    where = ", ".join(fields)
    message = f"{where}: contains a NUL character, which is never valid input."
    if request.path_info.startswith("/api/"):
        return JsonResponse(error_body("invalid", message, fields), status=400)
    return HttpResponse(
        f"Bad Request: {message}", content_type="text/plain; charset=utf-8", status=400
    )


def _not_found(request) -> HttpResponse:
    """A path with a NUL names nothing: 404, as any other path that matches no URL."""
    if request.path_info.startswith("/api/"):
        shown = request.path.replace(NUL, "\\u0000")
        return JsonResponse(error_body("not_found", f"No API endpoint at {shown}."), status=404)
    return HttpResponse("Not Found", content_type="text/plain; charset=utf-8", status=404)


def _nul_fields(request) -> dict[str, list[str]]:
    """Where the request carries a NUL: query parameters, cookies, headers."""
    found: dict[str, list[str]] = {}
    # The raw query string, not request.GET: a NUL in a key or a value, %00 or literal.
    query = request.META.get("QUERY_STRING", "")
    if NUL in query or "%00" in query:
        for name, values in request.GET.lists():
            if NUL in name or any(NUL in value for value in values):
                found[name.replace(NUL, "\\u0000")] = ["Contains a NUL character."]
    for name, value in request.COOKIES.items():
        if NUL in name or NUL in value:
            found[f"cookie {name.replace(NUL, '')}"] = ["Contains a NUL character."]
    for key, value in request.META.items():
        if (key.startswith("HTTP_") or key in {"CONTENT_TYPE", "CONTENT_LENGTH"}) and (
            isinstance(value, str) and NUL in value
        ):
            header = key.removeprefix("HTTP_").replace("_", "-").title()
            found[f"header {header}"] = ["Contains a NUL character."]
    return found


class HostileInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path_info:
            return _not_found(request)
        fields = _nul_fields(request)
        if fields:
            return _bad_request(request, fields)
        return self.get_response(request)


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith("/api/"):
            try:
                resolve(path)
            except Resolver404:
                return _api_not_found(request)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_outage(exception):
            return database_unavailable(request)
        return None


def _api_not_found(request) -> JsonResponse:
    path = request.path_info
    message = f"No API endpoint at {request.path}."
    if not path.endswith("/"):
        try:
            resolve(f"{path}/")
        except Resolver404:
            pass
        else:
            # The URL meant, named rather than redirected to: a redirected POST loses its body.
            message = f"No API endpoint at {request.path}; did you mean {request.path}/?"
    return JsonResponse(error_body("not_found", message), status=404)
