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
