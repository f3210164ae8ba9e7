from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from shebao.accounts.services import user_authenticate
from shebao.common.context import client_ip_of


def login_view(request):
    error = ""
    if request.method == "POST":
        result = user_authenticate(
            username=request.POST.get("username", "").strip(),
            password=request.POST.get("password", ""),
            ip=client_ip_of(request),
        )
        if result.user:
            login(request, result.user, backend="shebao.accounts.backends.LockoutModelBackend")
            return redirect(request.GET.get("next") or "web:home")
        error = result.error
    return render(request, "accounts/login.html", {"error": error})


@require_POST
def logout_view(request):
    logout(request)
    return redirect("accounts:login")


@login_required
def password_change_view(request):
    return render(request, "accounts/password_change.html")
