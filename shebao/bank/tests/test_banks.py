"""开户银行 as data: the seeded table, the reviewer's page, and the registry refusing a code the table
does not hold (or holds stopped)."""

import datetime as dt

import pytest
from django.urls import reverse

from shebao.common.models import AuditEvent
from shebao.registry.forms import BankAccountForm
from shebao.registry.models import Bank, BankAccount
from shebao.registry.selectors import bank_account_length_problem, bank_choices, bank_label
from shebao.registry.services import RegistryError, bank_account_bulk_set, bank_account_set, bank_save

from .helpers import make_person

pytestmark = pytest.mark.django_db


def test_seeded_with_the_former_list_and_their_lengths():
    rows = {b.code: (b.name, b.account_min_length, b.account_max_length, b.active) for b in Bank.objects.all()}
    assert rows == {
        "ICBC": ("中国工商银行", 16, 19, True), "ABC": ("中国农业银行", 15, 19, True), "BOC": ("中国银行", 12, 19, True),
        "CCB": ("中国建设银行", 16, 20, True), "BOCOM": ("交通银行", 16, 21, True),
        "PSBC": ("中国邮政储蓄银行", 17, 19, True), "NBCB": ("宁波银行", 12, 19, True),
        "CXRCB": ("慈溪农商银行", 12, 23, True)}
    assert bank_label("CXRCB") == "慈溪农商银行" and bank_label("ZZZ") == "ZZZ"


def test_length_rule_as_data():
    assert bank_account_length_problem(bank="ICBC", number="6222021234567890123") is None
    assert bank_account_length_problem(bank="ICBC", number="6222021234") == "中国工商银行的账号应为 16–19 位，现为 10 位"
    assert bank_account_length_problem(bank="CXRCB", number="1" * 24) == "慈溪农商银行的账号应为 12–23 位，现为 24 位"
    assert bank_account_length_problem(bank="NOPE", number="1") is None


def test_a_new_bank_is_a_row_offered_everywhere(reviewer):
    audits = AuditEvent.objects.count()
    bank = bank_save(user=reviewer, code="hzb", name="杭州银行", account_min_length=16, account_max_length=19,
                     sort=90, create=True)
    assert (bank.code, bank.active) == ("HZB", True)
    assert ("HZB", "杭州银行") in bank_choices()
    assert ("HZB", "杭州银行") in BankAccountForm().fields["bank"].choices
    assert bank_label("HZB") == "杭州银行"
    event = AuditEvent.objects.order_by("-id").first()
    assert AuditEvent.objects.count() == audits + 1 and event.action == "create"
    assert event.after["account_min_length"] == 16
    person = make_person("孙八", None)
    change = bank_account_set(user=reviewer, person=person, bank="HZB", account_number="6230000000000001",
                              holder_name="孙八", valid_from=dt.date(2026, 1, 1))
    assert change.account.get_bank_display() == "杭州银行"


def test_edit_keeps_the_code_and_audits_only_a_change(reviewer):
    bank_save(user=reviewer, code="ICBC", name="中国工商银行", account_min_length=19, account_max_length=19,
              sort=10, notes="仅借记卡")
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.action, event.before["account_min_length"], event.after["account_min_length"]) == ("update", 16, 19)
    audits = AuditEvent.objects.count()
    bank_save(user=reviewer, code="ICBC", name="中国工商银行", account_min_length=19, account_max_length=19,
              sort=10, notes="仅借记卡")
    assert AuditEvent.objects.count() == audits  # the same values again write nothing


@pytest.mark.parametrize(("kw", "message"), [
    ({"code": "ICBC", "name": "工行2", "create": True}, "银行代码 ICBC 已存在，请在列表中修改该银行"),
    ({"code": "XYZ", "name": "中国工商银行", "create": True}, "银行代码 XYZ 或名称“中国工商银行”已被其他银行使用"),
    ({"code": "1AB", "name": "某银行"}, "银行代码须为 2–10 位大写字母或数字，以字母开头（如 ICBC）"),
    ({"code": "XYZ", "name": "某银行", "account_min_length": 20, "account_max_length": 19},
     "账号位数范围须在 6–32 之间，且最短不大于最长"),
])
def test_refusals_write_nothing(reviewer, kw, message):
    before = list(Bank.objects.order_by("code").values_list("code", "name", "account_min_length"))
    audits = AuditEvent.objects.count()
    args = {"account_min_length": 16, "account_max_length": 19, **kw}
    with pytest.raises(RegistryError) as exc:
        bank_save(user=reviewer, **args)
    assert str(exc.value) == message
    assert list(Bank.objects.order_by("code").values_list("code", "name", "account_min_length")) == before
    assert AuditEvent.objects.count() == audits


def test_account_at_an_unknown_or_stopped_bank_is_refused(reviewer, clerk):
    person = make_person("周九", None)
    with pytest.raises(RegistryError) as exc:
        bank_account_set(user=clerk, person=person, bank="NOPE", account_number="6222021234567890123",
                         holder_name="周九")
    assert str(exc.value) == "未知的开户银行代码“NOPE”"
    bank_save(user=reviewer, code="NBCB", name="宁波银行", account_min_length=16, account_max_length=19, active=False,
              sort=70)
    with pytest.raises(RegistryError) as exc:
        bank_account_bulk_set(user=clerk, rows=[{"person": person, "bank": "NBCB", "account_number": "6230580000000001",
                                                 "holder_name": "周九"}])
    assert str(exc.value) == "周九：开户银行 NBCB 已停用，不能登记新账户"
    assert not BankAccount.objects.filter(person=person).exists()
    assert ("NBCB", "宁波银行") not in bank_choices() and ("NBCB", "宁波银行") in bank_choices(include_inactive=True)


def test_pages_list_add_and_edit(client, reviewer, clerk):
    make_person("吴十", "6222020000001111")  # 16 digits at ICBC: inside its seeded 16–19 …
    bank_save(user=reviewer, code="ICBC", name="中国工商银行", account_min_length=19, account_max_length=19, sort=10)
    # … and outside once the range is narrowed to 19: the page counts it
    client.force_login(clerk)
    page = client.get(reverse("bank:banks")).content.decode()
    assert "慈溪农商银行" in page and "12–23" in page and "新增开户银行" not in page
    client.force_login(reviewer)
    page = client.get(reverse("bank:banks")).content.decode()
    assert "新增开户银行" in page and '<span class="neg">1</span>' in page
    response = client.post(reverse("bank:bank_add"), {"code": "HZB", "name": "杭州银行", "account_min_length": "16",
                                                       "account_max_length": "19", "sort": "90", "active": "on"})
    assert response.status_code == 302 and Bank.objects.get(code="HZB").name == "杭州银行"
    response = client.post(reverse("bank:bank_add"), {"code": "HZB", "name": "杭州银行2", "account_min_length": "16",
                                                       "account_max_length": "19", "sort": "90"})
    assert "银行代码 HZB 已存在" in response.content.decode() and Bank.objects.get(code="HZB").name == "杭州银行"
    response = client.post(reverse("bank:bank_edit", args=["HZB"]), {
        "code": "OTHER", "name": "杭州银行", "account_min_length": "16", "account_max_length": "19", "sort": "90"})
    assert response.status_code == 302
    assert Bank.objects.get(code="HZB").active is False and not Bank.objects.filter(code="OTHER").exists()
