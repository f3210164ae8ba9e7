"""Demo step "finance": the 社会保险特殊业务 ledger, through its own services.

Three organisation payees (财政局, 土地储备中心, a 镇 财政所); expenditures 土保转社保政府补助支出 and
incomes 统筹外经费收回 / 土保待遇退回 / 城乡居保待遇退回 over 2025-10 … 2025-12, most 到账确认 by the demo
finance user and 复核 by the demo reviewer, some waiting; one reviewed record reversed (红冲). The
自管人员 step's income and 灵活支付 are already in the ledger (linked by their source). Registered in
``shebao/finance/demo.py``."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from shebao.common.jobs import Progress
from shebao.demo.steps import demo_step, scale_size

PAYEES = [("慈溪市财政局", "ICBC", "6222020100000001234", "11330282002561789A"),
          ("慈溪市土地储备中心", "ABC", "6228480200000005678", "12330282MB0A123456"),
          ("慈溪市浒山街道财政所", "CXRCB", "6230910300000009012", "")]


def finance_reset() -> None:
    """Remove the ledger (before the 自管人员 step's runs and persons go) and the demo payees."""
    from django.db import connection

    with connection.cursor() as cursor:  # reviewed rows are locked by a trigger: a reset empties the table
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending deferred checks, or ALTER TABLE refuses
        cursor.execute("ALTER TABLE finance_entry DISABLE TRIGGER finance_entry_locked")
        cursor.execute("ALTER TABLE finance_attachment DISABLE TRIGGER finance_attachment_locked")
        cursor.execute("DELETE FROM finance_attachment")
        cursor.execute("ALTER TABLE finance_attachment ENABLE TRIGGER finance_attachment_locked")
        cursor.execute("DELETE FROM finance_entry WHERE reversal_of_id IS NOT NULL")
        cursor.execute("DELETE FROM finance_entry")
        cursor.execute("ALTER TABLE finance_entry ENABLE TRIGGER finance_entry_locked")
    from shebao.registry.models import Payee

    Payee.objects.filter(name__in=[p[0] for p in PAYEES]).delete()


@demo_step("finance", order=45, reset=finance_reset)
def finance_demo(scale: str, rng: random.Random, progress: Progress) -> str | None:
    from shebao.accounts.models import User
    from shebao.common.identity import validate_uscc
    from shebao.demo.runner import demo_users_ensure
    from shebao.finance.models import Entry
    from shebao.finance.services import (
        entry_confirm_arrival,
        entry_create,
        entry_reverse,
        entry_review,
        type_by_code,
    )
    from shebao.registry.services import payee_create

    if not scale_size(scale, "finance", default={"small": 1, "full": 1}.get(scale, 0)):
        return None
    demo_users_ensure()
    clerk, finance, reviewer = (User.objects.get(username=u) for u in ("clerk", "finance", "reviewer"))
    payees = []
    for name, bank, account, uscc in PAYEES:
        payees.append(payee_create(user=clerk, name=name, bank=bank, account_number=account,
                                   uscc=validate_uscc(uscc) if uscc else ""))
    plan = [("TB_TO_SI_SUBSIDY", 0, (150000, 600000)), ("TB_TO_SI_SUBSIDY", 1, (80000, 300000)),
            ("EXTRA_FUND_RECOVERY", 2, (2000, 40000)), ("TB_BENEFIT_RETURN", 2, (800, 6000)),
            ("RURAL_BENEFIT_RETURN", None, (300, 3000))]
    made = []
    progress.start(12, "特殊业务收支")
    for month in (10, 11, 12):
        for n, (code, payee, (low, high)) in enumerate(plan):
            if rng.random() < 0.2:
                continue
            on = dt.date(2025, month, rng.randint(1, 25))
            amount = Decimal(rng.randrange(low, high)) + Decimal(rng.randrange(0, 100)) / 100
            entry = entry_create(user=clerk, type=type_by_code(code), amount=amount, occurred_on=on,
                                 payee=payees[payee] if payee is not None else None,
                                 voucher_no=f"记-{month:02d}{n + 1:02d}", note="演示数据")
            if month < 12 or rng.random() < 0.5:
                entry_confirm_arrival(entry=entry, user=finance, arrival_on=on + dt.timedelta(days=2), amount=amount)
                if month < 12:
                    entry_review(entry=entry, user=reviewer)
            made.append(entry)
        progress.advance(4)
    reviewed = [e for e in made if Entry.objects.get(pk=e.pk).state == Entry.State.REVIEWED]
    if reviewed:
        rev = entry_reverse(entry=reviewed[0], user=finance, reason="重复录入（演示）", on=dt.date(2025, 12, 20))
        entry_review(entry=rev, user=reviewer)
    return f"特殊业务收支 {len(made)} 条（收款方 {len(payees)} 个，红冲 {1 if reviewed else 0} 条）"
