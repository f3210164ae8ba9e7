import time

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


SESSION_RENEW_SECONDS = 60


class SessionRenewMiddleware:
    """The idle timeout (``SESSION_COOKIE_AGE``, 30 minutes) without a database write per request: a
    signed-in session is saved, which renews its expiry, when its last renewal is at least
    ``SESSION_RENEW_SECONDS`` old (``SESSION_SAVE_EVERY_REQUEST`` wrote and committed on every page view,
    the largest single cost of a search). The timeout is thus 29–30 minutes after the last request.
    Sits right inside ``SessionMiddleware``, which saves a modified session on the way out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and session.session_key and not session.is_empty():
            now = int(time.time())
            last = session.get("_renewed")
            if not isinstance(last, int) or not 0 <= now - last < SESSION_RENEW_SECONDS:
                session["_renewed"] = now
        return response
