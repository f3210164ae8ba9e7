"""Users, login security (等保三级 application controls) and API tokens."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation

from shebao.accounts.models import ApiToken, Role, User
from shebao.accounts.roles import ROLE_PERMISSIONS
from shebao.common.audit import audit_record, diff, snapshot
from shebao.registry.models import Region

USER_AUDIT_FIELDS = ["username", "full_name", "is_active", "all_regions", "schemes", "all_schemes", "email"]
# 险种 a user can be limited to (GLOSSARY; the same codes as benefits.Scheme)
SCHEME_LABELS = {"ZG": "自管人员", "NB": "老农保", "BZ": "养老保障", "TB": "土保补贴"}
SCHEME_CODES = tuple(SCHEME_LABELS)


class AccountError(Exception):
    """A refused account operation; ``str()`` is the message for the user."""


@dataclass
class LoginResult:
    user: User | None
    error: str = ""


def roles_sync() -> None:
    """Make the role groups hold exactly the permissions of ``ROLE_PERMISSIONS`` (so existing users get
a new permission through their role). A few queries in all: the permissions are read at once and a
group is written only when it differs."""
    wanted = {dotted for role in Role for dotted in ROLE_PERMISSIONS.get(role, [])}
    labels = {d.split(".")[0] for d in wanted}
    ids = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.filter(content_type__app_label__in=labels)
        .values_list("pk", "content_type__app_label", "codename")
    }
    want = {role.value: {ids[d] for d in ROLE_PERMISSIONS.get(role, []) if d in ids} for role in Role}
    # as it should be (every user_create asks): two queries more, nothing written
    groups = dict(Group.objects.filter(name__in=want).values_list("name", "pk"))
    have: dict[str, set[int]] = {name: set() for name in groups}
    for name, perm_id in Group.permissions.through.objects.filter(group__name__in=want).values_list(
            "group__name", "permission_id"):
        have[name].add(perm_id)
    if have == want:
        return
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        if have.get(role.value) != want[role.value]:
            group.permissions.set(want[role.value])


def _lockout_until() -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=settings.SHEBAO_LOCKOUT_MINUTES)


def user_authenticate(*, username: str, password: str, ip: str = "") -> LoginResult:
    """Check a login. After ``SHEBAO_LOGIN_MAX_FAILURES`` consecutive failures the account is locked
    for ``SHEBAO_LOCKOUT_MINUTES``; while locked even the right password is refused. Every success and
    failure is audited."""
    generic = "用户名或密码错误"
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        now = timezone.now()
        if user is None:
            audit_record(user=None, username=username, action="login_failed", object_type="accounts.user",
                         summary="登录失败：用户不存在", ip=ip)
            return LoginResult(None, generic)
        if user.locked_until and user.locked_until > now:
            minutes = int((user.locked_until - now).total_seconds() // 60) + 1
            audit_record(user=None, username=username, action="login_locked", obj=user,
                         summary="登录被拒绝：账号已锁定", ip=ip)
            return LoginResult(None, f"连续登录失败次数过多，账号已锁定，请 {minutes} 分钟后再试")
        if not user.is_active:
            audit_record(user=None, username=username, action="login_failed", obj=user,
                         summary="登录失败：账号已停用", ip=ip)
            return LoginResult(None, "账号已停用，请联系系统管理员")
        if not user.check_password(password):
            failures = user.failed_logins + 1
            locked = failures >= settings.SHEBAO_LOGIN_MAX_FAILURES
            User.objects.filter(pk=user.pk).update(
                failed_logins=0 if locked else F("failed_logins") + 1,
                locked_until=_lockout_until() if locked else user.locked_until,
            )
            audit_record(user=None, username=username, action="login_failed", obj=user, ip=ip,
                         summary=f"登录失败：密码错误（第 {failures} 次）" + ("，账号锁定" if locked else ""))
            if locked:
                return LoginResult(None, f"连续 {failures} 次密码错误，账号已锁定 {settings.SHEBAO_LOCKOUT_MINUTES} 分钟")
            return LoginResult(None, generic)
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None, last_login=now)
        user.refresh_from_db()
        audit_record(user=user, action="login_ok", obj=user, summary="登录成功", ip=ip)
        return LoginResult(user)


def _policy_message(error: ValidationError) -> str:
    params = error.params or {}
    if error.code == "password_too_short":
        return f"密码太短，至少需要 {params.get('min_length', 8)} 位"
    if error.code == "password_too_common":
        return "密码过于常见，请换一个"
    if error.code == "password_too_similar":
        return f"密码与{params.get('verbose_name', '用户信息')}过于相似"
    if error.code == "password_entirely_numeric":
        return "密码不能全是数字"
    return "；".join(str(m) for m in error.messages)


def _validate_password(password: str, user: User) -> None:
    """The password policy (settings.AUTH_PASSWORD_VALIDATORS), with Chinese messages even where
    Django's own translation is missing or no language is active (commands, tests)."""
    with translation.override(settings.LANGUAGE_CODE):
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise AccountError("；".join(_policy_message(e) for e in exc.error_list)) from None


def password_expired(user: User) -> bool:
    if user.must_change_password or user.password_changed_at is None:
        return True
    max_age = dt.timedelta(days=settings.SHEBAO_PASSWORD_MAX_AGE_DAYS)
    return timezone.now() - user.password_changed_at > max_age


def user_change_password(*, user: User, old_password: str | None, new_password: str, actor: User) -> None:
    """Change a password (the user's own needs the old one). The new one must pass the validators and
    differ from the old."""
    if old_password is not None and not user.check_password(old_password):
        raise AccountError("原密码不正确")
    if old_password is not None and old_password == new_password:
        raise AccountError("新密码不能与原密码相同")
    _validate_password(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.password_changed_at = timezone.now()
        # An administrator's reset forces the user to choose their own at the next login.
        user.must_change_password = actor.pk != user.pk
        user.save(update_fields=["password", "password_changed_at", "must_change_password"])
        audit_record(user=actor, action="password_change", obj=user,
                     summary="修改密码" if actor.pk == user.pk else "管理员重置密码")


def user_create(
    *,
    actor: User | None,
    username: str,
    full_name: str,
    password: str,
    roles: list[str],
    region_ids: list[int] | None = None,
    all_regions: bool = False,
    schemes: list[str] | None = None,
    must_change_password: bool = True,
    sensitive: bool = False,
    is_active: bool = True,
    email: str = "",
) -> User:
    """Create a staff account with roles and scope; the password must pass the policy."""
    if User.objects.filter(username=username).exists():
        raise AccountError(f"用户名 {username} 已存在")
    username = (username or "").strip()
    if not username:
        raise AccountError("用户名不能为空")
    _check_roles(roles)
    _check_towns(region_ids or [])
    _check_schemes(schemes or [])
    probe = User(username=username, full_name=full_name)
    _validate_password(password, probe)
    with transaction.atomic():
        user = User(
            username=username, full_name=full_name, all_regions=all_regions,
            schemes=sorted(set(schemes or [])), all_schemes=not schemes, must_change_password=must_change_password,
            password_changed_at=timezone.now(), is_active=is_active, email=(email or "").strip(),
        )
        user.set_password(password)
        user.save()
        roles_sync()
        user.groups.set(Group.objects.filter(name__in=roles))
        if region_ids and not all_regions:
            user.regions.set(region_ids)
        if sensitive:
            user.user_permissions.add(_sensitive_permission())
        after = user_state(user)
        audit_record(user=actor, username="system" if actor is None else "", action="create", obj=user,
                     summary=f"新增用户 {username}", after=after)
    return user


def _check_roles(roles: list[str]) -> None:
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise AccountError(f"未知角色：{', '.join(sorted(unknown))}")


def _check_towns(region_ids: list[int]) -> None:
    ids = set(region_ids)
    if ids and Region.objects.filter(pk__in=ids, level=Region.Level.TOWN).count() != len(ids):
        raise AccountError("管辖范围只能选择镇街道")


def _check_schemes(schemes: list[str]) -> None:
    unknown = set(schemes) - set(SCHEME_CODES)
    if unknown:
        raise AccountError(f"未知险种：{', '.join(sorted(unknown))}")


def _sensitive_permission() -> Permission:
    return Permission.objects.get(content_type__app_label="accounts", codename="view_sensitive")


def user_state(user: User) -> dict:
    """What an audit record keeps of a user: fields, roles, town scope and the 查看敏感信息 right."""
    return snapshot(user, USER_AUDIT_FIELDS) | {
        "roles": sorted(user.groups.values_list("name", flat=True)),
        "regions": sorted(user.regions.values_list("id", flat=True)),
        "view_sensitive": user.user_permissions.filter(
            content_type__app_label="accounts", codename="view_sensitive"
        ).exists(),
    }


def _active_sys_admins():
    return User.objects.filter(groups__name=Role.SYS_ADMIN, is_active=True).distinct()


def user_update(
    *,
    actor: User | None,
    user: User,
    full_name: str,
    roles: list[str],
    region_ids: list[int] | None = None,
    all_regions: bool = False,
    schemes: list[str] | None = None,
    sensitive: bool = False,
    is_active: bool = True,
    email: str | None = None,
) -> User:
    """Change a staff account's name, roles, scope (towns or 全市范围, schemes), the 查看敏感信息 right
    and the active flag; audited with before/after. The last active 系统管理员 cannot be removed or
    deactivated, and nobody can deactivate themselves."""
    _check_roles(roles)
    _check_towns(region_ids or [])
    _check_schemes(schemes or [])
    full_name = (full_name or "").strip()
    with transaction.atomic():
        # serialise administrators' changes so the last-admin check cannot race
        user = User.objects.select_for_update().get(pk=user.pk)
        if actor is not None and actor.pk == user.pk and not is_active:
            raise AccountError("不能停用自己的账号")
        before = user_state(user)
        losing_admin = Role.SYS_ADMIN in before["roles"] and user.is_active and (
            Role.SYS_ADMIN not in roles or not is_active
        )
        if losing_admin and not _active_sys_admins().exclude(pk=user.pk).exists():
            raise AccountError("这是最后一个在用的系统管理员，不能取消其系统管理员角色或停用")
        user.full_name = full_name
        user.all_regions = all_regions
        user.schemes = sorted(set(schemes or []))
        user.all_schemes = not schemes
        user.is_active = is_active
        if email is not None:
            user.email = email.strip()
        user.save(update_fields=["full_name", "all_regions", "schemes", "all_schemes", "is_active", "email"])
        roles_sync()
        user.groups.set(Group.objects.filter(name__in=roles))
        # the form sets towns only: a 社区专管员 keeps the 村社区 they hold (given by
        # certification.community_worker_assign) while the role stays; without it they go too
        kept = ([] if all_regions or Role.COMMUNITY not in roles else
                list(user.regions.filter(level=Region.Level.COMMUNITY).values_list("pk", flat=True)))
        user.regions.set([] if all_regions else [*(region_ids or []), *kept])
        if sensitive:
            user.user_permissions.add(_sensitive_permission())
        else:
            user.user_permissions.remove(_sensitive_permission())
        b, a = diff(before, user_state(user))
        if a:
            audit_record(user=actor, username="system" if actor is None else "", action="update", obj=user,
                         summary=f"修改用户 {user.username}", before=b, after=a)
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)
    return user


def user_reset_password(*, actor: User, user: User, new_password: str) -> None:
    """An administrator sets a temporary password; the user must choose their own at the next login."""
    if actor.pk == user.pk:
        raise AccountError("请通过“修改密码”修改自己的密码")
    user_change_password(user=user, old_password=None, new_password=new_password, actor=actor)


def user_unlock(*, user: User, actor: User) -> None:
    """Lift a lockout (and clear the failure count) before the lockout period ends."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
        audit_record(user=actor, action="unlock", obj=user, summary=f"解锁用户 {user.username}")


def sys_admin_exists() -> bool:
    return User.objects.filter(groups__name=Role.SYS_ADMIN).exists()


def system_setup(*, username: str, full_name: str, password: str) -> User:
    """Create the first 系统管理员 (全市范围, must change the password at first login). Refused once any
    系统管理员 exists: there are no shared or default accounts, every later account is made by a person."""
    with transaction.atomic():
        # one setup at a time
        Group.objects.select_for_update().filter(name=Role.SYS_ADMIN).first()
        if sys_admin_exists():
            raise AccountError("系统管理员已存在；其他账号请由系统管理员在“用户管理”中创建")
        return user_create(
            actor=None, username=username, full_name=full_name, password=password,
            roles=[Role.SYS_ADMIN], all_regions=True, must_change_password=True,
        )


def api_token_create(*, user: User, name: str, days: int | None = 365) -> str:
    """Issue a token; the plain key is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise AccountError("请填写令牌用途")
    if days is not None and days <= 0:
        raise AccountError("有效期天数须大于 0")
    key = secrets.token_urlsafe(32)
    while key[0] == "-":  # its prefix is typed after --prefix: one starting with "-" reads as an option
        key = secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, key_hash=ApiToken.hash_key(key), prefix=key[:8],
            expires_at=timezone.now() + dt.timedelta(days=days) if days else None,
        )
        audit_record(user=user, action="create", obj=token, summary=f"签发 API 令牌 {name}")
    return key


def api_token_revoke(*, token: ApiToken, actor: User) -> bool:
    """Revoke a token (its owner, or a user administrator). Returns False if it was already revoked."""
    if token.user_id != actor.pk and not actor.has_perm("accounts.manage_users"):
        raise AccountError("只能吊销自己的令牌")
    with transaction.atomic():
        changed = ApiToken.objects.filter(pk=token.pk, revoked=False).update(revoked=True)
        if changed:
            audit_record(user=actor, action="revoke", obj=token, summary=f"吊销 API 令牌 {token.name}")
    return bool(changed)


def api_token_user(key: str) -> User | None:
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=ApiToken.hash_key(key), revoked=False, user__is_active=True)
        .first()
    )
    if token is None or (token.expires_at and token.expires_at < timezone.now()):
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user
