"""老农保 pages: who may see and do what, masking, the account page's tabs and yearly table, the refund
quote (exact amounts, 大写), settling through the page once (a double POST makes one document), refused
cases that change nothing, the 结算单 PDF, rollback (refused next month and after the bank export), the
documents list and its export, info changes, rates, the legacy import and the person-page section."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from shebao.accounts.models import User
from shebao.accounts.services import user_create
from shebao.common.jobs import job_run
from shebao.common.models import AuditEvent, Job
from shebao.payroll.models import PayrollRun
from shebao.payroll.services import payroll_run_approve, payroll_run_mark_exported
from shebao.registry.models import Region
from shebao.rural_pension.models import (
    AccountYear,
    Contribution,
    CreditedRate,
    Payout,
    RuralAccount,
    RuralDocument,
)
from shebao.rural_pension.services import rural_refund_settle, rural_years_recompute
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, make_person, set_rates
from shebao.rural_pension.views import EDIT_PERM, REFUND_PERM, ROLLBACK_PERM, VIEW_PERM
from shebao.web.tests.helpers import once

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = timezone.localdate()
CLERK_PERMS = (VIEW_PERM, EDIT_PERM, REFUND_PERM, ROLLBACK_PERM, "rural_pension.change_creditedrate")


def make_user(username: str, *perms: str, roles=("clerk",), sensitive=False, towns=None) -> User:
    regions = [r.pk for r in towns] if towns else []
    user = user_create(actor=None, username=username, full_name=username.upper(), password="Passw0rd!x",
                       roles=list(roles), all_regions=not towns, region_ids=regions, must_change_password=False,
                       sensitive=sensitive)
    for dotted in perms:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def clerk(db):
    return make_user("nbclerk", *CLERK_PERMS)


@pytest.fixture
def account(db):
    set_rates()
    acc = make_account(flows=HAND_FLOWS)
    rural_years_recompute()
    return acc


@pytest.fixture
def client_for(client):
    def login(user):
        client.force_login(user)
        return client
    return login


def state(account):
    account = RuralAccount.objects.get(pk=account.pk)
    return (account.status, account.closed_on,
            sorted(Payout.objects.filter(account=account).values_list("month", "kind", "amount")),
            sorted(AccountYear.objects.filter(account=account).values_list("year", "closing")),
            RuralDocument.objects.filter(account=account).count(), PayrollRun.objects.count())


def quote_url(account, on="2024-06-15", pay="cash"):
    return reverse("rural:refund_quote", args=[account.pk]) + f"?on={on}&pay={pay}"


def settle(client, account, *, on="2024-06-15", pay="cash", amount="3001.45"):
    return client.post(reverse("rural:refund_settle", args=[account.pk]),
                       once({"on": on, "pay": pay, "amount": amount, "confirm": "1"}))


# --------------------------------------------------------------------------------------------------
# access and masking


def test_pages_need_the_permission(client_for, account):
    nobody = make_user("nbnobody", roles=())
    c = client_for(nobody)
    for url in [reverse("rural:account_list"), reverse("rural:account_detail", args=[account.pk]),
                reverse("rural:refund", args=[account.pk]), reverse("rural:rollback_list"),
                reverse("rural:import_start"), reverse("rural:document_list")]:
        assert c.get(url).status_code == 403, url
    viewer = make_user("nbviewer", VIEW_PERM, roles=())
    c = client_for(viewer)
    assert c.get(reverse("rural:account_detail", args=[account.pk])).status_code == 200
    # a viewer cannot refund, edit, roll back or import
    assert c.get(reverse("rural:refund", args=[account.pk])).status_code == 403
    assert c.get(reverse("rural:account_edit", args=[account.pk])).status_code == 403
    assert settle(c, account).status_code == 403
    assert c.get(reverse("rural:import_start")).status_code == 403
    assert not RuralDocument.objects.exists()


def test_town_scope_hides_other_towns_accounts(client_for, account):
    other_town = Region.objects.filter(level="town").exclude(pk=account.town_id).first()
    user = make_user("nbtown", VIEW_PERM, towns=[other_town])
    c = client_for(user)
    assert c.get(reverse("rural:account_detail", args=[account.pk])).status_code == 404
    assert account.person.name not in c.get(reverse("rural:account_list")).content.decode()


def test_id_numbers_masked_on_pages_and_export_without_the_right(client_for, account, clerk):
    number = account.person.id_number
    masked = number[:6] + "********" + number[-4:]
    c = client_for(clerk)
    page = c.get(reverse("rural:account_list")).content.decode()
    assert masked in page and number not in page
    detail = c.get(reverse("rural:account_detail", args=[account.pk])).content.decode()
    assert masked in detail and number not in detail
    assert "6222021234567890" not in detail and "6222********7890" in detail
    export = c.get(reverse("rural:account_list") + "?export=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(export.streaming_content))).active
    values = [c.value for c in sheet[2]]
    assert masked in values and number not in values
    seer = make_user("nbseer", VIEW_PERM, sensitive=True)
    assert number in client_for(seer).get(reverse("rural:account_detail", args=[account.pk])).content.decode()


# --------------------------------------------------------------------------------------------------
# queries


def test_account_list_filters_and_export(client_for, account, clerk):
    set_rates()
    other = make_account(make_person("李小二", account=None), flows=[("2024-03", "personal", "100.00")])
    rural_years_recompute()
    c = client_for(clerk)
    page = c.get(reverse("rural:account_list") + "?years=4").content.decode()
    assert account.person.name in page and "李小二" not in page  # 5 contribution years vs 1
    page = c.get(reverse("rural:account_list") + "?q=李小").content.decode()
    assert "李小二" in page and account.person.name not in page
    page = c.get(reverse("rural:account_list") + f"?town={account.town_id}&status=paying").content.decode()
    assert "共 2 条" in page or ("李小二" in page and account.person.name in page)
    export = c.get(reverse("rural:account_list") + "?q=李小&export=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(export.streaming_content))).active
    assert sheet.max_row == 2 and sheet["A2"].value == "李小二"
    assert other.pk


def test_account_page_tabs_and_the_yearly_table(client_for, account, clerk):
    c = client_for(clerk)
    url = reverse("rural:account_detail", args=[account.pk])
    page = c.get(url + "?tab=years").content.decode()
    # the hand-computed closings (test_interest): 2020 1,837.50 … 2023 2,640.21
    for closing in ("1,837.50", "2,088.44", "2,588.44", "2,640.21"):
        assert f'<td class="num"><strong>{closing}</strong></td>' in page
    assert "3.00%" in page and "0.00%" in page
    page = c.get(url + "?tab=contrib").content.decode()
    assert "1,200.00" in page and "集体补助" in page
    page = c.get(url + "?tab=payout").content.decode()
    assert "100.00" in page
    assert c.get(url + "?tab=benefit").status_code == 200
    assert c.get(url + "?tab=refund").status_code == 200
    person = c.get(reverse("registry:person_detail", args=[account.person_id])).content.decode()
    assert "老农保" in person and url in person


# --------------------------------------------------------------------------------------------------
# refund


def test_quote_page_shows_the_exact_amount_in_figures_and_words(client_for, account, clerk):
    before = state(account)
    page = client_for(clerk).get(quote_url(account)).content.decode()
    assert '<span class="figure num" id="refund-amount">3,001.45</span>' in page
    assert "叁仟零壹元肆角伍分" in page
    assert 'name="amount" value="3001.45"' in page
    assert state(account) == before  # a quote writes nothing


def test_settle_through_the_page_once_double_post_makes_one_document(client_for, account, clerk):
    c = client_for(clerk)
    response = settle(c, account)
    doc = RuralDocument.objects.get()
    assert response.status_code == 302 and response.url == reverse("rural:document_detail", args=[doc.number])
    assert (doc.amount, doc.pay_method, doc.state, doc.on_date) == (D("3001.45"), "cash", "settled",
                                                                    dt.date(2024, 6, 15))
    account.refresh_from_db()
    assert account.status == "refunded"
    page = c.get(response.url).content.decode()
    assert "已退款" in page and doc.number in page and "叁仟零壹元肆角伍分" in page
    # the second click on 确认退款
    again = settle(c, account)
    assert again.status_code == 302 and again.url == reverse("rural:document_detail", args=[doc.number])
    assert RuralDocument.objects.count() == 1 and Payout.objects.filter(kind="refund").count() == 1
    assert "已退保" in c.get(again.url).content.decode()


def test_refused_refunds_show_the_message_and_change_nothing(client_for, account, clerk):
    c = client_for(clerk)
    CreditedRate.objects.filter(year=2022).delete()
    before = state(account)
    page = c.get(quote_url(account)).content.decode()
    assert "2022 年度没有记账利率" in page and 'id="confirm-refund"' not in page
    response = settle(c, account)
    assert "2022 年度没有记账利率" in c.get(response.url).content.decode()
    assert state(account) == before
    set_rates()
    # a changed amount (the confirm page was stale) is refused too
    settle(c, account, amount="1.00")
    assert state(account) == before
    # already refunded: the quote page refuses
    settle(c, account)
    page = c.get(quote_url(account)).content.decode()
    assert "已退保，不能再试算或退款" in page
    assert RuralDocument.objects.count() == 1


def test_bank_refund_without_a_bank_account_is_refused_on_the_quote_page(client_for, clerk):
    set_rates()
    acc = make_account(make_person("无卡人", account=None), flows=HAND_FLOWS)
    page = client_for(clerk).get(quote_url(acc, pay="bank")).content.decode()
    assert "没有登记银行账户" in page and 'id="confirm-refund"' not in page


def test_pdf_is_a_pdf_inline_and_only_an_asked_reprint_is_counted(client_for, account, clerk):
    c = client_for(clerk)
    settle(c, account)
    doc = RuralDocument.objects.get()
    response = c.get(reverse("rural:document_pdf", args=[doc.number]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert response.content.startswith(b"%PDF")
    for _ in range(3):  # the viewer fetching it again, the clerk looking again: not reprints
        assert c.get(reverse("rural:document_pdf", args=[doc.number])).status_code == 200
    doc.refresh_from_db()
    assert doc.printed_count == 1
    assert AuditEvent.objects.filter(action="rural_print").count() == 1
    detail = c.get(reverse("rural:document_detail", args=[doc.number])).content.decode()
    assert "补打结算单" in detail and 'id="reprint-form"' in detail
    # 补打: the form with its one-time token; the same form twice prints once
    data = once({})
    reprint = c.post(reverse("rural:document_reprint", args=[doc.number]), data)
    assert reprint.status_code == 200 and reprint.content.startswith(b"%PDF")
    again = c.post(reverse("rural:document_reprint", args=[doc.number]), data)
    assert again.status_code == 302
    doc.refresh_from_db()
    assert doc.printed_count == 2
    assert AuditEvent.objects.filter(action="rural_print", summary__endswith="（补打）").count() == 1
    # without a token: refused, nothing counted
    assert c.post(reverse("rural:document_reprint", args=[doc.number]), {}).status_code == 302
    doc.refresh_from_db()
    assert doc.printed_count == 2
    # a GET is no way to reprint
    assert c.get(reverse("rural:document_reprint", args=[doc.number])).status_code == 405


# --------------------------------------------------------------------------------------------------
# rollback


def rollback(client, doc, reason="录入错误"):
    return client.post(reverse("rural:document_rollback", args=[doc.number]), once({"reason": reason, "confirm": "1"}))


def test_rollback_through_the_page_restores_the_account(client_for, account, clerk):
    c = client_for(clerk)
    before = state(account)
    settle(c, account, on=TODAY.isoformat(), pay="bank", amount=_today_amount(c, account))
    doc = RuralDocument.objects.get()
    listing = c.get(reverse("rural:rollback_list")).content.decode()
    assert doc.number in listing and reverse("rural:document_rollback", args=[doc.number]) in listing
    assert "本月老农保退款待报盘" in c.get("/").content.decode()
    page = c.get(reverse("rural:document_rollback", args=[doc.number])).content.decode()
    assert "请确认" in page and "缴费" in page, page[page.find("<main"):]
    response = rollback(c, doc, reason="")  # the reason is required
    assert response.status_code == 200 and RuralDocument.objects.get().state == "settled"
    response = rollback(c, doc)
    assert response.status_code == 302
    assert "已回退结算单" in c.get(response.url).content.decode()
    after = state(account)
    assert after[:4] == before[:4] and after[5] == before[5]  # the document stays, as 已回退
    assert RuralDocument.objects.get().state == "rolled_back"


def _today_amount(client, account) -> str:
    page = client.get(quote_url(account, on=TODAY.isoformat())).content.decode()
    marker = 'name="amount" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


def test_rollback_refused_next_month(client_for, account, clerk):
    c = client_for(clerk)
    doc = rural_refund_settle(account=account, on=dt.date(2024, 6, 15), pay_method="cash", user=clerk)
    last_month = (TODAY.replace(day=1) - dt.timedelta(days=1))
    RuralDocument.objects.filter(pk=doc.pk).update(created_at=timezone.make_aware(
        dt.datetime.combine(last_month, dt.time(10, 0))))
    before = state(account)
    assert doc.number not in c.get(reverse("rural:rollback_list")).content.decode()
    page = c.get(reverse("rural:document_rollback", args=[doc.number])).content.decode()
    assert "跨月不能回退" in page and 'id="confirm-rollback"' not in page
    page = rollback(c, doc).content.decode()
    assert "跨月不能回退" in page and "未做任何修改" in page
    assert state(account) == before and RuralDocument.objects.get().state == "settled"


def test_rollback_refused_after_the_bank_export(client_for, account, clerk):
    c = client_for(clerk)
    doc = rural_refund_settle(account=account, on=TODAY, pay_method="bank", user=clerk)
    reviewer = make_user("nbrev", roles=("reviewer",))
    run = payroll_run_approve(run=PayrollRun.objects.get(pk=doc.payroll_run_id), user=reviewer)
    payroll_run_mark_exported(run=run, user=clerk)
    before = state(account)
    page = rollback(c, doc).content.decode()
    assert "款项已发往银行" in page
    assert state(account) == before and RuralDocument.objects.get().state == "settled"


def test_documents_list_filters_and_export(client_for, account, clerk):
    c = client_for(clerk)
    doc = rural_refund_settle(account=account, on=dt.date(2024, 6, 15), pay_method="cash", user=clerk)
    page = c.get(reverse("rural:document_list") + "?state=settled&pay=cash").content.decode()
    assert doc.number in page
    assert doc.number not in c.get(reverse("rural:document_list") + "?state=rolled_back").content.decode()
    export = c.get(reverse("rural:document_list") + "?export=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(export.streaming_content))).active
    assert sheet["A2"].value == doc.number and sheet["G2"].value == D("3001.45") or sheet["G2"].value == 3001.45


# --------------------------------------------------------------------------------------------------
# info change, rates


def test_info_change_confirm_then_audited(client_for, account, clerk):
    c = client_for(clerk)
    url = reverse("rural:account_edit", args=[account.pk])
    data = {"name": account.person.name, "town": account.town_id, "community": "", "enrolled_on": "2019-11-01",
            "status": "suspended", "residence_address": "", "mobile": "", "legacy_bank": "", "legacy_account_number": "",
            "note": "", "reason": "档案核对"}
    page = c.post(url, once(data)).content.decode()
    assert "请确认" in page and "2019-12-01" in page and "2019-11-01" in page and "中断缴费" in page
    account.refresh_from_db()
    assert account.status == "paying"  # nothing yet
    response = c.post(url, once({**data, "confirm": "1"}))
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.status, account.enrolled_on) == ("suspended", dt.date(2019, 11, 1))
    event = AuditEvent.objects.filter(action="update", summary__startswith="老农保信息修改").get()
    assert event.reason == "档案核对"
    # nothing changed → said so
    data2 = {**data, "reason": "再改"}
    assert "没有修改任何内容" in c.post(url, once(data2)).content.decode()


def test_rate_change_confirm_recomputes_and_says_what_it_did(client_for, account, clerk):
    c = client_for(clerk)
    url = reverse("rural:rates")
    page = c.post(url, once({"year": 2022, "rate": "0.0100", "reason": "文件调整"})).content.decode()
    assert "请确认" in page and "0.0000" in page
    assert AccountYear.objects.get(account=account, year=2022).interest == D("0.00")
    response = c.post(url, once({"year": 2022, "rate": "0.0100", "reason": "文件调整", "confirm": "1"}))
    assert response.status_code == 302
    assert CreditedRate.objects.get(year=2022).rate == D("0.0100")
    # 2022: opening 2088.44, 500.00 in May → 0.01 × (12 × 2088.44 + 500 × 8) / 12 = 24.22
    assert AccountYear.objects.get(account=account, year=2022).interest == D("24.22")
    message = c.get(url).content.decode()
    assert "已修改 2022 年度记账利率 0.0100" in message and "已重算全部年账户明细" in message
    viewer = make_user("nbratev", VIEW_PERM)
    assert client_for(viewer).post(url, once({"year": 2022, "rate": "0.0200", "reason": "x", "confirm": "1"})).status_code == 403


# --------------------------------------------------------------------------------------------------
# legacy import


def test_import_dry_run_then_commit_with_reconciliation(client_for, tmp_path, settings):
    from shebao.rural_pension import legacy_import

    settings.MEDIA_ROOT = str(tmp_path / "media")
    it = make_user("nbit", roles=("it_admin",))
    c = client_for(it)
    samples = legacy_import.__file__.rsplit("/", 1)[0] + "/samples"
    folder = tmp_path / "legacy"
    shutil.copytree(samples, folder)
    assert "请填写服务器目录" in c.post(reverse("rural:import_start"), once({})).content.decode()
    response = c.post(reverse("rural:import_start"), once({"directory": str(folder)}))
    job = Job.objects.get()
    assert response.url == reverse("rural:import_job", args=[job.pk]) and job.params["dry_run"] is True
    job_run(job.pk)
    page = c.get(response.url).content.decode()
    assert "试运行" in page and "读入 = 载入 + 拒绝" in page and 'id="confirm-import"' in page
    assert "不平" not in page
    assert not RuralAccount.objects.exists()  # a dry run writes nothing
    response = c.post(reverse("rural:import_commit", args=[job.pk]), once({"confirm": "1"}))
    commit = Job.objects.exclude(pk=job.pk).get()
    job_run(commit.pk)
    commit.refresh_from_db()
    assert commit.state == "done", commit.message
    page = c.get(response.url).content.decode()
    assert 'id="batch-link"' in page and RuralAccount.objects.exists()
    batch_id = commit.result["batch_id"]
    page = c.get(reverse("rural:import_batch", args=[batch_id])).content.decode()
    assert "persons.csv" in page and "contributions.csv" in page
    assert Contribution.objects.exists()


def test_import_by_upload(client_for, tmp_path, settings):
    from shebao.rural_pension import legacy_import

    settings.MEDIA_ROOT = str(tmp_path / "media")
    c = client_for(make_user("nbit2", roles=("it_admin",)))
    samples = legacy_import.__file__.rsplit("/", 1)[0] + "/samples"
    with open(f"{samples}/rates.csv", "rb") as rates:
        response = c.post(reverse("rural:import_start"), once({"file_rates": rates}))
    job = Job.objects.get()
    assert response.status_code == 302 and (tmp_path / "media" / "rural_import").exists()
    assert job.params["directory"].startswith(str(tmp_path / "media"))
