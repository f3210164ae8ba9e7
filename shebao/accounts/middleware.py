from django.shortcuts import redirect
from django.urls import reverse

from shebao.accounts.services import password_expired

OPEN_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/api/")


class SecurityPolicyMiddleware:
    """Force a password change at first login, after an administrator reset, and after the maximum age."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not request.path.startswith(OPEN_PREFIXES) and password_expired(user):
            return redirect(reverse("accounts:password_change") + "?forced=1")
        return self.get_response(request)
