from django.contrib.auth.backends import ModelBackend


class LockoutModelBackend(ModelBackend):
    """Permissions from groups; logins go through ``accounts.services.user_authenticate`` (lockout)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        from shebao.accounts.services import user_authenticate
        from shebao.common.context import client_ip_of

        result = user_authenticate(
            username=username or "", password=password or "", ip=client_ip_of(request) if request else ""
        )
        if request is not None:
            request.login_error = result.error
        return result.user
