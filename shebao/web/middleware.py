class ChineseFirstMiddleware:
    """The UI is Chinese unless the user chose English with the language switch (cookie/session):
    the browser's Accept-Language is ignored, so an English-configured browser still gets 中文."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
