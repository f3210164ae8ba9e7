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

    def get_group_permissions(self, user_obj, obj=None):
        """The roles' (groups') permissions and the roles' names in ONE query — Django's backend asked for
        the permissions and the page shell asked again for the roles (``User.role_codes``): both kept on
        the user object for the request, as Django keeps ``_group_perm_cache`` (cleared together)."""
        if user_obj.is_superuser or obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return super().get_group_permissions(user_obj, obj)
        if not hasattr(user_obj, "_group_perm_cache"):
            names: list[str] = []
            perms: set[str] = set()
            for name, app_label, codename in (user_obj.groups.order_by("id").values_list(
                    "name", "permissions__content_type__app_label", "permissions__codename")):
                if name not in names:
                    names.append(name)
                if codename:
                    perms.add(f"{app_label}.{codename}")
            user_obj._group_perm_cache = perms
            user_obj._role_codes_of = (perms, names)  # valid while _group_perm_cache is this very set
        return user_obj._group_perm_cache
