from django.conf import settings


class ChineseFirstMiddleware:
    """The UI is Chinese unless the user chose English with the language switch (cookie/session):
    the browser's Accept-Language is ignored, so an English-configured browser still gets 中文."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)


# Everything from our own origin, nothing inline: no <script> blocks, on…= handlers or style="" (they
# live in static files and CSS classes), no eval (htmx runs with allowEval off), no framing.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeadersMiddleware:
    """Headers on every response of the application (static files are answered before it, by WhiteNoise):

    - ``Content-Security-Policy`` (above);
    - ``Cache-Control: no-store`` on every response to a signed-in user or an API token — pages,
      exports and API answers carry personal data that must not stay in a browser's or proxy's cache
      (the login page says it itself through ``never_cache``);
    - ``Strict-Transport-Security`` when ``SHEBAO_HTTPS=1`` (sent whatever the scheme the proxy
      forwards: a browser ignores it over plain HTTP)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        user = getattr(request, "user", None)  # an API token's user is set on the request by its auth
        if user is not None and user.is_authenticated and "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        if getattr(settings, "SHEBAO_HTTPS", False):
            response.setdefault("Strict-Transport-Security", HSTS)
        return response


MAX_PARAM_CHARS = 2000  # one query-string or form value; a search box needs far less


class InputSafetyMiddleware:
    """Refuse, before any view runs, input that no page or API operation can take: a NUL character
    (PostgreSQL cannot store it; it crashed 18 search boxes and the API) in the query string, a
    posted form or a JSON body, and a query-string value longer than ``MAX_PARAM_CHARS``. The answer
    is a 400 with a Chinese message (JSON ``{"detail": …}`` under /api/), never a 500; nothing is
    written. Large form posts are bounded by Django's DATA_UPLOAD_MAX_MEMORY_SIZE (also a 400)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = self._problem(request)
        if problem:
            return self._refuse(request, problem)
        return self.get_response(request)

    @staticmethod
    def _problem(request) -> str:
        for key, values in request.GET.lists():
            if "\x00" in key or any("\x00" in v for v in values):
                return "输入含有空字符（NUL），已拒绝"
            if any(len(v) > MAX_PARAM_CHARS for v in values):
                return f"输入过长（每项最多 {MAX_PARAM_CHARS} 个字符），已拒绝"
        if request.method in ("POST", "PUT", "PATCH"):
            ctype = request.content_type or ""
            if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent

                try:
                    items = list(request.POST.lists())
                except (RequestDataTooBig, TooManyFieldsSent):
                    return "提交的数据过大，已拒绝"
                for key, values in items:
                    if "\x00" in key or any("\x00" in v for v in values):
                        return "输入含有空字符（NUL），已拒绝"
            elif ctype == "application/json":
                from django.core.exceptions import RequestDataTooBig

                try:
                    body = request.body
                except RequestDataTooBig:
                    return "提交的数据过大，已拒绝"
                if b"\\u0000" in body or b"\x00" in body:
                    return "输入含有空字符（NUL），已拒绝"
        return ""

    @staticmethod
    def _refuse(request, message: str):
        from django.http import HttpResponseBadRequest, JsonResponse
        from django.utils.html import escape

        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=400, json_dumps_params={"ensure_ascii": False})
        return HttpResponseBadRequest(
            f'<!doctype html><html lang="zh-hans"><meta charset="utf-8"><title>请求有误</title>'
            f"<h1>请求有误（400）</h1><p>{escape(message)}</p><p><a href=\"javascript:history.back()\">返回</a></p>",
            content_type="text/html; charset=utf-8")


class OnceRepeatMiddleware:
    """A repeated submit of a form (its one-time token already recorded by the first submit) that the
    view answered without reaching its claim — refused by a check the first submit's write now trips,
    e.g. "代领人已是…" — gets the same "此表单已经提交过" warning as one stopped at the claim
    (``shebao.common.once``): the page is shown again by GET, never the misleading error. Runs inside
    the message middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (request.method != "POST" or request.path.startswith("/api/")
                or request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data")
                or response.status_code not in (200, 302, 303)):
            return response
        from shebao.common.once import REPEATED, already_used, claimed_by_this_request, posted_token

        if claimed_by_this_request(request) is not None:
            return response
        token = posted_token(request)
        if token is None or not already_used(token):
            return response
        from django.contrib import messages
        from django.shortcuts import redirect

        messages.warning(request, REPEATED)
        if response.status_code in (302, 303):
            return response
        if not (response.get("Content-Type") or "").startswith("text/html"):
            return response
        return redirect(request.get_full_path())
