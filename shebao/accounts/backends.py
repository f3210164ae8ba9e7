from functools import cache

from django.contrib.auth.backends import ModelBackend
from django.db import connections, router


@cache
def _statements() -> dict[str, str]:
    """The two statements a request's sign-in check runs, written once from the models' tables (so a
    renamed table or column follows): the user's row with the names of its roles and the permissions of
    its roles and its own, and the same permissions alone (for a user read elsewhere: an API token)."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    from shebao.accounts.models import User

    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    user_groups = User.groups.through._meta
    user_perms = User.user_permissions.through._meta
    group_perms = Group.permissions.through._meta
    ug_user, ug_group = (q(user_groups.get_field(n).column) for n in ("user", "group"))
    up_user, up_perm = (q(user_perms.get_field(n).column) for n in ("user", "permission"))
    gp_group, gp_perm = (q(group_perms.get_field(n).column) for n in ("group", "permission"))
    perm_name = (f"ct.{q(ContentType._meta.get_field('app_label').column)} || '.' || "
                 f"p.{q(Permission._meta.get_field('codename').column)}")
    perm_join = (f"JOIN {q(Permission._meta.db_table)} p ON p.id = x.perm "
                 f"JOIN {q(ContentType._meta.db_table)} ct ON ct.id = "
                 f"p.{q(Permission._meta.get_field('content_type').column)}")

    def arrays(user_id: str) -> str:
        roles = (f"ARRAY(SELECT g.{q(Group._meta.get_field('name').column)} FROM {q(user_groups.db_table)} ug "
                 f"JOIN {q(Group._meta.db_table)} g ON g.id = ug.{ug_group} WHERE ug.{ug_user} = {user_id} "
                 "ORDER BY g.id)")
        of_roles = (f"ARRAY(SELECT {perm_name} FROM (SELECT gp.{gp_perm} AS perm FROM {q(user_groups.db_table)} ug "
                    f"JOIN {q(group_perms.db_table)} gp ON gp.{gp_group} = ug.{ug_group} "
                    f"WHERE ug.{ug_user} = {user_id}) x {perm_join})")
        own = (f"ARRAY(SELECT {perm_name} FROM (SELECT up.{up_perm} AS perm FROM {q(user_perms.db_table)} up "
               f"WHERE up.{up_user} = {user_id}) x {perm_join})")
        return f"{roles}, {of_roles}, {own}"

    columns = [f.column for f in User._meta.concrete_fields]
    return {"user": (f"SELECT {', '.join('u.' + q(c) for c in columns)}, {arrays('u.id')} "
                     f"FROM {q(User._meta.db_table)} u WHERE u.{q(User._meta.pk.column)} = %s"),
            "perms": f"SELECT {arrays('%s')}"}


def _keep_permissions(user, roles: list[str], of_roles: list[str], own: list[str]) -> None:
    """Cache the permissions on the user object for the request, where Django's ``ModelBackend`` keeps
    them (``_user_perm_cache``, ``_group_perm_cache``, ``_perm_cache``: cleared together by whoever changes
    a role, e.g. ``accounts.services``) — and the roles' names with them for the page's top bar
    (``User.role_codes``: valid while ``_group_perm_cache`` is this very set)."""
    group_perms = set(of_roles)
    user._user_perm_cache = set(own)
    user._group_perm_cache = group_perms
    user._perm_cache = user._user_perm_cache | group_perms
    user._role_codes_of = (group_perms, list(roles))


class LockoutModelBackend(ModelBackend):
    """Permissions from groups; logins go through ``accounts.services.user_authenticate`` (lockout).

    What every signed-in request asks of the database — who the user is, the names of their roles and
    their permissions — is ONE prepared statement (``get_user``), not the three ORM queries of Django's
    backend (the user, its own permissions, its roles' permissions) plus the roles' names for the top
    bar: building and compiling those queries cost more CPU than PostgreSQL took to answer them (issue
    17). The permissions are read afresh on every request (a change of role is seen by the next one);
    a superuser's are Django's (every permission)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        from shebao.accounts.services import user_authenticate
        from shebao.common.context import client_ip_of

        result = user_authenticate(
            username=username or "", password=password or "", ip=client_ip_of(request) if request else ""
        )
        if request is not None:
            request.login_error = result.error
        return result.user

    def get_user(self, user_id):
        from shebao.accounts.models import User

        sql = _statements()
        db = router.db_for_read(User)
        try:
            pk = User._meta.pk.to_python(user_id)
        except Exception:  # noqa: BLE001 — a session naming no valid id: nobody, as Django's get() would
            return None
        with connections[db].cursor() as cursor:
            cursor.execute(sql["user"], [pk])
            row = cursor.fetchone()
        if row is None:
            return None
        fields = User._meta.concrete_fields
        values = list(row[:len(fields)])
        for i, field in enumerate(fields):  # the fields' own converters, as the ORM applies them
            for convert in field.get_db_converters(connections[db]):
                values[i] = convert(values[i], field, connections[db])
        user = User.from_db(db, [f.attname for f in fields], values)
        if not self.user_can_authenticate(user):
            return None
        if not user.is_superuser:
            _keep_permissions(user, *row[len(fields):])
        return user

    def _load_permissions(self, user_obj) -> None:
        """A user read without ``get_user`` (an API token's, a test's): its roles and permissions in one
        statement."""
        with connections[router.db_for_read(type(user_obj))].cursor() as cursor:
            cursor.execute(_statements()["perms"], [user_obj.pk] * 3)
            _keep_permissions(user_obj, *cursor.fetchone())

    def _cached(self, user_obj, obj) -> bool:
        if user_obj.is_superuser or obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return False
        if not hasattr(user_obj, "_group_perm_cache") or not hasattr(user_obj, "_user_perm_cache"):
            self._load_permissions(user_obj)
        return True

    def get_user_permissions(self, user_obj, obj=None):
        if not self._cached(user_obj, obj):
            return super().get_user_permissions(user_obj, obj)
        return user_obj._user_perm_cache

    def get_group_permissions(self, user_obj, obj=None):
        """The roles' (groups') permissions, read with the roles' names and the user's own permissions in
        ONE query — Django's backend asked for each and the page shell asked again for the roles
        (``User.role_codes``)."""
        if not self._cached(user_obj, obj):
            return super().get_group_permissions(user_obj, obj)
        return user_obj._group_perm_cache

    def get_all_permissions(self, user_obj, obj=None):
        if not self._cached(user_obj, obj):
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = user_obj._user_perm_cache | user_obj._group_perm_cache
        return user_obj._perm_cache
