import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from shebao.accounts.models import User
from shebao.accounts.services import AccountError, user_change_password, user_create
from shebao.accounts.tests.factories import PASSWORD, logged_in, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("password, message", [
    ("Ab1!x", "密码太短，至少需要 8 位"),
    ("abcdefgh12", "密码须包含小写字母、大写字母、数字、符号中的至少 3 类"),
    ("abcdefghXY", "密码须包含小写字母、大写字母、数字、符号中的至少 3 类"),
])
def test_policy_refuses_weak_passwords(password, message):
    with pytest.raises(AccountError) as exc:
        user_create(actor=None, username="weak", full_name="弱", password=password, roles=["clerk"])
    assert message in str(exc.value)
    assert not User.objects.filter(username="weak").exists()


@pytest.mark.parametrize("password", ["Kx7mPq2wz", "kx7mpq2w!", "KX7MPQ2W!", "Kxmpqwz!q"])
def test_policy_accepts_three_classes(password):
    user = user_create(actor=None, username="strong", full_name="强", password=password, roles=["clerk"])
    assert user.check_password(password)


def test_change_needs_old_password_and_a_different_new_one():
    user = make_user()
    with pytest.raises(AccountError, match="原密码不正确"):
        user_change_password(user=user, old_password="nope", new_password="Newpass1!", actor=user)
    with pytest.raises(AccountError, match="新密码不能与原密码相同"):
        user_change_password(user=user, old_password=PASSWORD, new_password=PASSWORD, actor=user)


def test_first_login_forces_password_change():
    make_user("newbie", must_change_password=True)
    client = Client()
    response = client.post("/accounts/login/", {"username": "newbie", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/?forced=1"
    home = client.get("/")
    assert home.status_code == 302
    assert home["Location"] == "/accounts/password/?forced=1"
    page = client.get("/accounts/password/?forced=1").content.decode()
    assert "首次登录或密码被系统管理员重置后" in page
    assert "包含小写字母、大写字母、数字、符号中的至少 3 类" in page
    response = client.post("/accounts/password/?forced=1", {
        "old_password": PASSWORD, "new_password1": "N3w-Secret", "new_password2": "N3w-Secret",
    })
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(username="newbie")
    assert user.must_change_password is False
    assert user.check_password("N3w-Secret")
    assert client.get("/").status_code == 200  # still logged in after the change


def test_password_older_than_90_days_forces_change():
    user = make_user("old")
    client = logged_in(user)
    assert client.get("/").status_code == 200
    User.objects.filter(pk=user.pk).update(password_changed_at=timezone.now() - dt.timedelta(days=91))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/?forced=1"
    assert "已超过 90 天未修改" in client.get(response["Location"]).content.decode()


def test_password_89_days_old_is_fine():
    user = make_user()
    User.objects.filter(pk=user.pk).update(password_changed_at=timezone.now() - dt.timedelta(days=89))
    assert logged_in(user).get("/").status_code == 200


def test_change_page_shows_policy_errors():
    user = make_user()
    client = logged_in(user)
    page = client.post("/accounts/password/", {
        "old_password": PASSWORD, "new_password1": "abcdefgh1", "new_password2": "abcdefgh1",
    }).content.decode()
    assert "密码须包含小写字母、大写字母、数字、符号中的至少 3 类" in page
    page = client.post("/accounts/password/", {
        "old_password": PASSWORD, "new_password1": "Abcdefg1!", "new_password2": "Abcdefg1?",
    }).content.decode()
    assert "两次输入的新密码不一致" in page


def test_forced_user_cannot_reach_tokens_page():
    user = make_user(must_change_password=True)
    response = logged_in(user).get("/accounts/tokens/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/?forced=1"


def test_policy_refuses_common_and_similar_passwords():
    with pytest.raises(AccountError, match="密码过于常见"):
        user_create(actor=None, username="c1", full_name="c", password="Password1", roles=["clerk"])
    with pytest.raises(AccountError, match="密码与用户名过于相似"):
        user_create(actor=None, username="zhangsanfeng", full_name="c", password="Zhangsanfeng1", roles=["clerk"])
