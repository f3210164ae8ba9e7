"""The 回流库 demo step: the sample 省 dictionary, a few thousand shared rows of the demo's ZG persons —
among them a death the province recorded while we still pay, another pension paid in a month we pay,
a name spelled differently and recent medical settlements — and one audit run, so the pages have
something to show. Small and fast; ``warehouse_demo_reset`` drops what it made."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from pathlib import Path

from shebao.common.jobs import Progress
from shebao.demo.steps import demo_step


def warehouse_demo_reset() -> None:
    from django.db import connection
    from django.db.models import Q

    from shebao.warehouse.models import AuditRule, AuditRun, DictionaryLoad, Load, WhTable

    with connection.cursor() as cursor:
        for t in WhTable.objects.all():
            cursor.execute(f'DROP TABLE IF EXISTS warehouse."{t.physical}" CASCADE')
    AuditRun.objects.all().delete()
    Load.objects.all().delete()
    DictionaryLoad.objects.all().delete()
    # the rules a dictionary attached (审核 column) point at the tables, a 引用 rule at two of them
    AuditRule.objects.filter(Q(table__isnull=False) | Q(ref_table__isnull=False)).delete()
    WhTable.objects.all().delete()


@demo_step("warehouse", order=90, reset=warehouse_demo_reset)
def warehouse_demo(scale: str, rng: random.Random, progress: Progress) -> str:
    from shebao.accounts.models import User
    from shebao.demo.runner import demo_users_ensure
    from shebao.payroll.models import PayrollLine
    from shebao.warehouse.audit import audit_run
    from shebao.warehouse.dictionary import dictionary_load
    from shebao.warehouse.landing import warehouse_load
    from shebao.warehouse.samples import COLUMNS_WITH_RULES, dictionary_folder

    demo_users_ensure()
    user = User.objects.filter(is_active=True, groups__name="it_admin").first() or User.objects.get(username="clerk")
    lines = list(PayrollLine.objects.filter(person__isnull=False).order_by("-run__period", "id")
                 .values_list("id_number", "name", "run__period")[:3000])
    if not lines:
        return None
    progress.start(4, "回流库演示数据")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        dictionary_load(source_name="省", path=dictionary_folder(folder, columns=COLUMNS_WITH_RULES), user=user)
        progress.advance()
        people = {}
        for idn, name, period in lines:
            people.setdefault(idn, (name, period))
        ids = list(people)
        rng.shuffle(ids)
        ac01 = ["aac001,aac002,aac003,aac004"]
        for i, idn in enumerate(ids):
            name = people[idn][0]
            if i % 500 == 7:
                name = name[:-1] + "某"  # spelled differently in the province's data
            ac01.append(f"S{i:07d},{idn},{name},{1 if int(idn[16]) % 2 else 2}")
        (folder / "ac01.csv").write_text("\n".join(ac01) + "\n", encoding="utf-8")
        warehouse_load(source_name="省", table_name="ac01", path=folder / "ac01.csv", user=user)
        deaths = ["aac002,aac003,aac060"]
        for idn in ids[:3]:
            last = people[idn][1]
            deaths.append(f"{idn},{people[idn][0]},{(last - dt.timedelta(days=40)).isoformat()}")
        (folder / "ac60.csv").write_text("\n".join(deaths) + "\n", encoding="utf-8")
        warehouse_load(source_name="省", table_name="ac60", path=folder / "ac60.csv", user=user)
        pay = ["aac002,aae002,aae140,aae019"]
        for idn in ids[3:6]:
            pay.append(f"{idn},{people[idn][1]:%Y%m},120,{rng.randint(2000, 4000)}.00")
        (folder / "pay.csv").write_text("\n".join(pay) + "\n", encoding="utf-8")
        warehouse_load(source_name="省", table_name="ic_pay", path=folder / "pay.csv", user=user)
        progress.advance()
        today = dt.date.today()
        act = ["seq,aac002,act_date,kind"]
        for i, idn in enumerate(ids[6:400]):
            act.append(f"{i + 1},{idn},{today - dt.timedelta(days=rng.randint(1, 200))},{rng.choice('123')}")
        (folder / "act.csv").write_text("\n".join(act) + "\n", encoding="utf-8")
        warehouse_load(source_name="省", table_name="ke_act", path=folder / "act.csv", user=user)
        progress.advance()
    run = audit_run(user=user)
    progress.advance()
    return f"回流库：{len(ids):,} 人，审核结果 {sum(run.summary.values())} 条"
