"""The engine for every scheme and every payee: organisation payees through a bank file and its return,
yearly runs from a registered scheme rule, back-dated amount changes, one-off cancel. Exact amounts,
real PostgreSQL; every refusal checked for its message and for nothing written."""

import datetime as dt
import json
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from stdnum.cn import uscc as stdnum_uscc

from shebao.bank.models import BankFile, BankTemplate
from shebao.bank.services import bank_export, bank_reissue, bank_return_import
from shebao.bank.tests.helpers import bank_answer
from shebao.benefits.models import Adjustment, Scheme
from shebao.benefits.services import (
    adjustment_cancel,
    adjustment_create,
    benefit_amount_set,
    enrollment_create,
)
from shebao.benefits.tests.factories import enroll, make_person, make_user, zg
from shebao.common.models import AuditEvent
from shebao.payroll import schemes
from shebao.payroll.models import PayrollComponent, PayrollLine, PayrollRun
from shebao.payroll.services import (
    PayrollError,
    payroll_oneoff_cancel,
    payroll_oneoff_create,
    payroll_run_approve,
    payroll_run_compute,
    payroll_run_recompute,
)
from shebao.registry.models import Payee
from shebao.registry.selectors import payee_versions, payees_current
from shebao.registry.services import RegistryError, payee_change, payee_create

pytestmark = pytest.mark.django_db
ON = dt.date(2026, 3, 18)


def uscc(body17: str) -> str:
    return body17 + stdnum_uscc.calc_check_digit(body17)


ORG_USCC = uscc("91330282MA2H12345")


@pytest.fixture
def clerk(db):
    return make_user("clerk1")


@pytest.fixture
def reviewer(db):
    return make_user("rev1", reviewer=True)


@pytest.fixture
def standard(db):
    return BankTemplate.objects.get(code="standard")


def _events(action=None):
    qs = AuditEvent.objects.all()
    return qs.filter(action=action).count() if action else qs.count()


# --------------------------------------------------------------------------------------------------
# payees


def test_payee_uscc_checked_and_refusal_writes_nothing(clerk):
    assert ORG_USCC != "91330282MA2H12345X" and len(ORG_USCC) == 18
    bad = ORG_USCC[:-1] + ("0" if ORG_USCC[-1] != "0" else "1")
    events = _events()
    with pytest.raises(RegistryError, match=rf"统一社会信用代码 {bad} 无效（GB 32100 校验未通过），请核对"):
        payee_create(user=clerk, name="慈溪市土地储备中心", bank="ICBC", account_number="6222020000000077", uscc=bad)
    with pytest.raises(RegistryError, match="未知的开户银行代码“XYZ”"):
        payee_create(user=clerk, name="慈溪市土地储备中心", bank="XYZ", account_number="6222020000000077")
    assert not Payee.objects.exists() and _events() == events


def test_payee_change_makes_a_new_version_old_lines_keep_theirs(clerk, reviewer):
    p1 = payee_create(user=clerk, name="慈溪市土地储备中心", bank="ICBC", account_number="6222 0200 0000 0077",
                      uscc=ORG_USCC.lower(), reason="登记")
    assert (p1.code, p1.version, p1.current, p1.account_number, p1.uscc) == (
        f"P{p1.pk:06d}", 1, True, "6222020000000077", ORG_USCC)
    run = payroll_oneoff_create(scheme=zg(), items=[(p1, "500.00", "政府补助")], user=clerk, period="2026-03")
    with pytest.raises(RegistryError, match="请填写变更原因"):
        payee_change(payee=p1, user=clerk, reason=" ", account_number="6228480000000099")
    same = payee_change(payee=p1, user=clerk, reason="无变化", name="慈溪市土地储备中心")
    assert same.pk == p1.pk and Payee.objects.count() == 1
    p2 = payee_change(payee=p1, user=clerk, reason="账号变更", bank="ABC", account_number="6228480000000099")
    p1.refresh_from_db()
    assert (p2.code, p2.version, p2.current, p1.current) == (p1.code, 2, True, False)
    assert (p1.bank, p1.account_number) == ("ICBC", "6222020000000077")  # never changed in place
    line = PayrollLine.objects.get(run=run)
    assert (line.payee_id, line.account_number, line.bank) == (p1.pk, "6222020000000077", "ICBC")
    ev = AuditEvent.objects.filter(action="update", object_type="registry.payee").get()
    assert ev.before["account_number"] == "6222020000000077" and ev.after["account_number"] == "6228480000000099"
    # a new line made with the old version object pays the current version
    run2 = payroll_oneoff_create(scheme=zg(), items=[(p1, "1.00", "")], user=clerk, period="2026-03")
    assert PayrollLine.objects.get(run=run2).payee_id == p2.pk


def test_line_is_a_person_or_a_payee_never_both(clerk):
    person = make_person("甲", account="6222020000000001")
    payee = payee_create(user=clerk, name="某单位", bank="ICBC", account_number="6222020000000077")
    run = payroll_oneoff_create(scheme=zg(), items=[(person, "1.00", "")], user=clerk, period="2026-03")
    line = PayrollLine.objects.get(run=run)
    with pytest.raises(IntegrityError, match="payrollline_person_xor_payee"), transaction.atomic():
        PayrollLine.objects.filter(pk=line.pk).update(payee=payee)
    with pytest.raises(IntegrityError, match="payrollline_person_xor_payee"), transaction.atomic():
        PayrollLine.objects.filter(pk=line.pk).update(person=None)


def test_organisation_payee_paid_through_bank_file_failed_then_reissued_paid(clerk, reviewer, standard):
    """A one-off run with a person and an organisation payee: the file carries the payee's 户名/账号 at
    its bank; the return fails the payee line (账号不存在); the payee's account is corrected (version 2);
    the re-issue goes to version 2 and its return pays it; every run completes."""
    person = make_person("张三", account="6222020000000001")
    org = payee_create(user=clerk, name="慈溪市社会保险管理服务中心", bank="ICBC", account_number="6222020000000077",
                       uscc=ORG_USCC)
    run = payroll_oneoff_create(scheme=zg(), items=[(person, "1234.56", "补助"), (org, "98765.43", "土保转社保政府补助")],
                                user=clerk, period="2026-03")
    lines = list(PayrollLine.objects.filter(run=run).order_by("seq"))
    assert [(ln.seq, ln.person_id, ln.payee_id, ln.name, ln.id_number, ln.net) for ln in lines] == [
        (1, person.pk, None, "张三", person.id_number, D("1234.56")),
        (2, None, org.pk, "慈溪市社会保险管理服务中心", ORG_USCC, D("98765.43"))]
    payroll_run_approve(run=run, user=reviewer)
    (icbc,) = bank_export(runs=[run], template=standard, user=clerk, on=ON)
    assert (icbc.line_count, icbc.total) == (2, D("99999.99"))
    assert list(icbc.lines.order_by("seq").values_list("account_number", "holder_name", "amount")) == [
        ("6222020000000001", "张三", D("1234.56")), ("6222020000000077", "慈溪市社会保险管理服务中心", D("98765.43"))]
    content = bytes(BankFile.objects.get(pk=icbc.pk).content).decode("gb18030")
    assert "慈溪市社会保险管理服务中心" in content and "6222020000000077" in content and "9876543" in content.replace(
        ".", "")

    result = bank_return_import(data=bank_answer(icbc, {2: "账号不存在"}), filename="icbc.txt", user=clerk)
    assert (result.return_file.ok_count, result.return_file.failed_count) == (1, 1)
    lines = list(PayrollLine.objects.filter(run=run).order_by("seq"))
    assert [(ln.status, ln.paid_amount, ln.fail_reason) for ln in lines] == [
        ("paid", D("1234.56"), ""), ("failed", D("0.00"), "账号不存在")]

    v2 = payee_change(payee=org, user=clerk, reason="账号更正", bank="ABC", account_number="6228480000000099")
    reissue = bank_reissue(run=run, user=clerk)
    assert reissue.same_account == []
    (line,) = PayrollLine.objects.filter(run=reissue.run)
    assert (line.payee_id, line.person_id, line.bank, line.account_number, line.net, line.origin_line_id) == (
        v2.pk, None, "ABC", "6228480000000099", D("98765.43"), lines[1].pk)
    payroll_run_approve(run=reissue.run, user=reviewer)
    (abc,) = bank_export(runs=[reissue.run], template=standard, user=clerk, on=ON)
    assert list(abc.lines.values_list("account_number", "holder_name", "amount")) == [
        ("6228480000000099", "慈溪市社会保险管理服务中心", D("98765.43"))]
    bank_return_import(data=bank_answer(abc), filename="abc.txt", user=clerk)
    line.refresh_from_db()
    assert (line.status, line.paid_amount) == ("paid", D("98765.43"))
    for r in (run, reissue.run):
        r.refresh_from_db()
        assert r.state == PayrollRun.State.COMPLETED
    # the old line keeps version 1
    assert PayrollLine.objects.get(pk=lines[1].pk).payee_id == org.pk


def test_failed_payee_line_shows_on_the_pages(clerk, reviewer, standard):
    """A failed organisation-payee line (no person) opens on the line page, the 失败待发 list and the
    re-issue confirm, which offers the payee's current version (these pages linked to a person and
    broke on a line without one)."""
    from django.urls import reverse

    from shebao.accounts.tests.factories import logged_in
    from shebao.payroll.tests.helpers import make_user as page_user

    org = payee_create(user=clerk, name="慈溪市殡仪馆", bank="ICBC", account_number="6222020000000077", uscc=ORG_USCC)
    run = payroll_oneoff_create(scheme=zg(), items=[(org, "500.00", "丧葬补助")], user=clerk, period="2026-03")
    payroll_run_approve(run=run, user=reviewer)
    (icbc,) = bank_export(runs=[run], template=standard, user=clerk, on=ON)
    bank_return_import(data=bank_answer(icbc, {1: "账号不存在"}), filename="icbc.txt", user=clerk)
    payee_change(payee=org, user=clerk, reason="账号更正", account_number="6222020000000088")
    line = PayrollLine.objects.get(run=run)
    web = logged_in(page_user("pageclerk", "accounts.view_sensitive", roles=("clerk",)))
    page = web.get(reverse("payroll:line_detail", args=[line.pk]))
    assert page.status_code == 200 and "慈溪市殡仪馆" in page.content.decode()
    failed = web.get(reverse("bank:failed"))
    assert failed.status_code == 200 and "慈溪市殡仪馆" in failed.content.decode()
    confirm = web.get(reverse("payroll:run_reissue", args=[run.pk]))
    assert confirm.status_code == 200 and "6222020000000088" in confirm.content.decode()


# --------------------------------------------------------------------------------------------------
# yearly runs


def _tb_rule(run):
    """Test rule: every TB enrollment paid in the year gets its basic amount × 12 (a yearly subsidy)."""
    return ("SELECT e.id AS enrollment_id, a.item_id, a.amount * 12 AS amount, '' AS description "
            "FROM benefits_enrollment e JOIN benefits_benefitamount a ON a.enrollment_id = e.id "
            "AND a.from_month <= %(period)s AND (a.to_month IS NULL OR a.to_month >= %(period)s) "
            "WHERE e.scheme_id = %(scheme)s AND e.start_month <= %(year_end)s "
            "AND (e.end_month IS NULL OR e.end_month >= %(period)s)",
            {"year_end": dt.date(run.period.year, 12, 1)})


@pytest.fixture
def tb_annual():
    before = schemes._registry.get("TB")
    schemes.register("TB", schemes.SchemeRules(annual=_tb_rule))
    yield Scheme.objects.get(code="TB")
    if before is None:
        schemes.unregister("TB")
    else:
        schemes.register("TB", before)


def test_annual_run_from_the_scheme_rule_once_per_year_exported_and_returned(tb_annual, clerk, reviewer, standard):
    tb = tb_annual
    a, b = make_person("甲", account="6222020000000001"), make_person("乙", account="6222020000000002")
    enrollment_create(person=a, scheme=tb, start_month="2025-06", user=clerk, items={"basic": "100.25"})
    eb = enrollment_create(person=b, scheme=tb, start_month="2026-01", user=clerk, items={"basic": "80.00"})
    adjustment_create(enrollment=eb, kind="deduction", total="500.00", monthly_cap="300.00", reason="多发追回",
                      user=clerk)
    from django.contrib.auth.models import Permission

    # the command checks its --as user's rule: computing is a clerk's act (payroll.compute_run)
    clerk.user_permissions.add(Permission.objects.get(content_type__app_label="payroll", codename="compute_run"))
    out = StringIO()
    call_command("payroll", "compute", "--scheme", "TB", "--period", "2026", "--kind", "annual", "--as",
                 clerk.username, "--json", stdout=out)
    summary = json.loads(out.getvalue())
    run = PayrollRun.objects.get(pk=summary["run"])
    assert (run.kind, run.period, run.state) == ("annual", dt.date(2026, 1, 1), "computed")
    # 甲 100.25 × 12 = 1203.00; 乙 80 × 12 = 960.00 less the deduction's cap 300.00 = 660.00
    assert [(ln.name, ln.gross, ln.deductions, ln.net) for ln in PayrollLine.objects.filter(run=run).order_by("seq")
            ] == sorted([("甲", D("1203.00"), D("0.00"), D("1203.00")), ("乙", D("960.00"), D("300.00"), D("660.00"))],
                        key=lambda r: {"甲": a, "乙": b}[r[0]].id_number)
    assert (summary["gross"], summary["deductions"], summary["net"]) == ("2163.00", "300.00", "1863.00")
    assert PayrollComponent.objects.filter(line__run=run, kind="item").values_list("description", flat=True
                                                                                   ).distinct().get() == "土保补贴"
    # the same year again: the service refuses in Chinese, the command too, the database by itself
    runs, events = PayrollRun.objects.count(), _events()
    with pytest.raises(PayrollError, match=r"土保补贴 2026 年的年度发放已存在（批次 \d+，已计算），如需重算"):
        payroll_run_compute(scheme=tb, period="2026-07", user=clerk, kind="annual")
    with pytest.raises(CommandError, match="年度发放已存在"):
        call_command("payroll", "compute", "--scheme", "TB", "--period", "2026", "--kind", "annual",
                     "--as", clerk.username, stdout=StringIO())
    with pytest.raises(IntegrityError, match="payrollrun_one_annual_per_year"), transaction.atomic():
        PayrollRun.objects.create(scheme=tb, period=dt.date(2026, 1, 1), kind="annual", created_by=clerk)
    with pytest.raises(IntegrityError, match="payrollrun_annual_period_january"), transaction.atomic():
        PayrollRun.objects.create(scheme=tb, period=dt.date(2027, 3, 1), kind="annual", created_by=clerk)
    assert (PayrollRun.objects.count(), _events()) == (runs, events)
    # recompute, approve, export, return: the monthly path
    run = payroll_run_recompute(run=run, user=clerk)
    assert run.net == D("1863.00")
    payroll_run_approve(run=run, user=reviewer)
    assert Adjustment.objects.get(enrollment=eb).remaining == D("200.00")
    (icbc,) = bank_export(runs=[run], template=standard, user=clerk, on=ON)
    assert (icbc.line_count, icbc.total) == (2, D("1863.00"))
    bank_return_import(data=bank_answer(icbc), filename="tb.txt", user=clerk)
    run.refresh_from_db()
    assert (run.state, sorted(PayrollLine.objects.filter(run=run).values_list("paid_amount", flat=True))) == (
        "completed", [D("660.00"), D("1203.00")])


def test_annual_run_refused_without_a_registered_rule(clerk):
    runs, events = PayrollRun.objects.count(), _events()
    with pytest.raises(PayrollError, match="自管人员没有登记年度发放规则，不能进行年度发放"):
        payroll_run_compute(scheme=zg(), period="2026", user=clerk, kind="annual")
    with pytest.raises(PayrollError, match="年度 20x6 不正确"):
        payroll_run_compute(scheme=zg(), period="20x6", user=clerk, kind="annual")
    assert (PayrollRun.objects.count(), _events()) == (runs, events)


# --------------------------------------------------------------------------------------------------
# back-dated amount changes


def _paid_months(clerk, reviewer, *periods):
    for period in periods:
        payroll_run_approve(run=payroll_run_compute(scheme=zg(), period=period, user=clerk), user=reviewer)


def test_back_dated_change_to_paid_months_gives_exact_arrears_or_deduction(clerk, reviewer):
    up, down = make_person("甲", account="6222020000000001"), make_person("乙", account="6222020000000002")
    eu, ed = enroll(up, user=clerk), enroll(down, user=clerk)  # basic 2000.00 + extra 150.00 from 2025-01
    _paid_months(clerk, reviewer, "2026-01", "2026-02")
    benefit_amount_set(enrollment=eu, item="basic", amount="2100.10", from_month="2026-01", user=clerk, note="核定")
    benefit_amount_set(enrollment=ed, item="basic", amount="1900.00", from_month="2026-01", user=clerk, note="核减")
    raise_ = Adjustment.objects.get(enrollment=eu)
    cut = Adjustment.objects.get(enrollment=ed)
    assert (raise_.kind, raise_.total, raise_.detail["months"]) == (
        "arrears", D("200.20"), {"2026-01": "100.10", "2026-02": "100.10"})
    assert (cut.kind, cut.total, cut.detail["months"]) == (
        "deduction", D("200.00"), {"2026-01": "-100.00", "2026-02": "-100.00"})
    # a second back-dated change counts the first difference: 2026-02 paid 2000.00 + 100.10 owed → 2200.00
    benefit_amount_set(enrollment=eu, item="basic", amount="2200.00", from_month="2026-02", user=clerk, note="再调")
    second = Adjustment.objects.filter(enrollment=eu).order_by("pk").last()
    assert (second.kind, second.total, second.detail["months"]) == ("arrears", D("99.90"), {"2026-02": "99.90"})
    assert _events("create") >= 3
    # a change from a month not yet paid owes nothing
    benefit_amount_set(enrollment=ed, item="extra", amount="160.00", from_month="2026-03", user=clerk)
    assert Adjustment.objects.filter(enrollment=ed).count() == 1
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    lu, ld = PayrollLine.objects.get(run=run, person=up), PayrollLine.objects.get(run=run, person=down)
    assert (lu.gross, lu.deductions, lu.net) == (D("2200.00") + D("150.00") + D("200.20") + D("99.90"), 0, D("2650.10"))
    assert (ld.gross, ld.deductions, ld.net) == (D("2060.00"), D("200.00"), D("1860.00"))
    payroll_run_approve(run=run, user=reviewer)
    assert set(Adjustment.objects.values_list("state", "remaining")) == {("settled", D("0.00"))}


# --------------------------------------------------------------------------------------------------
# one-off cancel


def test_oneoff_cancel_only_before_it_leaves(clerk, reviewer, standard):
    person = make_person("甲", account="6222020000000001")
    run = payroll_oneoff_create(scheme=zg(), items=[(person, "88.00", "")], user=clerk, period="2026-03")
    with pytest.raises(PayrollError, match="请填写撤销原因"):
        payroll_oneoff_cancel(run=run, user=clerk, reason="")
    payroll_oneoff_cancel(run=run, user=clerk, reason="录入错误")
    assert not PayrollRun.objects.filter(pk=run.pk).exists() and not PayrollLine.objects.exists()
    ev = AuditEvent.objects.get(action="payroll_oneoff_cancel")
    assert (ev.object_id, ev.before["net"], ev.reason) == (str(run.pk), "88.00", "录入错误")

    sent = payroll_oneoff_create(scheme=zg(), items=[(person, "99.00", "")], user=clerk, period="2026-03")
    payroll_run_approve(run=sent, user=reviewer)
    bank_export(runs=[sent], template=standard, user=clerk, on=ON)
    events = _events()
    with pytest.raises(PayrollError, match="已报盘，不能撤销"):
        payroll_oneoff_cancel(run=sent, user=clerk, reason="x")
    enroll(person, user=clerk)
    regular = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    with pytest.raises(PayrollError, match="不是零星发放，不能撤销"):
        payroll_oneoff_cancel(run=regular, user=clerk, reason="x")
    assert PayrollRun.objects.filter(pk__in=[sent.pk, regular.pk]).count() == 2 and _events() == events + 2  # the enrollment and the compute


def test_payee_selectors_current_version_and_history(clerk):
    a = payee_create(user=clerk, name="慈溪市土地储备中心", bank="ICBC", account_number="6222020000000077", uscc=ORG_USCC)
    b = payee_create(user=clerk, name="慈溪市殡仪馆", bank="ABC", account_number="6228480000000011")
    a2 = payee_change(payee=a, user=clerk, reason="更名", name="慈溪市土地储备与发展中心")
    assert list(payees_current()) == [a2, b]
    assert list(payees_current(q="土地储备")) == [a2] and list(payees_current(q=ORG_USCC.lower())) == [a2]
    assert list(payees_current(q="0000011")) == [b]
    assert [(p.version, p.name) for p in payee_versions(code=a.code)] == [(2, "慈溪市土地储备与发展中心"),
                                                                        (1, "慈溪市土地储备中心")]


def test_approval_consumes_through_benefits_and_refuses_stale_adjustments(clerk, reviewer):
    person = make_person("甲", account="6222020000000001")
    e = enroll(person, user=clerk)
    arrears = adjustment_create(enrollment=e, kind="arrears", total="10.01", reason="补发", user=clerk)
    deduction = adjustment_create(enrollment=e, kind="deduction", total="500.00", monthly_cap="200.00",
                                  reason="扣回", user=clerk)
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    adjustment_cancel(adjustment=arrears, user=clerk, reason="录错")
    events = _events()
    with pytest.raises(PayrollError, match=r"^1 笔补发/扣减已被其他批次结算或已取消，请重新计算后再审核$"):
        payroll_run_approve(run=run, user=reviewer)
    run.refresh_from_db()
    deduction.refresh_from_db()
    assert (run.state, deduction.remaining, deduction.state, _events()) == ("computed", D("500.00"), "pending", events)
    run = payroll_run_approve(run=payroll_run_recompute(run=run, user=clerk), user=reviewer)
    deduction.refresh_from_db()
    assert (run.net, deduction.remaining, deduction.state) == (D("1950.00"), D("300.00"), "pending")
    assert AuditEvent.objects.filter(action="payroll_approve").get().after["adjustments_consumed"] == 1
