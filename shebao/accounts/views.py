"""Login, password change, user management and API tokens. Views parse input and call one service."""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from shebao.accounts.forms import (
    LoginForm,
    PasswordChangeForm,
    PasswordResetForm,
    TokenCreateForm,
    UserCreateForm,
    UserForm,
    scheme_label,
)
from shebao.accounts.models import ApiToken, Role, User
from shebao.accounts.selectors import api_tokens_of, user_has_sensitive, user_is_locked, users_list
from shebao.accounts.services import (
    AccountError,
    api_token_create,
    api_token_revoke,
    password_expired,
    user_authenticate,
    user_change_password,
    user_create,
    user_reset_password,
    user_unlock,
    user_update,
)
from shebao.common.context import client_ip_of
from shebao.common.policy import PUBLIC, SIGNED_IN, rule
from shebao.web.guards import page

BACKEND = "shebao.accounts.backends.LockoutModelBackend"


def _safe_next(request, fallback: str = "web:home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return reverse(fallback)


def password_current(view):
    """The accounts pages are outside the password-expiry middleware (they hold the login and password
    pages); the others use this so a user who must change the password cannot get round it here."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if password_expired(request.user):
            return redirect(reverse("accounts:password_change") + "?forced=1")
        return view(request, *args, **kwargs)

    return wrapper


MANAGE_USERS = rule("accounts.manage_users", note="系统管理员：用户、角色和管辖范围")
# a token acts with its owner's own rights, so anyone signed in may hold tokens for themselves
OWN_TOKENS = SIGNED_IN


def manager_required(view):
    return page(MANAGE_USERS)(password_current(view))


# ---------------------------------------------------------------- login, logout, password


@page(PUBLIC)
@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    error = ""
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = user_authenticate(
            username=form.cleaned_data["username"].strip(), password=form.cleaned_data["password"],
            ip=client_ip_of(request),
        )
        if result.user:
            login(request, result.user, backend=BACKEND)
            target = _safe_next(request)
            if password_expired(result.user):
                change = reverse("accounts:password_change") + "?forced=1"
                if target != reverse("web:home"):
                    from urllib.parse import quote

                    change += "&next=" + quote(target)
                return redirect(change)
            return redirect(target)
        error = result.error
    elif request.method == "POST":
        error = _("请输入用户名和密码")
    return render(request, "accounts/login.html", {"form": form, "error": error, "next": next_url})


@page(SIGNED_IN)
@require_POST
def logout_view(request):
    logout(request)
    return redirect("accounts:login")


def _expiry_reason(user: User) -> str:
    if user.must_change_password or user.password_changed_at is None:
        return _("首次登录或密码被系统管理员重置后，须设置自己的新密码才能继续使用。")
    return _("您的密码已超过 %(days)s 天未修改，请设置新密码后继续使用。") % {
        "days": settings.SHEBAO_PASSWORD_MAX_AGE_DAYS}


@page(SIGNED_IN)
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
def password_change_view(request):
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user_change_password(
                user=request.user, old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"], actor=request.user,
            )
        except AccountError as exc:
            form.add_error(None, str(exc))
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, _("密码已修改"))
            return redirect(_safe_next(request))
    expired = password_expired(request.user)
    return render(request, "accounts/password_change.html", {
        "form": form,
        "forced": expired,
        "forced_reason": _expiry_reason(request.user) if expired else "",
        "next": request.POST.get("next") or request.GET.get("next") or "",
        "min_length": 8,
        "max_age_days": settings.SHEBAO_PASSWORD_MAX_AGE_DAYS,
        "max_failures": settings.SHEBAO_LOGIN_MAX_FAILURES,
        "lockout_minutes": settings.SHEBAO_LOCKOUT_MINUTES,
    })


# ---------------------------------------------------------------- user management


def _scope_text(user: User) -> str:
    if user.all_regions:
        return _("全市范围")
    names = [r.name for r in user.regions.all()]
    return _("、").join(names) or _("（未设置）")


@manager_required
def user_list(request):
    q = request.GET.get("q", "").strip()
    role = request.GET.get("role", "")
    active = {"1": True, "0": False}.get(request.GET.get("active", ""))
    page = Paginator(users_list(q=q, role=role if role in Role.values else "", active=active), 50)
    page_obj = page.get_page(request.GET.get("page"))
    labels = dict(Role.choices)
    rows = [
        {
            "user": u,
            "roles": _("、").join(str(labels.get(g.name, g.name)) for g in u.groups.all()),
            "scope": _scope_text(u),
            "schemes": _("全部") if u.all_schemes or not u.schemes else _("、").join(scheme_label(s) for s in u.schemes),
            "locked": user_is_locked(u),
        }
        for u in page_obj
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "accounts/user_list.html", {
        "rows": rows, "page_obj": page_obj, "q": q, "role": role, "active": request.GET.get("active", ""),
        "roles": Role.choices, "query": query.urlencode(),
    })


@sensitive_post_parameters("password1", "password2")
@manager_required
def user_create_view(request):
    form = UserCreateForm(request.POST or None, initial={"is_active": True})
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = user_create(
                    actor=request.user, username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"], must_change_password=True,
                    is_active=bool(form.cleaned_data["is_active"]), email=form.cleaned_data["email"],
                    **form.service_kwargs(),
                )
                _communities_save(request, user, form)
        except AccountError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已新增用户 %(username)s，首次登录须修改密码") % {"username": user.username})
            return redirect("accounts:user_list")
    return render(request, "accounts/user_form.html", {"form": form, "creating": True})


def _communities_save(request, user: User, form) -> None:
    """A 社区专管员's 村社区 from the multi-select, through ``certification.community_worker_assign``
    (exactly those; audited there). Another role holds none (``user_update`` dropped them)."""
    from shebao.certification.services import CertificationError, community_worker_assign

    if Role.COMMUNITY not in form.cleaned_data["roles"] or form.cleaned_data["all_regions"]:
        return
    try:
        community_worker_assign(worker=user, communities=form.cleaned_data["communities"], actor=request.user,
                                replace=True)
    except CertificationError as exc:
        raise AccountError(str(exc)) from None


@manager_required
def user_edit(request, pk: int):
    target = get_object_or_404(User, pk=pk)
    initial = {
        "full_name": target.full_name, "email": target.email, "roles": target.role_codes,
        "all_regions": target.all_regions, "regions": list(target.regions.all()),
        "schemes": target.schemes, "sensitive": user_has_sensitive(target), "is_active": target.is_active,
        "communities": [str(pk) for pk in target.regions.filter(level="community").values_list("pk", flat=True)],
    }
    initial["regions"] = [r for r in initial["regions"] if r.level != "community"]
    form = UserForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user_update(actor=request.user, user=target, is_active=bool(form.cleaned_data["is_active"]),
                            email=form.cleaned_data["email"], **form.service_kwargs())
                _communities_save(request, target, form)
        except AccountError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已保存用户 %(username)s") % {"username": target.username})
            return redirect("accounts:user_list")
    return render(request, "accounts/user_form.html", {"form": form, "target": target, "creating": False})


@sensitive_post_parameters("new_password1", "new_password2")
@manager_required
def user_reset_password_view(request, pk: int):
    target = get_object_or_404(User, pk=pk)
    form = PasswordResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user_reset_password(actor=request.user, user=target, new_password=form.cleaned_data["new_password1"])
        except AccountError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已重置 %(username)s 的密码，该用户下次登录须修改密码") % {"username": target.username})
            return redirect("accounts:user_list")
    return render(request, "accounts/user_reset_password.html", {"form": form, "target": target})


@require_POST
@manager_required
def user_unlock_view(request, pk: int):
    target = get_object_or_404(User, pk=pk)
    user_unlock(user=target, actor=request.user)
    messages.success(request, _("已解锁用户 %(username)s") % {"username": target.username})
    return redirect("accounts:user_list")


# ---------------------------------------------------------------- API tokens


@page(OWN_TOKENS)
@password_current
def token_list(request):
    form = TokenCreateForm(request.POST or None)
    new_key = ""
    if request.method == "POST" and form.is_valid():
        try:
            new_key = api_token_create(user=request.user, name=form.cleaned_data["name"],
                                       days=form.cleaned_data["days"])
        except AccountError as exc:
            form.add_error(None, str(exc))
        else:
            form = TokenCreateForm()
    response = render(request, "accounts/token_list.html", {
        "form": form, "tokens": api_tokens_of(request.user), "new_key": new_key, "now": timezone.now(),
    })
    if new_key:
        response["Cache-Control"] = "no-store"
    return response


@page(OWN_TOKENS)
@require_POST
@password_current
def token_revoke(request, pk: int):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    if api_token_revoke(token=token, actor=request.user):
        messages.success(request, _("已吊销令牌 %(name)s") % {"name": token.name})
    return redirect("accounts:token_list")
