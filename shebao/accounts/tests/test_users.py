import datetime as dt

import pytest
from django.utils import timezone

from shebao.accounts.models import User
from shebao.accounts.services import AccountError, user_update
from shebao.accounts.tests.factories import PASSWORD, logged_in, make_user, town
from shebao.common.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return make_user("admin", roles=["sys_admin"], all_regions=True)


def test_user_pages_need_manage_users(clerk_all):
    client = logged_in(clerk_all)
    assert client.get("/accounts/users/").status_code == 403
    assert client.get("/accounts/users/new/").status_code == 403


def test_user_list_shows_roles_scope_and_lock(admin):
    make_user("hs1", towns=["浒山街道", "古塘街道"], sensitive=True)
    User.objects.filter(username="hs1").update(locked_until=timezone.now() + dt.timedelta(minutes=10))
    page = logged_in(admin).get("/accounts/users/").content.decode()
    assert "hs1" in page
    assert "浒山街道、古塘街道" in page
    assert "经办员" in page
    assert "已锁定至" in page
    assert "解锁" in page
    assert "全市范围" in page  # the admin's own row


def test_create_user_through_page_is_audited(admin):
    client = logged_in(admin)
    response = client.post("/accounts/users/new/", {
        "username": "clerk9", "full_name": "陈九", "password1": "Start-2024x", "password2": "Start-2024x",
        "roles": ["clerk"], "regions": [town("坎墩街道").pk], "schemes": ["ZG"], "sensitive": "on",
        "is_active": "on",
    })
    assert response.status_code == 302, response.content.decode()
    user = User.objects.get(username="clerk9")
    assert user.must_change_password is True
    assert user.role_codes == ["clerk"]
    assert [r.name for r in user.regions.all()] == ["坎墩街道"]
    assert user.schemes == ["ZG"] and user.all_schemes is False
    assert user.has_perm("accounts.view_sensitive")
    event = AuditEvent.objects.get(object_type="accounts.user", object_id=str(user.pk), action="create")
    assert event.username == "admin"
    assert event.after["roles"] == ["clerk"] and event.after["view_sensitive"] is True


def test_create_requires_towns_or_city_scope(admin):
    page = logged_in(admin).post("/accounts/users/new/", {
        "username": "c10", "full_name": "十", "password1": "Start-2024x", "password2": "Start-2024x",
        "roles": ["clerk"], "is_active": "on",
    }).content.decode()
    assert "请选择管辖镇街道，或勾选“全市范围”" in page
    assert not User.objects.filter(username="c10").exists()


def test_edit_user_audits_before_and_after(admin):
    user = make_user("e1", towns=["浒山街道"])
    response = logged_in(admin).post(f"/accounts/users/{user.pk}/", {
        "full_name": "新名字", "roles": ["clerk", "reviewer"], "all_regions": "on", "is_active": "on",
    })
    assert response.status_code == 302
    user = User.objects.get(pk=user.pk)
    assert user.all_regions is True and user.regions.count() == 0
    assert sorted(user.role_codes) == ["clerk", "reviewer"]
    event = AuditEvent.objects.get(object_type="accounts.user", object_id=str(user.pk), action="update")
    assert event.before == {"full_name": "测试e1", "all_regions": False, "roles": ["clerk"],
                            "regions": [town("浒山街道").pk]}
    assert event.after == {"full_name": "新名字", "all_regions": True, "roles": ["clerk", "reviewer"], "regions": []}


def test_edit_can_take_away_sensitive_and_deactivate(admin):
    user = make_user("e2", all_regions=True, sensitive=True)
    logged_in(admin).post(f"/accounts/users/{user.pk}/", {"full_name": "x", "roles": ["clerk"], "all_regions": "on"})
    user = User.objects.get(pk=user.pk)
    assert user.is_active is False
    assert not user.has_perm("accounts.view_sensitive")


def test_last_sys_admin_cannot_be_removed(admin):
    with pytest.raises(AccountError, match="最后一个在用的系统管理员"):
        user_update(actor=None, user=admin, full_name="a", roles=["clerk"], all_regions=True)
    with pytest.raises(AccountError, match="不能停用自己的账号"):
        user_update(actor=admin, user=admin, full_name="a", roles=["sys_admin"], all_regions=True, is_active=False)
    make_user("admin2", roles=["sys_admin"], all_regions=True)
    user_update(actor=None, user=admin, full_name="a", roles=["clerk"], all_regions=True)
    assert User.objects.get(pk=admin.pk).role_codes == ["clerk"]


def test_reset_password_forces_change_and_is_audited(admin):
    user = make_user("r1")
    client = logged_in(admin)
    response = client.post(f"/accounts/users/{user.pk}/reset-password/",
                           {"new_password1": "Temp-1234x", "new_password2": "Temp-1234x"})
    assert response.status_code == 302
    user = User.objects.get(pk=user.pk)
    assert user.check_password("Temp-1234x")
    assert user.must_change_password is True
    event = AuditEvent.objects.get(action="password_change", object_id=str(user.pk))
    assert event.username == "admin" and event.summary == "管理员重置密码"
    # the user's next login goes to the password page
    from django.test import Client

    login = Client().post("/accounts/login/", {"username": "r1", "password": "Temp-1234x"})
    assert login["Location"] == "/accounts/password/?forced=1"


def test_reset_password_refuses_weak(admin):
    user = make_user("r2")
    page = logged_in(admin).post(f"/accounts/users/{user.pk}/reset-password/",
                                 {"new_password1": "short", "new_password2": "short"}).content.decode()
    assert "密码太短，至少需要 8 位" in page
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)


def test_unlock(admin):
    user = make_user("u1")
    User.objects.filter(pk=user.pk).update(failed_logins=3, locked_until=timezone.now() + dt.timedelta(minutes=9))
    client = logged_in(admin)
    assert client.get(f"/accounts/users/{user.pk}/unlock/").status_code == 405
    assert client.post(f"/accounts/users/{user.pk}/unlock/").status_code == 302
    user.refresh_from_db()
    assert user.locked_until is None and user.failed_logins == 0
    assert AuditEvent.objects.get(action="unlock", object_id=str(user.pk)).username == "admin"
