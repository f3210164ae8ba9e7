"""Who is calling the API: a script with ``Authorization: Bearer <token>``, or the web UI with its Django
session (CSRF checked for unsafe methods)."""

from __future__ import annotations

from ninja.errors import HttpError
from ninja.security import HttpBearer
from ninja.security.session import SessionAuth

from shebao.accounts.services import api_token_user, password_expired


class BearerTokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``; the key is checked by ``accounts.services.api_token_user``
    (revoked, expired or a deactivated user's tokens are refused)."""

    def authenticate(self, request, token):
        user = api_token_user(token.strip()) if token else None
        if user is not None:
            request.user = user  # the rest of the stack (permissions, masking) sees the token's user
        return user


class SessionCsrfAuth(SessionAuth):
    """The browser's session. A request that carries an Authorization header is a script: it never
    falls back to the session, so a bad token is a 401 and not a CSRF error. A user who must change the
    password first (first login, reset, 90 days) is refused until the page has been used to change it."""

    def __call__(self, request):
        if request.headers.get("Authorization"):
            return None
        return super().__call__(request)

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        if user is not None and password_expired(user):
            raise HttpError(403, "请先在页面上修改密码（首次登录、密码重置或密码已过期）")
        return user


AUTH = [BearerTokenAuth(), SessionCsrfAuth()]
