"""Money safety (issue 17): risky lines held out of the bank file unless a reviewer releases them, and a
run's state following every one of its bank files (部分回盘). Real PostgreSQL, exact amounts and states;
every refusal checked for its message and for nothing having changed."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Permission

from shebao.bank.models import BankFileLine, BankTemplate
from shebao.bank.services import bank_export, bank_reissue, bank_return_import
from shebao.bank.tests.helpers import bank_answer, make_person, make_user
from shebao.benefits.models import Scheme
from shebao.benefits.services import enrollment_create
from shebao.common.models import AuditEvent
from shebao.payroll.models import LineRisk, PayrollLine, PayrollRun
from shebao.payroll.services import (
    PayrollError,
    payroll_line_risk_release,
    payroll_oneoff_create,
    payroll_run_approve,
    payroll_run_compute,
)
from shebao.registry.models import Bank
from shebao.registry.services import bank_account_set

pytestmark = pytest.mark.django_db
ON = dt.date(2026, 1, 20)
CLOSED = "6222020000005555"  # the account the bank rejected (已销户)
GOOD = "6222020000006666"


@pytest.fixture
def clerk(db):
    return make_user("clerk1")


@pytest.fixture
def reviewer(db):
    return make_user("rev1", reviewer=True)


@pytest.fixture
def standard(db):
    return BankTemplate.objects.get(code="standard")


def _zg():
    return Scheme.objects.get(code="ZG")


def _enroll(person, clerk, basic="2000.00"):
    return enrollment_create(person=person, scheme=_zg(), start_month="2025-01", user=clerk,
                             items={"basic": basic})


def _file_names(files):
    return sorted(BankFileLine.objects.filter(bank_file__in=files).values_list("name", flat=True))


@pytest.fixture
def december(clerk, reviewer, standard):
    """The demo case: 2025-12 computed, approved, exported and returned; 孙八's line failed on 已销户."""
    bad = make_person("孙八", CLOSED)
    good = make_person("周九", GOOD)
    _enroll(bad, clerk)
    _enroll(good, clerk, basic="1500.00")
    run = payroll_run_compute(scheme=_zg(), period="2025-12", user=clerk)
    run = payroll_run_approve(run=run, user=reviewer)
    (f,) = bank_export(runs=[run], template=standard, user=clerk, on=dt.date(2025, 12, 20))
    seq = f.lines.get(name="孙八").seq
    bank_return_import(data=bank_answer(f, {seq: "已销户"}), filename="r.txt", user=clerk)
    run.refresh_from_db()
    return run, bad, good


def test_rejected_account_is_held_out_of_the_next_file(december, clerk, reviewer, standard):
    dec, bad, good = december
    assert PayrollLine.objects.get(run=dec, person=bad).status == "failed"
    jan = payroll_run_compute(scheme=_zg(), period="2026-01", user=clerk)
    (risk,) = LineRisk.objects.filter(run=jan)
    assert risk.line.person_id == bad.pk
    assert risk.kinds == "rejected"
    seq = PayrollLine.objects.get(run=dec, person=bad).seq
    assert risk.detail == f"该账户曾被银行退回（2025-12 结算批次 #{dec.pk} 第 {seq} 笔：已销户），此后未变更、未成功支付"
    jan = payroll_run_approve(run=jan, user=reviewer)
    files = bank_export(runs=[jan], template=standard, user=clerk, on=ON)
    assert _file_names(files) == ["周九"]
    assert [f.total for f in files] == [D("1500.00")]
    held = PayrollLine.objects.get(run=jan, person=bad)
    assert (held.status, held.paid_amount) == ("failed", D("0.00"))
    assert held.fail_reason == "风险暂缓，未报盘：" + risk.detail
    risk.refresh_from_db()
    assert risk.held_out_at is not None and risk.released_at is None
    event = AuditEvent.objects.get(action="payroll_hold_out")
    assert event.after["lines"] == [held.pk] and event.after["total"] == "2000.00"
    jan.refresh_from_db()
    assert jan.state == PayrollRun.State.EXPORTED  # the held line is owed: neither paid nor waiting for a return
    # a line held out is no bank rejection: it does not make the account risky for the re-issue …
    bank_account_set(user=clerk, person=bad, bank="ICBC", account_number="6222020000007777", holder_name="孙八",
                     valid_from=dt.date(2026, 1, 21))
    reissue = bank_reissue(run=jan, user=clerk).run
    assert not LineRisk.objects.filter(run=reissue).exists()  # a corrected account is not risky
    reissue = payroll_run_approve(run=reissue, user=reviewer)
    assert _file_names(bank_export(runs=[reissue], template=standard, user=clerk, on=ON)) == ["孙八"]


def test_after_a_change_of_account_the_line_is_not_risky(december, clerk, reviewer, standard):
    _, bad, _ = december
    bank_account_set(user=clerk, person=bad, bank="ICBC", account_number="6222020000007777", holder_name="孙八",
                     valid_from=dt.date(2026, 1, 1))
    jan = payroll_run_compute(scheme=_zg(), period="2026-01", user=clerk)
    assert not LineRisk.objects.filter(run=jan).exists()
    jan = payroll_run_approve(run=jan, user=reviewer)
    assert _file_names(bank_export(runs=[jan], template=standard, user=clerk, on=ON)) == ["周九", "孙八"]


def test_released_line_is_in_the_file(december, clerk, reviewer, standard):
    _, bad, _ = december
    jan = payroll_run_approve(run=payroll_run_compute(scheme=_zg(), period="2026-01", user=clerk), user=reviewer)
    risk = LineRisk.objects.get(run=jan)
    # refused: no reason, the run's maker, a clerk — nothing changes
    other = make_user("rev2", reviewer=True)
    for user, reason, message in [(other, "  ", "请填写放行原因"), (clerk, "已核实", "只有审核员可以放行风险明细")]:
        with pytest.raises(PayrollError, match=message):
            payroll_line_risk_release(risk=risk, user=user, reason=reason)
    risk.refresh_from_db()
    assert risk.released_at is None and not AuditEvent.objects.filter(action="payroll_risk_release").exists()
    done = payroll_line_risk_release(risk=risk, user=reviewer, reason="电话核实：账户已重新开户，同号")
    assert (done.released_by_id, done.release_reason) == (reviewer.pk, "电话核实：账户已重新开户，同号")
    with pytest.raises(PayrollError, match=f"已于 .* 由 {reviewer.display_name} 放行，无需再次放行"):
        payroll_line_risk_release(risk=risk, user=reviewer, reason="再次")
    event = AuditEvent.objects.get(action="payroll_risk_release")
    assert (event.person_id, event.reason, event.before["kinds"]) == (bad.pk, "电话核实：账户已重新开户，同号", "rejected")
    files = bank_export(runs=[jan], template=standard, user=clerk, on=ON)
    assert _file_names(files) == ["周九", "孙八"]
    assert [f.total for f in files] == [D("3500.00")]
    risk.refresh_from_db()
    assert risk.held_out_at is None


def test_a_later_payment_to_the_account_clears_the_rejection(december, clerk, reviewer, standard):
    """The account failed in 2025-12, was released and paid in 2026-01: 2026-02 is not risky."""
    _, bad, _ = december
    jan = payroll_run_approve(run=payroll_run_compute(scheme=_zg(), period="2026-01", user=clerk), user=reviewer)
    payroll_line_risk_release(risk=LineRisk.objects.get(run=jan), user=reviewer, reason="已核实")
    (f,) = bank_export(runs=[jan], template=standard, user=clerk, on=ON)
    bank_return_import(data=bank_answer(f), filename="jan.txt", user=clerk)
    feb = payroll_run_compute(scheme=_zg(), period="2026-02", user=clerk)
    assert not LineRisk.objects.filter(run=feb).exists()


def test_holder_name_and_luhn_risks(clerk, reviewer, standard):
    Bank.objects.filter(code="ABC").update(luhn_check=True)
    other_holder = make_person("吴十", None)
    change = bank_account_set(user=clerk, person=other_holder, bank="ICBC", account_number="6222020000008888",
                              holder_name="吴十一", valid_from=dt.date(2020, 1, 1))
    assert change.warnings[-1] == ("户名“吴十一”与姓名“吴十”不符：发往该账户的待遇在报盘时将作为风险明细暂缓，须审核员放行")
    passbook = make_person("郑一", "6228480000000001", bank="ABC")  # fails Luhn at a bank that asks for it
    icbc_passbook = make_person("冯二", "6222020000000001")  # fails Luhn, but ICBC does not ask for it
    change = bank_account_set(user=clerk, person=passbook, bank="ABC", account_number="6228480000000001",
                              holder_name="郑一", valid_from=dt.date(2020, 1, 1))
    assert change.warnings == ["账号未通过 Luhn 校验（存折、一折通账号常见，请核对）",
                               "该银行要求账号通过 Luhn 校验：未核实前，发往该账号的待遇在报盘时将作为风险明细暂缓，须审核员放行"]
    run = payroll_oneoff_create(scheme=_zg(), items=[(p, "100.00", "") for p in (other_holder, passbook, icbc_passbook)],
                                user=clerk, period="2026-01")
    risks = {r.line.name: (r.kinds, r.detail) for r in LineRisk.objects.filter(run=run).select_related("line")}
    assert risks == {"吴十": ("holder", "户名“吴十一”与姓名“吴十”不符"),
                     "郑一": ("luhn", "账号未通过校验（Luhn），登记时已提示")}
    run = payroll_run_approve(run=run, user=reviewer)
    payroll_line_risk_release(risk=LineRisk.objects.get(run=run, line__name="吴十"), user=reviewer,
                              reason="本人委托其子代领，已核实")
    assert _file_names(bank_export(runs=[run], template=standard, user=clerk, on=ON)) == ["冯二", "吴十"]
    # a holder name a reviewer released once is not asked again for the same account; Luhn still is
    nxt = payroll_oneoff_create(scheme=_zg(), items=[(p, "50.00", "") for p in (other_holder, passbook)],
                                user=clerk, period="2026-02")
    assert list(LineRisk.objects.filter(run=nxt).values_list("line__name", flat=True)) == ["郑一"]


def test_risks_found_at_export_after_approval(clerk, reviewer, standard):
    """A rejection imported after the next run was approved still holds the line at export."""
    bad = make_person("孙八", CLOSED)
    dec = payroll_run_approve(run=payroll_oneoff_create(scheme=_zg(), items=[(bad, "10.00", "")], user=clerk,
                                                        period="2025-12"), user=reviewer)
    (f,) = bank_export(runs=[dec], template=standard, user=clerk, on=dt.date(2025, 12, 20))
    jan = payroll_run_approve(run=payroll_oneoff_create(scheme=_zg(), items=[(bad, "20.00", "")], user=clerk,
                                                        period="2026-01"), user=reviewer)
    assert not LineRisk.objects.filter(run=jan).exists()
    bank_return_import(data=bank_answer(f, {1: "账户冻结"}), filename="r.txt", user=clerk)
    with pytest.raises(Exception, match="风险明细已全部暂缓未报盘"):
        bank_export(runs=[jan], template=standard, user=clerk, on=ON)
    line = PayrollLine.objects.get(run=jan)
    assert line.status == "failed" and "账户冻结" in line.fail_reason
    assert not BankFileLine.objects.filter(payroll_line=line).exists()


# --------------------------------------------------------------------------------------------------
# a run's state follows every one of its files


def test_run_state_follows_every_file(clerk, reviewer, standard):
    """A run paying at three banks: 已报盘, then 部分回盘 after each of the first two returns (one of them
    partial), 已回盘 only when the last line of the last file has its return."""
    people = [make_person("甲", "6222020000000011"), make_person("乙", "6228480000000012", bank="ABC"),
              make_person("丙", "6217000000000013", bank="CCB"), make_person("丁", "6222020000000014")]
    run = payroll_run_approve(run=payroll_oneoff_create(scheme=_zg(), items=[(p, "100.00", "") for p in people],
                                                        user=clerk, period="2026-01"), user=reviewer)
    files = {f.bank: f for f in bank_export(runs=[run], template=standard, user=clerk, on=ON)}
    assert sorted(files) == ["ABC", "CCB", "ICBC"]
    run.refresh_from_db()
    assert run.state == "exported"
    states = []
    for bank, only in [("ICBC", {1}), ("ABC", None), ("ICBC", {2}), ("CCB", None)]:
        answer = bank_answer(files[bank], {1: "账户冻结"} if bank == "ABC" else None, only=only)
        bank_return_import(data=answer, filename=f"{bank}-{only}.txt", user=clerk)
        run.refresh_from_db()
        states.append((run.state, run.returned_at is not None))
    assert states == [("partial", False), ("partial", False), ("partial", False), ("returned", True)]
    assert str(run.get_state_display()) == "已回盘"


def test_entering_a_rejected_account_warns_not_refuses(december, client):
    """The account page warns when the account entered was rejected by the bank before; it is saved."""
    dec, bad, _ = december
    clerk = make_user("clerk2")
    clerk.user_permissions.add(*Permission.objects.filter(codename="change_bankaccount"))
    other = make_person("陈十二", None)
    client.force_login(clerk)
    page = client.post(f"/persons/{other.pk}/account/", {
        "bank": "ICBC", "account_number": CLOSED, "holder_name": "陈十二", "valid_from": "2026-01-05"}, follow=True)
    text = page.content.decode()
    seq = PayrollLine.objects.get(run=dec, person=bad).seq
    assert f"该账号曾被银行退回：2025-12 结算批次 #{dec.pk} 第 {seq} 笔（已销户）" in text
    assert other.bank_accounts.get(valid_to__isnull=True).account_number == CLOSED


def test_export_pages_say_what_is_held_and_what_goes_into_the_file(december, clerk, reviewer, client):
    """The export's confirm names the held lines' count and amount and what goes into the files; the
    job's message, the run's files page and the run's risk list say what was held out."""
    from shebao.common.models import Job
    from shebao.payroll.tests.helpers import run_queued, watched

    _, bad, _ = december
    jan = payroll_run_approve(run=payroll_run_compute(scheme=_zg(), period="2026-01", user=clerk), user=reviewer)
    client.force_login(clerk)
    form = {"bank": "*", "template": "standard", "runs": [jan.pk]}
    text = client.post("/bank/export/", form).content.decode()
    assert "其中 1 笔 2,000.00 元为未放行的风险明细" in text
    assert "进入报盘文件：<strong>1</strong> 笔，<strong>1,500.00</strong> 元。" in text
    started = client.post("/bank/export/", {**form, "confirm": "1"})
    [job] = run_queued()
    assert (job.state, job.result["held"], job.result["held_total"]) == (Job.State.DONE, 1, "2000.00")
    assert job.message.endswith("。风险明细暂缓未报盘 1 笔 2,000.00 元（失败待发）")
    text = watched(client, started.url).content.decode()
    assert "风险明细 1 笔 2,000.00 元未放行，已暂缓、不在报盘文件中" in text
    assert f'href="/bank/failed/?run={jan.pk}"' in text
    text = client.get(f"/bank/runs/{jan.pk}/").content.decode()
    assert "风险明细暂缓未报盘 1 笔 2,000.00 元：不在上列文件中" in text
    text = client.get(f"/payroll/{jan.pk}/").content.decode()
    assert "已暂缓未报盘 1 笔 2,000.00 元（失败待发）。" in text
    assert "待放行 0 笔" not in text  # nothing left to release: not said
    assert PayrollLine.objects.get(run=jan, person=bad).status == "failed"
