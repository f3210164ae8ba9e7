"""Demo step "zg": 自管人员 on the demo people, through the engine's own services.

About 300 persons (small) or 1,000 (full) are enrolled in ZG with their items (基本养老金, most with
统筹外补贴, some 生活补贴), a 2025-01 amount change for those who started earlier (history), 工龄; three
monthly payrolls (2025-10 … 2025-12) computed by the demo clerk, approved by the demo reviewer and
returned by the bank (a few lines failed: 账户冻结 / 户名不符, still owed); some persons suspended
(未提供生存证明) from 2025-11, some died in 2025-11 (the 2025-12 payment is an overpayment to
recover, part of it already come back as income), a few transferred out, a few pending 补发/扣减, two
灵活支付 waiting for approval; 2026-01 computed and NOT approved, so the reviewer's approval page shows
its risk list (an account the bank refused, unchanged; a 户名 not the person's name) and the comparison
with 2025-12 at once. Registered in ``shebao/self_managed/demo.py``.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from shebao.common.jobs import Progress
from shebao.demo.steps import demo_step, scale_size

PERIODS = ["2025-10", "2025-11", "2025-12"]
SIZES = {"small": 300, "full": 1000}  # another scale says its own "zg_persons" (none: the step is skipped)


def zg_reset() -> None:
    """Remove what this step (and the 自管人员 pages) made: our records, ZG runs, ZG benefits."""
    from shebao.benefits.models import (
        Adjustment,
        BenefitAmount,
        Enrollment,
        RaiseRule,
        StatusChange,
        Suspension,
    )
    from shebao.payroll.models import MonthEndSnapshot, PayrollComponent, PayrollLine, PayrollRun
    from shebao.self_managed.models import FlexPayment, Income, RosterImport

    Income.objects.all().delete()
    FlexPayment.objects.all().delete()
    RosterImport.objects.all().delete()
    PayrollComponent.objects.filter(line__run__scheme__code="ZG").delete()
    PayrollLine.objects.filter(run__scheme__code="ZG", origin_line__isnull=False).delete()
    PayrollLine.objects.filter(run__scheme__code="ZG").delete()
    MonthEndSnapshot.objects.filter(scheme__code="ZG").delete()
    PayrollRun.objects.filter(scheme__code="ZG", parent_run__isnull=False).delete()
    PayrollRun.objects.filter(scheme__code="ZG").delete()
    zg = {"enrollment__scheme__code": "ZG"}
    Adjustment.objects.filter(**zg).delete()
    BenefitAmount.objects.filter(**zg).delete()
    Suspension.objects.filter(**zg).delete()
    StatusChange.objects.filter(**zg).delete()
    Enrollment.objects.filter(scheme__code="ZG").delete()
    RaiseRule.objects.filter(scheme__code="ZG").delete()


def _money(rng: random.Random, low: int, high: int, step: int = 10) -> Decimal:
    return Decimal(rng.randrange(low, high, step)) + (Decimal("0.50") if rng.random() < 0.2 else Decimal("0.00"))


@demo_step("zg", order=30, reset=zg_reset)
def zg_demo(scale: str, rng: random.Random, progress: Progress) -> str:
    from shebao.accounts.models import User
    from shebao.benefits.months import parse_month
    from shebao.benefits.services import (
        EnrollmentRow,
        adjustment_create,
        enrollment_bulk_create,
        enrollment_suspend,
        enrollment_terminate,
        scheme_get,
    )
    from shebao.common.money import quantize
    from shebao.demo.runner import demo_users_ensure
    from shebao.payroll.models import PayrollLine
    from shebao.payroll.services import (
        payroll_lines_apply_results,
        payroll_run_approve,
        payroll_run_compute,
        payroll_run_mark_exported,
    )
    from shebao.registry.models import Person
    from shebao.self_managed.services import flex_payment_create, income_record

    wanted = scale_size(scale, "zg_persons", default=SIZES.get(scale, 0))
    if not wanted:
        return None
    demo_users_ensure()  # the clerk and the reviewer who did this work
    clerk = User.objects.get(username="clerk")
    reviewer = User.objects.get(username="reviewer")
    scheme = scheme_get("ZG")
    item = {i.code: i for i in scheme.items.all()}  # instances: no lookup per person
    from django.db import connection
    from django.db.models import Exists, OuterRef

    from shebao.registry.models import BankAccount

    with connection.cursor() as cursor:  # fresh COPY-loaded tables have no statistics yet: the planner
        cursor.execute("ANALYZE registry_person")  # would pick a nested loop over 80k × 100k rows
        cursor.execute("ANALYZE registry_bankaccount")
    current_account = BankAccount.objects.filter(person_id=OuterRef("pk"), valid_to__isnull=True)
    candidates = list(Person.objects.filter(Exists(current_account), death_date__isnull=True,
                                            birth_date__lte=dt.date(1965, 12, 31))
                      .order_by("id").values_list("id", flat=True))
    chosen = sorted(rng.sample(candidates, min(wanted, len(candidates))))
    persons = Person.objects.in_bulk(chosen)
    progress.start(len(chosen), "自管人员纳入")
    rows = []
    changed = 0
    for pid in chosen:
        person = persons[pid]
        year = rng.choice([2012, 2015, 2018, 2020, 2022, 2023, 2024, 2024, 2025])
        month = rng.randint(1, 12) if year < 2025 else rng.randint(1, 9)
        start = dt.date(year, month, 1)
        basic = _money(rng, 1600, 3600)
        items = {item["basic"]: basic}
        if rng.random() < 0.7:
            items[item["extra"]] = _money(rng, 100, 320)
        if rng.random() < 0.4:
            items[item["living"]] = _money(rng, 40, 120)
        before_raise = start < dt.date(2025, 1, 1)
        first = {**items, item["basic"]: basic - Decimal(rng.choice([60, 80, 100, 120]))} if before_raise else items
        years = Decimal(rng.randint(12, 40)) + (Decimal("0.5") if rng.random() < 0.3 else 0)
        rows.append(EnrollmentRow(person=person, start_month=start, service_years=years, items=first,
                                  changes=[(item["basic"], basic, "2025-01", "2025年基本养老金调整")] if before_raise else []))
        changed += before_raise
    enrollments = enrollment_bulk_create(scheme=scheme, rows=rows, user=clerk, reason="演示数据")
    progress.advance(len(enrollments))

    shuffled = enrollments[:]
    rng.shuffle(shuffled)
    k = max(1, len(shuffled) // 50)
    suspended, dying, moving = shuffled[:2 * k], shuffled[2 * k:3 * k], shuffled[3 * k:3 * k + k // 2 + 1]
    others = shuffled[4 * k:]
    for e in suspended:
        enrollment_suspend(enrollment=e, reason="no_cert", from_month="2025-11", user=clerk,
                           note="逾期未认证，暂停发放")
    for e in others[:k]:
        adjustment_create(enrollment=e, kind="arrears", total=_money(rng, 200, 900), user=clerk,
                          reason="补发2025年度遗漏的统筹外补贴", source="经办核查")

    progress.note("月度结算 2025-10 … 2025-12")
    failed_total = 0
    for period in PERIODS:
        run = payroll_run_compute(scheme=scheme, period=period, user=clerk)
        run = payroll_run_approve(run=run, user=reviewer)
        run = payroll_run_mark_exported(run=run, user=clerk)
        lines = list(PayrollLine.objects.filter(run=run, status="sent").values_list("id", "net"))
        results = []
        for line_id, net in lines:
            if period == PERIODS[-1] and rng.random() < 0.015:
                results.append((line_id, Decimal("0.00"), False, rng.choice(["账户冻结", "户名不符", "已销户"])))
                failed_total += 1
            else:
                results.append((line_id, net, True, ""))
        if period == PERIODS[-1] and not failed_total and results:  # a small load still shows one refusal
            results[-1] = (results[-1][0], Decimal("0.00"), False, "已销户")
            failed_total = 1
        payroll_lines_apply_results(run=run, results=results, user=clerk)

    overpaid = Decimal("0.00")
    for i, e in enumerate(dying):
        died = dt.date(2025, 11, rng.randint(1, 28))
        result = enrollment_terminate(enrollment=e, reason="death", death_date=died, user=clerk,
                                      note="社区告知死亡")
        overpaid += result.overpaid
        if result.deduction is not None and i % 2 == 0:
            income_record(person=e.person, kind="overpayment", amount=quantize(result.overpaid / 2) if i % 4 == 0
                          else result.overpaid, received_on=dt.date(2026, 1, 10), source="家属退回",
                          note="多发待遇退回", user=clerk)
    for e in moving:
        enrollment_terminate(enrollment=e, reason="transfer", last_month=parse_month("2025-12"), user=clerk,
                             note="户籍迁出，转往外地发放")
    for e in others[k:k + max(1, k // 2)]:
        adjustment_create(enrollment=e, kind="deduction", total=_money(rng, 300, 1200), monthly_cap="200.00",
                          user=clerk, reason="重复发放扣回", source="稽核")
    pending = _pending_month(scheme=scheme, rng=rng, clerk=clerk, others=others[k + max(1, k // 2):-2],
                             candidates=[pid for pid in candidates if pid not in persons], item=item)
    for e in others[-2:]:
        flex_payment_create(person=e.person, amount=_money(rng, 500, 3000), reason="一次性困难补助",
                            source="慈溪市社保中心〔2026〕3号", user=clerk, period="2026-01")
    return (f"自管人员 {len(enrollments):,} 人（暂停 {len(suspended)}，死亡减员 {len(dying)}，转出 {len(moving)}，"
            f"2025-01 调整 {changed} 人），月度结算 {len(PERIODS)} 期（失败 {failed_total} 笔），多发 {overpaid} 元；"
            f"{pending}")


def _pending_month(*, scheme, rng: random.Random, clerk, others: list, candidates: list[int], item: dict) -> str:
    """The month after the last: computed by the clerk, NOT approved — the reviewer's approval page shows
    at once its risk list (the accounts the bank refused in 2025-12, unchanged; two accounts whose 户名 is
    a relative's — 子女代领) and what changed against 2025-12 (one new person, the deaths and transfers
    stopped, one 补发, the 扣减)."""
    from shebao.benefits.services import EnrollmentRow, adjustment_create, enrollment_bulk_create
    from shebao.demo.names import SURNAMES
    from shebao.payroll.models import LineRisk
    from shebao.payroll.services import payroll_run_compute
    from shebao.registry.models import BankAccount, Person
    from shebao.registry.services import bank_account_set

    relatives = others[:2]
    for e in relatives:
        account = BankAccount.objects.get(person_id=e.person_id, valid_to__isnull=True)
        surname = e.person.name[0]
        given = "".join(rng.choice("建国华明英芳伟丽军红") for _ in range(2))
        holder = (surname if surname in SURNAMES else rng.choice(list(SURNAMES))) + given
        if holder == e.person.name:
            holder = holder[:-1] + ("芳" if holder[-1] != "芳" else "丽")
        bank_account_set(user=clerk, person=e.person, bank=account.bank, branch=account.branch,
                         account_number=account.account_number, holder_name=holder,
                         valid_from=dt.date(2025, 12, 20), reason="子女代领，改为子女户名（演示数据）")
    for e in others[2:3]:
        adjustment_create(enrollment=e, kind="arrears", total=_money(rng, 200, 600), user=clerk,
                          reason="补发2025年12月漏发的生活补贴", source="经办核查")
    added = 0
    if candidates:
        newcomer = Person.objects.get(pk=rng.choice(candidates))
        enrollment_bulk_create(scheme=scheme, user=clerk, reason="演示数据", rows=[EnrollmentRow(
            person=newcomer, start_month=dt.date(2026, 1, 1), service_years=Decimal(rng.randint(15, 35)),
            items={item["basic"]: _money(rng, 1800, 3200)}, changes=[])])
        added = 1
    run = payroll_run_compute(scheme=scheme, period="2026-01", user=clerk, note="演示：待审核")
    risks = LineRisk.objects.filter(run=run).count()
    return f"2026-01 已计算待审核（{run.line_count} 笔，新增 {added} 人，风险明细 {risks} 笔）"

