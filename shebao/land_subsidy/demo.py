"""Demo step "tb": 土保补贴人员 on the demo people, with a paid 2025 yearly run (年度发放).

Three categories with their amount rules (一类 and 二类 with an age condition on 31 December, 生活补助 without
one, and the 2025 raise of 一类 as a second rule); about 2,000 (small) / 5,000 (full) demo persons taken
in (set-based: one ``enrollment_bulk_create``, one INSERT of the records, one audit event each) with
征地时间 and 征地项目; a few suspended (未提供生存证明) from 2025-10, a few pending 扣减. The 2025 yearly run
is computed by the demo clerk, approved by the demo reviewer, exported and returned by the bank with about
1 % failed (账户冻结 / 户名不符); the failures are re-issued (二次报盘) and paid, so the 2025 roster is fully
paid. The 2026 run is left for the clerk to compute.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from shebao.common.jobs import Progress
from shebao.demo.steps import demo_step, scale_size

SIZES = {"small": 2000, "full": 5000}
CATEGORIES = [  # code, name, [(from_year, yearly amount, male age, female age)]
    ("A", "征地补贴一类", [(2020, "1200.00", 60, 55), (2025, "1440.00", 60, 55)]),
    ("B", "征地补贴二类", [(2020, "960.00", 60, 55)]),
    ("C", "征地保养人员生活补助", [(2020, "600.00", None, None)]),
]
PROJECTS = ["新城大道二期征地", "杭州湾新区一期", "环城南路拓宽", "高铁站场征地", "北部工业园区", "慈东滨海区"]


def tb_reset() -> None:
    """Remove what this step (and the 土保补贴 pages) made: our records, TB runs, TB enrollments."""
    from shebao.benefits.models import Adjustment, BenefitAmount, Enrollment, StatusChange, Suspension
    from shebao.land_subsidy.models import SubsidyCategory, SubsidyPerson, SubsidyRule, TbImport
    from shebao.payroll.models import LineRisk, MonthEndSnapshot, PayrollComponent, PayrollLine, PayrollRun

    TbImport.objects.all().delete()
    SubsidyPerson.objects.all().delete()
    SubsidyRule.objects.all().delete()
    SubsidyCategory.objects.all().delete()
    LineRisk.objects.filter(run__scheme__code="TB").delete()
    PayrollComponent.objects.filter(line__run__scheme__code="TB").delete()
    PayrollLine.objects.filter(run__scheme__code="TB", origin_line__isnull=False).delete()
    PayrollLine.objects.filter(run__scheme__code="TB").delete()
    MonthEndSnapshot.objects.filter(scheme__code="TB").delete()
    PayrollRun.objects.filter(scheme__code="TB", parent_run__isnull=False).delete()
    PayrollRun.objects.filter(scheme__code="TB").delete()
    tb = {"enrollment__scheme__code": "TB"}
    Adjustment.objects.filter(**tb).delete()
    BenefitAmount.objects.filter(**tb).delete()
    Suspension.objects.filter(**tb).delete()
    StatusChange.objects.filter(**tb).delete()
    Enrollment.objects.filter(scheme__code="TB").delete()


def _pay(run, *, user, rng: random.Random, fail_rate: float) -> int:
    from shebao.payroll.models import PayrollLine
    from shebao.payroll.services import payroll_lines_apply_results, payroll_run_mark_exported

    run = payroll_run_mark_exported(run=run, user=user)
    results, failed = [], 0
    for line_id, net in PayrollLine.objects.filter(run=run, status="sent").values_list("id", "net"):
        if rng.random() < fail_rate:
            results.append((line_id, Decimal("0.00"), False, rng.choice(["账户冻结", "户名不符", "已销户"])))
            failed += 1
        else:
            results.append((line_id, net, True, ""))
    payroll_lines_apply_results(run=run, results=results, user=user)
    return failed


@demo_step("tb", order=35, reset=tb_reset)
def tb_demo(scale: str, rng: random.Random, progress: Progress) -> str | None:
    from django.db import connection
    from django.db.models import Exists, OuterRef

    from shebao.accounts.models import User
    from shebao.benefits.services import (
        EnrollmentRow,
        adjustment_create,
        enrollment_bulk_create,
        enrollment_suspend,
    )
    from shebao.common.audit import audit_record_many, snapshot
    from shebao.demo.runner import demo_users_ensure
    from shebao.land_subsidy.models import SubsidyCategory, SubsidyPerson, SubsidyRule
    from shebao.land_subsidy.services import RECORD_FIELDS, tb_scheme
    from shebao.payroll.services import payroll_reissue_create, payroll_run_approve, payroll_run_compute
    from shebao.registry.models import BankAccount, Person

    wanted = scale_size(scale, "tb_persons", default=SIZES.get(scale, 0))
    if not wanted:
        return None
    demo_users_ensure()
    clerk = User.objects.get(username="clerk")
    reviewer = User.objects.get(username="reviewer")
    scheme = tb_scheme()
    categories = []
    for code, name, rules in CATEGORIES:
        category = SubsidyCategory.objects.create(code=code, name=name, sort=len(categories))
        SubsidyRule.objects.bulk_create([
            SubsidyRule(category=category, from_year=year, amount=amount, reference_month=12, reference_day=31,
                        min_age_male=male, min_age_female=female, created_by=clerk,
                        note="慈政发〔2025〕12号" if year == 2025 else "慈政发〔2019〕31号")
            for year, amount, male, female in rules])
        categories.append(category)

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE registry_person")
        cursor.execute("ANALYZE registry_bankaccount")
    current_account = BankAccount.objects.filter(person_id=OuterRef("pk"), valid_to__isnull=True)
    candidates = list(Person.objects.filter(Exists(current_account), death_date__isnull=True,
                                            birth_date__lte=dt.date(1985, 12, 31))
                      .exclude(enrollments__scheme__code__in=["ZG", "TB"])
                      .order_by("id").values_list("id", flat=True))
    chosen = sorted(rng.sample(candidates, min(wanted, len(candidates))))
    persons = Person.objects.in_bulk(chosen)
    progress.start(len(chosen), "土保补贴人员纳入")
    plans = []
    for pid in chosen:
        year = rng.choice([2012, 2014, 2016, 2018, 2019, 2020, 2021, 2022, 2023, 2024, 2025])
        start = dt.date(year, rng.randint(1, 12), 1)
        category = categories[0 if rng.random() < 0.55 else 1 if rng.random() < 0.7 else 2]
        land = dt.date(year - rng.randint(0, 2), rng.randint(1, 12), rng.randint(1, 28))
        plans.append((persons[pid], start, category, land, rng.choice(PROJECTS)))
    enrollments = enrollment_bulk_create(scheme=scheme, user=clerk, reason="演示数据", rows=[
        EnrollmentRow(person=p, start_month=start) for p, start, *_ in plans])
    records = SubsidyPerson.objects.bulk_create([
        SubsidyPerson(enrollment=e, person=p, category=category, land_date=land, land_project=project)
        for (p, _s, category, land, project), e in zip(plans, enrollments, strict=True)], batch_size=2000)
    audit_record_many([{"user": clerk, "action": "create", "obj": r, "person_id": r.person_id,
                        "summary": f"纳入土保补贴（{r.category.name}）", "after": snapshot(r, RECORD_FIELDS),
                        "reason": "演示数据"} for r in records])
    progress.advance(len(records))

    shuffled = enrollments[:]
    rng.shuffle(shuffled)
    k = max(1, len(shuffled) // 100)
    for e in shuffled[:k]:
        enrollment_suspend(enrollment=e, reason="no_cert", from_month="2025-10", user=clerk,
                           note="逾期未认证，暂停发放")
    for e in shuffled[k:2 * k]:
        adjustment_create(enrollment=e, kind="deduction", total=Decimal(rng.randrange(200, 800, 50)), user=clerk,
                          reason="重复发放扣回", source="稽核")

    progress.note("2025 年度发放")
    run = payroll_run_compute(scheme=scheme, period="2025", user=clerk, kind="annual")
    run = payroll_run_approve(run=run, user=reviewer)
    failed = _pay(run, user=clerk, rng=rng, fail_rate=0.01)
    if failed:
        reissue = payroll_reissue_create(run=run, user=clerk, note="入账失败人员二次报盘")
        reissue = payroll_run_approve(run=reissue, user=reviewer)
        _pay(reissue, user=clerk, rng=rng, fail_rate=0.0)
    run.refresh_from_db()
    return (f"土保补贴人员 {len(records):,} 人（暂停 {k}，扣减 {k}），2025 年度发放 {run.line_count:,} 人 "
            f"实发 {run.net:,} 元（首次失败 {failed} 笔，已二次报盘支付）")
