"""养老保障 rules on the real database: 待遇核准 (maker-checker), 到龄转换 month by month, 应付/实付 after a
failed and re-issued payment, 退保清算 amount and its floor."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from shebao.benefits.models import BenefitAmount, Enrollment, Scheme
from shebao.benefits.tests.factories import make_user
from shebao.common.models import AuditEvent
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.payroll.services import (
    payroll_lines_apply_results,
    payroll_reissue_create,
    payroll_run_approve,
    payroll_run_compute,
    payroll_run_mark_exported,
)
from shebao.pension_security import selectors as sel
from shebao.pension_security.models import Category, Conversion, Member, PaidIn, Proposal, Settlement
from shebao.pension_security.services import (
    BzError,
    bz_convert,
    bz_settle,
    conversion_month,
    member_register,
    paid_in_add,
    proposal_approve,
    proposal_create,
    proposal_refuse,
    refund_amount,
)
from shebao.registry.models import Person, Region
from shebao.registry.services import bank_account_set, name_initials
from shebao.registry.tests.factories import id_number

pytestmark = pytest.mark.django_db


def bz() -> Scheme:
    return Scheme.objects.get(code="BZ")


def land() -> Category:
    return Category.objects.get(code="land")


@pytest.fixture
def clerk(db):
    return make_user("clerk1")


@pytest.fixture
def reviewer(db):
    return make_user("rev1", reviewer=True)


def person(name: str, birth: dt.date, *, male: bool = True, account: str | None = "6222020000000001") -> Person:
    town = Region.objects.filter(level="town").order_by("id").first()
    p = Person.objects.create(id_number=id_number(birth, male=male), name=name, name_initials=name_initials(name),
                              sex="M" if male else "F", birth_date=birth, town=town)
    if account:
        bank_account_set(user=None, person=p, bank="ICBC", account_number=account, holder_name=name,
                         valid_from=dt.date(2020, 1, 1))
    return p


def approved(name, birth, clerk, reviewer, *, male=True, start="2025-01", account="6222020000000001") -> Member:
    member = member_register(user=clerk, category=land(), person=person(name, birth, male=male, account=account))
    proposal_approve(proposal=proposal_create(member=member, user=clerk, start_month=start), user=reviewer)
    member.refresh_from_db()
    return member


# --------------------------------------------------------------------------------------------------
# 待遇核准


def test_approval_by_the_proposer_is_refused_and_writes_nothing(clerk, reviewer):
    both = make_user("both", reviewer=True)  # may propose and approve, but never their own proposal
    member = member_register(user=clerk, category=land(), person=person("甲", dt.date(1980, 5, 1)))
    proposal = proposal_create(member=member, user=both, start_month="2026-01", note="新增")
    assert (proposal.phase, proposal.items, proposal.monthly_total) == ("subsidy", {"living": "320.00"}, D("320.00"))
    audits, enrollments = AuditEvent.objects.count(), Enrollment.objects.count()
    with pytest.raises(BzError, match="不能核准或退回自己申报的待遇"):
        proposal_approve(proposal=proposal, user=both)
    with pytest.raises(BzError, match="不能核准或退回自己申报的待遇"):
        proposal_refuse(proposal=proposal, user=both, reason="x")
    assert (AuditEvent.objects.count(), Enrollment.objects.count()) == (audits, enrollments)
    proposal.refresh_from_db()
    member.refresh_from_db()
    assert (proposal.state, proposal.decided_by_id, member.enrollment_id) == ("proposed", None, None)
    # the database itself refuses a decision by the proposer
    with pytest.raises(IntegrityError), transaction.atomic():
        Proposal.objects.filter(pk=proposal.pk).update(state="approved", decided_by=both)
    # nothing is paid before approval
    run = payroll_run_compute(scheme=bz(), period="2026-01", user=clerk)
    assert run.line_count == 0

    proposal_approve(proposal=proposal, user=reviewer, note="同意")
    member.refresh_from_db()
    e = member.enrollment
    assert (e.scheme.code, e.start_month, e.payment_status) == ("BZ", dt.date(2026, 1, 1), "active")
    assert list(BenefitAmount.objects.filter(enrollment=e).values_list("item__code", "amount")) == [("living", D("320.00"))]
    assert AuditEvent.objects.filter(action="bz_approve", person_id=member.person_id).count() == 1


def test_refusal_keeps_reason_and_a_new_proposal_can_follow(clerk, reviewer):
    member = member_register(user=clerk, category=land(), person=person("乙", dt.date(1960, 3, 1)))
    p1 = proposal_create(member=member, user=clerk, start_month="2026-01")
    assert p1.phase == "pension" and p1.items == {"basic": "860.00"}  # 66 in 2026: past the conversion age
    with pytest.raises(BzError, match="已有待核准的申报"):
        proposal_create(member=member, user=clerk, start_month="2026-02")
    with pytest.raises(BzError, match="请填写退回原因"):
        proposal_refuse(proposal=p1, user=reviewer, reason=" ")
    proposal_refuse(proposal=p1, user=reviewer, reason="缴费记录不全")
    p2 = proposal_create(member=member, user=clerk, start_month="2026-02")
    proposal_approve(proposal=p2, user=reviewer)
    history = list(sel.proposals_of(member).values_list("state", "decision_reason"))
    assert history == [("approved", ""), ("refused", "缴费记录不全")]
    with pytest.raises(BzError, match="已核准"):
        proposal_approve(proposal=p2, user=make_user("rev2", reviewer=True))


# --------------------------------------------------------------------------------------------------
# 到龄转换


@pytest.mark.parametrize(("birth", "male", "expected"), [
    (dt.date(1966, 1, 1), True, dt.date(2026, 2, 1)),
    (dt.date(1966, 1, 31), True, dt.date(2026, 2, 1)),
    (dt.date(1971, 3, 1), False, dt.date(2026, 4, 1)),
    (dt.date(1971, 3, 31), False, dt.date(2026, 4, 1)),
    (dt.date(1964, 2, 29), True, dt.date(2024, 3, 1)),
    (dt.date(1971, 2, 28), False, dt.date(2026, 3, 1)),
])
def test_conversion_month_rule(birth, male, expected):
    assert conversion_month(birth_date=birth, age=60 if male else 55) == expected


def test_conversion_in_exactly_the_right_month_and_not_twice(clerk, reviewer):
    men = [approved("男一", dt.date(1966, 1, 1), clerk, reviewer), approved("男卅一", dt.date(1966, 1, 31), clerk, reviewer),
           approved("男二月", dt.date(1966, 2, 28), clerk, reviewer)]
    women = [approved("女一", dt.date(1971, 3, 1), clerk, reviewer, male=False),
             approved("女卅一", dt.date(1971, 3, 31), clerk, reviewer, male=False),
             approved("女二月", dt.date(1971, 2, 28), clerk, reviewer, male=False)]
    young = approved("年轻", dt.date(1980, 1, 1), clerk, reviewer)

    def converted(month, dry=False):
        return sorted(c["name"] for c in bz_convert(month=month, user=clerk, dry_run=dry).converted)

    assert converted("2026-01") == []
    assert converted("2026-02", dry=True) == ["男一", "男卅一"]
    assert Conversion.objects.count() == 0  # the dry run wrote nothing
    assert converted("2026-02") == ["男一", "男卅一"]
    assert converted("2026-02") == []  # not twice
    assert converted("2026-03") == ["女二月", "男二月"]
    assert converted("2026-04") == ["女一", "女卅一"]
    assert converted("2026-12") == []
    months = dict(Conversion.objects.values_list("member__person__name", "month"))
    assert months == {"男一": dt.date(2026, 2, 1), "男卅一": dt.date(2026, 2, 1), "男二月": dt.date(2026, 3, 1),
                      "女二月": dt.date(2026, 3, 1), "女一": dt.date(2026, 4, 1), "女卅一": dt.date(2026, 4, 1)}
    for m in men + women:
        m.refresh_from_db()
        assert m.phase == "pension"
    young.refresh_from_db()
    assert young.phase == "subsidy"
    # items switched through the engine, history kept
    e = men[0].enrollment
    assert list(BenefitAmount.objects.filter(enrollment=e).order_by("item__code", "from_month").values_list(
        "item__code", "amount", "from_month", "to_month")) == [
        ("basic", D("860.00"), dt.date(2026, 2, 1), None),
        ("living", D("320.00"), dt.date(2025, 1, 1), dt.date(2026, 1, 1)),
        ("living", D("0.00"), dt.date(2026, 2, 1), None)]
    # the runs pay 生活补助 in January and 养老金 from February
    jan = payroll_run_compute(scheme=bz(), period="2026-01", user=clerk)
    feb = payroll_run_compute(scheme=bz(), period="2026-02", user=clerk)
    assert PayrollLine.objects.get(run=jan, person_id=men[0].person_id).net == D("320.00")
    assert PayrollLine.objects.get(run=feb, person_id=men[0].person_id).net == D("860.00")
    assert PayrollLine.objects.get(run=feb, person_id=women[0].person_id).net == D("320.00")


def test_late_conversion_after_a_paid_month_pays_the_difference(clerk, reviewer):
    m = approved("男一", dt.date(1966, 1, 1), clerk, reviewer)
    payroll_run_approve(run=payroll_run_compute(scheme=bz(), period="2026-02", user=clerk), user=reviewer)
    bz_convert(month="2026-03", user=clerk)  # converted from 2026-02, already paid at 320.00
    run = payroll_run_compute(scheme=bz(), period="2026-03", user=clerk)
    line = PayrollLine.objects.get(run=run, person_id=m.person_id)
    assert (line.gross, line.deductions, line.net) == (D("1720.00"), D("320.00"), D("1400.00"))  # 860 + 补发 860 − 扣 320


# --------------------------------------------------------------------------------------------------
# 应付/实付


def test_payable_paid_after_a_failed_and_reissued_payment(clerk, reviewer):
    a = approved("甲", dt.date(1980, 1, 1), clerk, reviewer, account="6222020000000001")
    b = approved("乙", dt.date(1980, 2, 1), clerk, reviewer, account="6222020000000002")
    run = payroll_run_approve(run=payroll_run_compute(scheme=bz(), period="2026-03", user=clerk), user=reviewer)
    run = payroll_run_mark_exported(run=run, user=clerk)
    la, lb = PayrollLine.objects.get(run=run, person_id=a.person_id), PayrollLine.objects.get(run=run, person_id=b.person_id)
    payroll_lines_apply_results(run=run, results=[(la.pk, D("320.00"), True, ""), (lb.pk, D("0"), False, "账户冻结")],
                                user=clerk)
    rows = {r["name"]: r for r in sel.payable_paid(user=clerk)}
    assert (rows["甲"]["payable"], rows["甲"]["paid"], rows["甲"]["owed"]) == (D("320.00"), D("320.00"), D("0.00"))
    assert (rows["乙"]["payable"], rows["乙"]["paid"], rows["乙"]["owed"]) == (D("320.00"), D("0.00"), D("320.00"))
    bank_account_set(user=clerk, person=b.person, bank="ABC", account_number="6228480000000009", holder_name="乙",
                     valid_from=dt.date(2026, 4, 1))
    reissue = payroll_run_mark_exported(run=payroll_run_approve(run=payroll_reissue_create(run=run, user=clerk),
                                                                user=reviewer), user=clerk)
    (l2,) = PayrollLine.objects.filter(run=reissue)
    payroll_lines_apply_results(run=reissue, results=[(l2.pk, D("320.00"), True, "")], user=clerk)
    rows = {r["name"]: r for r in sel.payable_paid(user=clerk)}
    assert (rows["乙"]["period"], rows["乙"]["payable"], rows["乙"]["paid"], rows["乙"]["owed"]) == (
        dt.date(2026, 3, 1), D("320.00"), D("320.00"), D("0.00"))
    assert len(rows) == 2  # the re-issue line is counted in its month, not as another payable
    report = sel.payable_paid_report(user=clerk)
    assert sum(r["payable"] for r in report) == sel.run_totals()[dt.date(2026, 3, 1)] == D("640.00")
    assert sum(r["paid"] for r in report) == D("640.00")
    assert sel.received_total(b) == D("320.00")


# --------------------------------------------------------------------------------------------------
# 退保清算


def test_refund_formula_and_floor():
    cat = Category(refund_paid_in_rate=D("1"), refund_received_rate=D("1"), refund_floor=D("0"))
    assert refund_amount(paid_in=D("12000.00"), received=D("3840.00"), category=cat)[0] == D("8160.00")
    assert refund_amount(paid_in=D("1000.00"), received=D("3840.00"), category=cat)[0] == D("0.00")
    cat = Category(refund_paid_in_rate=D("0.8"), refund_received_rate=D("0.5"), refund_floor=D("0"))
    assert refund_amount(paid_in=D("1000.01"), received=D("100.00"), category=cat)[0] == D("750.01")  # 800.008 − 50


def _paid_months(member, clerk, reviewer, periods):
    for period in periods:
        run = payroll_run_approve(run=payroll_run_compute(scheme=bz(), period=period, user=clerk), user=reviewer)
        run = payroll_run_mark_exported(run=run, user=clerk)
        lines = PayrollLine.objects.filter(run=run)
        payroll_lines_apply_results(run=run, results=[(line.pk, line.net, True, "") for line in lines], user=clerk)


def test_withdrawal_settlement_pays_paid_in_minus_received(clerk, reviewer):
    m = approved("甲", dt.date(1980, 1, 1), clerk, reviewer)
    paid_in_add(member=m, kind="lump_sum", paid_on=dt.date(2024, 12, 1), amount="15000.00", user=clerk)
    paid_in_add(member=m, kind="contribution", paid_on=dt.date(2024, 6, 1), amount="1200.50", user=clerk)
    with pytest.raises(BzError, match="已存在"):
        paid_in_add(member=m, kind="contribution", paid_on=dt.date(2024, 6, 1), amount="1200.50", user=clerk)
    _paid_months(m, clerk, reviewer, ["2026-01", "2026-02"])
    s = bz_settle(member=m, reason="withdrawal", on=dt.date(2026, 2, 28), user=clerk)
    assert (s.paid_in, s.received, s.refund, s.net) == (D("16200.50"), D("640.00"), D("15560.50"), D("15560.50"))
    assert s.number.startswith("BZ2026-")
    line = PayrollLine.objects.get(run=s.run)
    assert (s.run.kind, line.net, line.person_id) == ("one_off", D("15560.50"), m.person_id)
    e = Enrollment.objects.get(pk=m.enrollment_id)
    assert (e.payment_status, e.end_month) == ("terminated", dt.date(2026, 2, 1))
    with pytest.raises(BzError, match="已办理退保清算"):
        bz_settle(member=m, reason="withdrawal", on=dt.date(2026, 2, 28), user=clerk)


def test_settlement_floor_zero_pays_nothing(clerk, reviewer):
    m = approved("乙", dt.date(1980, 1, 1), clerk, reviewer)
    paid_in_add(member=m, kind="contribution", paid_on=dt.date(2024, 6, 1), amount="500.00", user=clerk)
    _paid_months(m, clerk, reviewer, ["2026-01", "2026-02"])
    runs = PayrollRun.objects.count()
    s = bz_settle(member=m, reason="withdrawal", on=dt.date(2026, 2, 28), user=clerk)
    assert (s.paid_in, s.received, s.refund, s.net, s.run) == (D("500.00"), D("640.00"), D("0.00"), D("0.00"), None)
    assert PayrollRun.objects.count() == runs


def test_death_settlement_without_heir_is_refused_and_writes_nothing(clerk, reviewer):
    m = approved("丙", dt.date(1980, 1, 1), clerk, reviewer)
    paid_in_add(member=m, kind="lump_sum", paid_on=dt.date(2024, 12, 1), amount="9000.00", user=clerk)
    audits = AuditEvent.objects.count()
    with pytest.raises(BzError, match="须指定继承人"):
        bz_settle(member=m, reason="death", on=dt.date(2026, 1, 10), user=clerk)
    assert AuditEvent.objects.count() == audits and not Settlement.objects.exists()
    assert Enrollment.objects.get(pk=m.enrollment_id).payment_status == "active"
    heir = person("丁", dt.date(1985, 1, 1), account="6222020000000077")
    s = bz_settle(member=m, reason="death", on=dt.date(2026, 1, 10), user=clerk, heir=heir)
    assert (s.refund, s.payee_name) == (D("9000.00"), "丁")
    assert PayrollLine.objects.get(run=s.run).person_id == heir.pk
    assert PaidIn.objects.filter(member=m).count() == 1


def test_a_death_recorded_through_the_engine_pays_the_refund_too(clerk, reviewer):
    """The refund is the scheme's termination amount: a death ended by the engine's own settlement
    (as ``shebao person death`` does) pays it to the heir; a 转出 owes none."""
    from shebao.payroll.settlement import enrollment_terminate_settle

    m = approved("戊", dt.date(1980, 1, 1), clerk, reviewer)
    paid_in_add(member=m, kind="lump_sum", paid_on=dt.date(2024, 12, 1), amount="9000.00", user=clerk)
    heir = person("己", dt.date(1985, 1, 1), account="6222020000000078")
    settled = enrollment_terminate_settle(enrollment=Enrollment.objects.get(pk=m.enrollment_id),
                                          on=dt.date(2026, 1, 10), reason="death", user=clerk, heir=heir)
    line = PayrollLine.objects.get(run=settled.run)
    assert (settled.net, line.net, line.person_id) == (D("9000.00"), D("9000.00"), heir.pk)
    other = approved("庚", dt.date(1980, 1, 1), clerk, reviewer)
    paid_in_add(member=other, kind="lump_sum", paid_on=dt.date(2024, 12, 1), amount="9000.00", user=clerk)
    from shebao.benefits.models import SuspensionReason

    transfer = SuspensionReason.objects.filter(terminates=True).exclude(code__in=["death", "withdrawal"]).first()
    moved = enrollment_terminate_settle(enrollment=Enrollment.objects.get(pk=other.enrollment_id),
                                        on=dt.date(2025, 12, 31), reason=transfer.code, user=clerk)
    assert (moved.net, moved.run) == (D("0"), None)


def test_settlement_statement_pdf_keeps_amount_and_signatures_together(clerk, reviewer):
    from shebao.common.masking import masker_for
    from shebao.pension_security.statement import render_bz_statement

    m = approved("戊", dt.date(1980, 1, 1), clerk, reviewer)
    paid_in_add(member=m, kind="lump_sum", paid_on=dt.date(2024, 12, 1), amount="1234.56", user=clerk)
    s = bz_settle(member=m, reason="withdrawal", on=dt.date(2026, 1, 31), user=clerk)
    layout: dict = {}
    data = render_bz_statement(s, masker=masker_for(clerk), layout=layout)
    assert data.startswith(b"%PDF") and layout["pages"] == 1
    assert layout["amount"] == layout["signatures"] == 1
    assert layout["operator_text"].startswith("经办人：clerk1　")


def test_raise_rule_file_with_scheme_bz_goes_through_the_engine(clerk, reviewer):
    from shebao.benefits.raises import raise_apply, raise_terms_parse

    m = approved("己", dt.date(1950, 1, 1), clerk, reviewer)  # past the age: 养老金 860.00 from 2025-01
    payroll_run_approve(run=payroll_run_compute(scheme=bz(), period="2026-01", user=clerk), user=reviewer)
    terms = raise_terms_parse({"name": "2026年养老保障增资", "scheme": "BZ", "item": "养老保障金",
                               "effective_month": "2026-01", "fixed": "40.00"})
    rule, _done = raise_apply(terms=terms, apply_month="2026-02", user=clerk)
    assert (rule.person_count, rule.monthly_total, rule.arrears_total) == (1, D("40.00"), D("40.00"))
    line = PayrollLine.objects.get(run=payroll_run_compute(scheme=bz(), period="2026-02", user=clerk),
                                   person_id=m.person_id)
    assert (line.gross, line.net) == (D("940.00"), D("940.00"))  # 900.00 + 补发 40.00 for 2026-01
