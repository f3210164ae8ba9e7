import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.accounts.models import ApiToken, User
from shebao.accounts.services import api_token_user
from shebao.accounts.tests.factories import make_user

pytestmark = pytest.mark.django_db


def _run(*args, stdin: str = ""):
    out, err = io.StringIO(), io.StringIO()
    import sys

    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out, stderr=err)
    finally:
        sys.stdin = old
    return out.getvalue(), err.getvalue()


def test_setup_creates_first_admin_who_must_change_password():
    out, _ = _run("setup", "--username", "root1", "--full-name", "周管理", "--password-stdin", stdin="Adm1n-Start\n")
    assert "已创建系统管理员 root1" in out
    user = User.objects.get(username="root1")
    assert user.role_codes == ["sys_admin"]
    assert user.must_change_password and user.all_regions
    assert user.has_perm("accounts.manage_users")
    assert not user.is_superuser


def test_setup_refuses_when_a_sys_admin_exists():
    make_user("boss", roles=["sys_admin"], all_regions=True)
    with pytest.raises(CommandError, match="系统管理员已存在"):
        _run("setup", "--username", "root2", "--full-name", "x", "--password-stdin", stdin="Adm1n-Start\n")
    assert not User.objects.filter(username="root2").exists()


def test_setup_refuses_weak_password():
    with pytest.raises(CommandError, match="至少 3 类"):
        _run("setup", "--username", "root3", "--full-name", "x", "--password-stdin", stdin="adminadmin\n")


def test_setup_without_terminal_needs_password_stdin():
    with pytest.raises(CommandError, match="--password-stdin"):
        _run("setup", "--username", "root4", "--full-name", "x")


def test_user_create_command():
    out, _ = _run("user", "create", "--username", "town1", "--full-name", "镇经办", "--roles", "clerk,reviewer",
                  "--towns", "浒山街道,330282003", "--schemes", "ZG,BZ", "--sensitive", "--password-stdin",
                  stdin="Town-Pass1\n")
    assert "已新增用户 town1" in out
    user = User.objects.get(username="town1")
    assert sorted(user.role_codes) == ["clerk", "reviewer"]
    assert sorted(r.name for r in user.regions.all()) == ["古塘街道", "浒山街道"]
    assert user.schemes == ["BZ", "ZG"]
    assert user.has_perm("accounts.view_sensitive")
    assert user.must_change_password
    listing, _ = _run("user", "list")
    assert "town1" in listing


def test_user_create_command_errors():
    with pytest.raises(CommandError, match="找不到镇街道：火星镇"):
        _run("user", "create", "--username", "x1", "--full-name", "x", "--roles", "clerk", "--towns", "火星镇",
             "--password-stdin", stdin="Town-Pass1\n")
    with pytest.raises(CommandError, match="未知角色：boss"):
        _run("user", "create", "--username", "x2", "--full-name", "x", "--roles", "boss", "--all-regions",
             "--password-stdin", stdin="Town-Pass1\n")


def test_token_create_command_prints_key_once():
    make_user("script_user", all_regions=True)
    out, err = _run("token", "create", "--user", "script_user", "--name", "夜间核对")
    key = out.strip()
    assert api_token_user(key).username == "script_user"
    assert "只显示这一次" in err
    token = ApiToken.objects.get(name="夜间核对")
    assert token.expires_at is not None
    listing, _ = _run("token", "list", "--user", "script_user")
    assert token.prefix in listing and key not in listing
    _run("token", "revoke", "--user", "script_user", "--prefix", token.prefix)
    assert api_token_user(key) is None


def test_token_create_for_unknown_user():
    with pytest.raises(CommandError, match="用户 ghost 不存在"):
        _run("token", "create", "--user", "ghost", "--name", "x")


def test_a_token_prefix_never_starts_with_a_hyphen(monkeypatch):
    """``shebao token revoke --prefix P`` would read a P starting with "-" as an option (1 key in 64 did)."""
    import secrets

    keys = iter(["-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "Zabcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: next(keys))
    make_user("dash_user", all_regions=True)
    out, _ = _run("token", "create", "--user", "dash_user", "--name", "连字符")
    assert out.strip().startswith("Z") and ApiToken.objects.get(name="连字符").prefix == "Zabcdefg"
