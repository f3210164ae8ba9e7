"""Demo step "bz": 养老保障 persons on the demo people, through the engine's services where money moves.

3,000 persons (at either scale): the living demo persons born 1940–1985 with an account, and where
they are fewer (``small`` has ≈ 2,100 of them) 被征地 persons of our own, registered through the
registry's ``person_bulk_create`` and ``bank_account_bulk_set`` (valid 慈溪 身份证号 born 1950–1980, in
every 镇街道, an account at a local bank). Each is in one of the two seeded categories with what they
paid in (一次性趸缴, some 缴费 too), and an approved benefit from 2024 or 2025 (proposed by the demo clerk,
approved by the demo reviewer): the category's 生活补助, or 养老金 for those past the conversion age.
Each month 2025-10 … 2026-01 the 到龄转换 batch runs first (as the periodic job does, so nobody is
back-dated), and the runs 2025-10 … 2025-12 are computed, approved, sent and returned; ≈ 1 % of the December
lines fail, two thirds of those persons give a corrected account and the 二次报盘 pays them, the rest
fail again (still owed on 应付实付). 1 % are suspended, 12 proposals wait for approval (one refused first, with its reason), two
persons withdrew (退保清算). Set-based: bulk inserts of our records, ``enrollment_bulk_create`` for the
enrollments, the engine's runs."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from shebao.common.jobs import Progress
from shebao.demo.steps import demo_step

PERIODS = ["2025-10", "2025-11", "2025-12"]
SIZES = {"small": 3000, "full": 3000}


def bz_reset() -> None:
    from shebao.benefits.models import (
        Adjustment,
        BenefitAmount,
        Enrollment,
        RaiseRule,
        StatusChange,
        Suspension,
    )
    from shebao.payroll.models import MonthEndSnapshot, PayrollComponent, PayrollLine, PayrollRun
    from shebao.pension_security.models import Conversion, Member, PaidIn, Proposal, RosterImport, Settlement

    Settlement.objects.all().delete()
    Conversion.objects.all().delete()
    Proposal.objects.all().delete()
    PaidIn.objects.all().delete()
    RosterImport.objects.all().delete()
    Member.objects.all().delete()
    PayrollComponent.objects.filter(line__run__scheme__code="BZ").delete()
    PayrollLine.objects.filter(run__scheme__code="BZ", origin_line__isnull=False).delete()
    PayrollLine.objects.filter(run__scheme__code="BZ").delete()
    MonthEndSnapshot.objects.filter(scheme__code="BZ").delete()
    PayrollRun.objects.filter(scheme__code="BZ", parent_run__isnull=False).delete()
    PayrollRun.objects.filter(scheme__code="BZ").delete()
    bz = {"enrollment__scheme__code": "BZ"}
    Adjustment.objects.filter(**bz).delete()
    BenefitAmount.objects.filter(**bz).delete()
    Suspension.objects.filter(**bz).delete()
    StatusChange.objects.filter(**bz).delete()
    Enrollment.objects.filter(scheme__code="BZ").delete()
    RaiseRule.objects.filter(scheme__code="BZ").delete()


@demo_step("bz", order=35, reset=bz_reset)
def bz_demo(scale: str, rng: random.Random, progress: Progress) -> str | None:
    from django.db import connection
    from django.db.models import Exists, OuterRef, Subquery
    from django.utils import timezone

    from shebao.accounts.models import User
    from shebao.benefits.models import Enrollment
    from shebao.benefits.services import EnrollmentRow, enrollment_bulk_create, enrollment_suspend, scheme_get
    from shebao.demo.runner import demo_users_ensure
    from shebao.payroll.models import PayrollLine
    from shebao.payroll.services import (
        payroll_lines_apply_results,
        payroll_run_approve,
        payroll_run_compute,
        payroll_run_mark_exported,
    )
    from shebao.pension_security import selectors as sel
    from shebao.pension_security.models import Category, Member, PaidIn, Phase, Proposal
    from shebao.pension_security.services import (
        bz_convert,
        bz_settle,
        conversion_month,
        proposal_create,
        proposal_refuse,
    )
    from shebao.registry.models import BankAccount, Person

    wanted = SIZES.get(scale, 0)
    if not wanted:
        return None
    demo_users_ensure()
    clerk = User.objects.get(username="clerk")
    reviewer = User.objects.get(username="reviewer")
    scheme = scheme_get("BZ")
    items = {i.code: i for i in scheme.items.all()}
    categories = list(Category.objects.filter(active=True).order_by("sort"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE registry_person")
        cursor.execute("ANALYZE registry_bankaccount")
    current = BankAccount.objects.filter(person_id=OuterRef("pk"), valid_to__isnull=True)
    def living():
        return list(Person.objects.filter(Exists(current), death_date__isnull=True,
                                          birth_date__gte=dt.date(1940, 1, 1), birth_date__lte=dt.date(1985, 12, 31))
                    .order_by("id").values_list("id", "birth_date", "sex"))

    candidates = living()
    added = 0
    if len(candidates) < wanted:
        added = _top_up(wanted - len(candidates), rng, clerk)
        candidates = living()
    chosen = sorted(rng.sample(candidates, min(wanted, len(candidates))))
    progress.start(len(chosen), "养老保障人员")
    now = timezone.now()
    members = [Member(person_id=pid, category=categories[0] if rng.random() < 0.8 else categories[-1],
                      created_by=clerk, created_at=now) for pid, _b, _s in chosen]
    Member.objects.bulk_create(members, batch_size=2000)
    paid = []
    for m in members:
        paid.append(PaidIn(member=m, kind=PaidIn.Kind.LUMP_SUM, paid_on=dt.date(rng.randint(2008, 2015), rng.randint(1, 12), 1),
                           amount=Decimal(rng.randrange(8000, 30000, 100)), created_by=clerk))
        if rng.random() < 0.3:
            paid.append(PaidIn(member=m, kind=PaidIn.Kind.CONTRIBUTION, paid_on=dt.date(2016, rng.randint(1, 12), 15),
                               amount=Decimal(rng.randrange(600, 2400, 50)), created_by=clerk))
    PaidIn.objects.bulk_create(paid, batch_size=2000)

    standards = {(s.category_id, s.phase): s for s in sel.standards()}
    pending = members[-12:]  # proposals still waiting (the approval page), one of them refused first
    rows, proposals = [], []
    for m, (_pid, birth, sex) in zip(members, chosen, strict=True):
        if m in pending:
            continue
        start = dt.date(rng.choice([2024, 2024, 2025]), rng.randint(1, 12) if rng.random() < 0.9 else 1, 1)
        start = min(start, dt.date(2025, 9, 1))
        age = m.category.conversion_age(sex)
        phase = Phase.PENSION if conversion_month(birth_date=birth, age=age) <= start else Phase.SUBSIDY
        std = standards[(m.category_id, phase)]
        m.phase = phase
        rows.append(EnrollmentRow(person=Person(pk=m.person_id, name=""), start_month=start,
                                  items={items[std.item.code]: std.amount}, note="待遇核准"))
        proposals.append(Proposal(member=m, category=m.category, phase=phase, start_month=start,
                                  items={std.item.code: str(std.amount)}, monthly_total=std.amount,
                                  state=Proposal.State.APPROVED, proposed_by=clerk, decided_by=reviewer,
                                  decided_at=now, note="演示数据"))
    persons = Person.objects.in_bulk([r.person.pk for r in rows])
    for r in rows:
        r.person = persons[r.person.pk]
    enrollments = enrollment_bulk_create(scheme=scheme, rows=rows, user=reviewer, reason="养老保障待遇核准（演示数据）")
    Proposal.objects.bulk_create(proposals, batch_size=2000)
    by_person = {e.person_id: e for e in enrollments}
    approved = [m for m in members if m.person_id in by_person]
    for m in approved:
        m.enrollment = by_person[m.person_id]
    # two UPDATEs (bulk_update's CASE per row took ≈ 19 s for 3,000 members)
    bz_enrollment = Enrollment.objects.filter(person_id=OuterRef("person_id"), scheme=scheme)
    Member.objects.filter(Exists(bz_enrollment)).update(enrollment_id=Subquery(bz_enrollment.values("pk")[:1]))
    Member.objects.filter(pk__in=[m.pk for m in approved if m.phase == Phase.PENSION]).update(phase=Phase.PENSION)
    progress.advance(len(approved))

    k = max(1, len(enrollments) // 100)
    for e in enrollments[:k]:
        enrollment_suspend(enrollment=e, reason="no_cert", from_month="2025-12", user=clerk, note="逾期未认证，暂停发放")

    failed = converted = 0
    for period in PERIODS:
        # the monthly 到龄转换 before each month's run (as the periodic job does): nobody is back-dated
        converted += len(bz_convert(month=period, user=clerk).converted)
        run = payroll_run_approve(run=payroll_run_compute(scheme=scheme, period=period, user=clerk), user=reviewer)
        run = payroll_run_mark_exported(run=run, user=clerk)
        results = []
        sent = list(PayrollLine.objects.filter(run=run, status="sent").order_by("id").values_list("id", "net"))
        # ≈ 1 % of the last month's lines fail (at least one, so the 二次报盘 is always shown)
        failing = set(rng.sample([i for i, _n in sent], max(1, len(sent) // 100))) if period == PERIODS[-1] else set()
        for line_id, net in sent:
            if line_id in failing:
                results.append((line_id, Decimal("0.00"), False, rng.choice(["账户冻结", "户名不符", "已销户"])))
                failed += 1
            else:
                results.append((line_id, net, True, ""))
        payroll_lines_apply_results(run=run, results=results, user=clerk)
    reissued, still_owed = _reissue(run, rng, clerk=clerk, reviewer=reviewer) if failed else (0, 0)
    converted += len(bz_convert(month="2026-01", user=clerk).converted)

    for i, m in enumerate(pending):
        p = proposal_create(member=m, user=clerk, start_month="2026-01", note="新增人员申报")
        if i == 0:
            proposal_refuse(proposal=p, user=reviewer, reason="缴费凭证不全，请补充后重新申报")
            proposal_create(member=m, user=clerk, start_month="2026-02", note="补充凭证后重新申报")
    settled = 0
    for m in approved[k + 1:k + 3]:
        m = Member.objects.get(pk=m.pk)
        bz_settle(member=m, reason="withdrawal", on=dt.date(2025, 12, 31), user=clerk, note="本人申请退保")
        settled += 1
    return (f"养老保障 {len(members):,} 人（其中新登记被征地人员 {added:,}；已核准 {len(enrollments):,}，"
            f"待核准 {len(pending)}，暂停 {k}），月度结算 {len(PERIODS)} 期（失败 {failed} 笔，二次报盘支付 {reissued} 笔、"
            f"仍欠 {still_owed} 笔），到龄转换 {converted} 人（2025-10 … 2026-01 每月一批），退保清算 {settled} 人")


def _top_up(n: int, rng: random.Random, user) -> int:
    """Register ``n`` 被征地 persons of our own with a current account (the registry's bulk services:
    validated, audited). Valid 慈溪 身份证号 (area 330282) born 1950–1980, spread over every 镇街道."""
    from shebao.common.identity import check_char
    from shebao.demo.people import BANK, SURNAME, _branch, _card_number, _given_name, _mobile
    from shebao.registry.models import Person, Region
    from shebao.registry.services import bank_account_bulk_set, person_bulk_create

    towns = list(Region.objects.filter(level=Region.Level.TOWN).order_by("sort", "code"))
    communities: dict[int, list] = {}
    for c in Region.objects.filter(level=Region.Level.COMMUNITY).order_by("sort", "code"):
        communities.setdefault(c.parent_id, []).append(c)
    taken = set(Person.objects.filter(id_number__startswith="330282").values_list("id_number", flat=True))
    rows = []
    for i in range(n):
        born = dt.date(rng.randint(1950, 1980), 1, 1) + dt.timedelta(days=rng.randrange(365))
        while True:
            seq = rng.randint(1, 999)
            first17 = f"330282{born:%Y%m%d}{seq:03d}"
            number = first17 + check_char(first17)
            if number not in taken:
                taken.add(number)
                break
        town = towns[i % len(towns)] if rng.random() < 0.5 else rng.choice(towns)
        mine = communities.get(town.pk) or []
        rows.append({"id_number": number, "name": SURNAME(rng) + _given_name(rng, born, seq % 2 == 1), "town": town,
                     "community": rng.choice(mine) if mine else None, "mobile": _mobile(rng)})
    persons = person_bulk_create(user=user, rows=rows, reason="养老保障演示数据：被征地人员登记")
    accounts = []
    for p in persons:
        bank = BANK(rng)
        number, _ok = _card_number(rng, bank)
        accounts.append({"person": p, "bank": bank, "branch": _branch(bank, p.town.name), "account_number": number,
                         "holder_name": p.name, "valid_from": dt.date(rng.randint(2010, 2020), rng.randint(1, 12), 1)})
    bank_account_bulk_set(user=user, rows=accounts, reason="养老保障演示数据：支付账户")
    return len(persons)


def _reissue(run, rng: random.Random, *, clerk, reviewer) -> tuple[int, int]:
    """二次报盘 of the run's failed lines: two thirds of those persons gave a corrected account (new
    from 2026-01-05) and are paid, the others fail again (户名不符) and stay owed."""
    from shebao.demo.people import BANK, _branch, _card_number
    from shebao.payroll.models import PayrollLine
    from shebao.payroll.services import (
        payroll_lines_apply_results,
        payroll_reissue_create,
        payroll_run_approve,
        payroll_run_mark_exported,
    )
    from shebao.registry.models import Person
    from shebao.registry.services import bank_account_bulk_set

    failed = list(PayrollLine.objects.filter(run=run, status="failed").order_by("id").values_list("person_id",
                                                                                                flat=True))
    fixed = set(failed[: max(1, len(failed) * 2 // 3)])
    persons = Person.objects.select_related("town").in_bulk(list(fixed))
    rows = []
    for pid in sorted(fixed):
        p = persons[pid]
        bank = BANK(rng)
        number, _ok = _card_number(rng, bank)
        rows.append({"person": p, "bank": bank, "branch": _branch(bank, p.town.name), "account_number": number,
                     "holder_name": p.name, "valid_from": dt.date(2026, 1, 5)})
    bank_account_bulk_set(user=clerk, rows=rows, reason="回盘失败后更正支付账户")
    reissue = payroll_run_mark_exported(run=payroll_run_approve(run=payroll_reissue_create(run=run, user=clerk),
                                                                user=reviewer), user=clerk)
    results, paid = [], 0
    for line_id, person_id, net in PayrollLine.objects.filter(run=reissue, status="sent").values_list(
            "id", "person_id", "net"):
        if person_id in fixed:
            results.append((line_id, net, True, ""))
            paid += 1
        else:
            results.append((line_id, Decimal("0.00"), False, "户名不符"))
    payroll_lines_apply_results(run=reissue, results=results, user=clerk)
    return paid, len(results) - paid
