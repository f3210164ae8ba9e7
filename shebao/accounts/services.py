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
from django.utils import timezone

from shebao.accounts.models import ApiToken, Role, User
from shebao.accounts.roles import ROLE_PERMISSIONS
from shebao.common.audit import audit_record, snapshot

USER_AUDIT_FIELDS = ["username", "full_name", "is_active", "all_regions", "schemes", "all_schemes", "email"]


class AccountError(Exception):
    """A refused account operation; ``str()`` is the message for the user."""


@dataclass
class LoginResult:
    user: User | None
    error: str = ""


def roles_sync() -> None:
    """Make the role groups hold exactly the permissions of ``ROLE_PERMISSIONS``."""
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        perms = []
        for dotted in ROLE_PERMISSIONS.get(role, []):
            app_label, codename = dotted.split(".")
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm:
                perms.append(perm)
        group.permissions.set(perms)


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
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise AccountError("；".join(exc.messages)) from None
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
) -> User:
    """Create a staff account with roles and scope; the password must pass the policy."""
    if User.objects.filter(username=username).exists():
        raise AccountError(f"用户名 {username} 已存在")
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise AccountError(f"未知角色：{', '.join(sorted(unknown))}")
    probe = User(username=username, full_name=full_name)
    try:
        password_validation.validate_password(password, probe)
    except ValidationError as exc:
        raise AccountError("；".join(exc.messages)) from None
    with transaction.atomic():
        user = User(
            username=username, full_name=full_name, all_regions=all_regions,
            schemes=schemes or [], all_schemes=not schemes, must_change_password=must_change_password,
            password_changed_at=timezone.now(),
        )
        user.set_password(password)
        user.save()
        roles_sync()
        user.groups.set(Group.objects.filter(name__in=roles))
        if region_ids:
            user.regions.set(region_ids)
        if sensitive:
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label="accounts", codename="view_sensitive")
            )
        after = snapshot(user, USER_AUDIT_FIELDS) | {
            "roles": sorted(roles), "regions": sorted(region_ids or []), "view_sensitive": sensitive
        }
        audit_record(user=actor, username="system" if actor is None else "", action="create", obj=user,
                     summary=f"新增用户 {username}", after=after)
    return user


def user_unlock(*, user: User, actor: User) -> None:
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
        audit_record(user=actor, action="unlock", obj=user, summary=f"解锁用户 {user.username}")


def api_token_create(*, user: User, name: str, days: int | None = 365) -> str:
    """Issue a token; the plain key is returned once and never stored."""
    key = secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, key_hash=ApiToken.hash_key(key), prefix=key[:8],
            expires_at=timezone.now() + dt.timedelta(days=days) if days else None,
        )
        audit_record(user=user, action="create", obj=token, summary=f"签发 API 令牌 {name}")
    return key


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
