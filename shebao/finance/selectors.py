"""社会保险特殊业务: the reads — records, payees, the review queue and the report (monthly or yearly,
by type, payee and status, reconciled to the records and to the bank files)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum

from shebao.common.money import ZERO
from shebao.finance.models import BusinessType, Direction, Entry
from shebao.registry.models import Payee


def entries(direction: str | None = None) -> QuerySet:
    qs = Entry.objects.select_related("type", "payee", "person", "created_by", "reviewed_by")
    return qs.filter(direction=direction) if direction else qs


def entries_total(qs: QuerySet) -> Decimal:
    """Σ amount of the records of ``qs`` (a reversal counts negative)."""
    return qs.order_by().aggregate(total=Sum("amount"))["total"] or ZERO


def entry_get(pk: int) -> Entry | None:
    return entries().select_related("arrival_by", "reversal_of", "run").filter(pk=pk).first()


def awaiting_arrival() -> QuerySet:
    """Records finance can confirm by hand: 待到账确认 and not waiting for a bank run's return (a record
    paid by bank arrives with the return: pending or failed, its 到账 is the bank's)."""
    return entries().filter(state=Entry.State.ENTERED).exclude(
        run__isnull=False, pay_status__in=[Entry.PayStatus.PENDING, Entry.PayStatus.FAILED])


def review_queue(user) -> QuerySet:
    """待财务复核: records waiting for a hand 到账确认 or for review (the latter not entered by ``user``)."""
    return entries().filter(Q(pk__in=awaiting_arrival().values("pk"))
                            | (Q(state=Entry.State.ARRIVED) & ~Q(created_by=user)))


def types(direction: str | None = None, *, active_only: bool = False) -> QuerySet:
    qs = BusinessType.objects.select_related("scheme")
    if direction:
        qs = qs.filter(direction=direction)
    return qs.filter(active=True) if active_only else qs


def payees_current() -> QuerySet:
    return Payee.objects.filter(current=True)


def payee_versions(code: str) -> list[Payee]:
    return list(Payee.objects.filter(code=code).order_by("-version"))


def payee_entries(code: str) -> QuerySet:
    return entries().filter(payee__code=code)


# --------------------------------------------------------------------------------------------------
# the report


def parse_period(text: str) -> tuple[dt.date, dt.date, str]:
    """``YYYY-MM`` (a month) or ``YYYY`` (a year) → (first day, last day, label); ValueError in Chinese."""
    text = (text or "").strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", text)
    if m:
        year, month = int(m.group(1)), int(m.group(2))
        if not (2000 <= year <= 2100 and 1 <= month <= 12):
            raise ValueError(f"月份 {text} 无效，应为 YYYY-MM")
        last = calendar.monthrange(year, month)[1]
        return dt.date(year, month, 1), dt.date(year, month, last), f"{year:04d}-{month:02d}"
    if re.fullmatch(r"\d{4}", text) and 2000 <= int(text) <= 2100:
        year = int(text)
        return dt.date(year, 1, 1), dt.date(year, 12, 31), f"{year:04d}"
    raise ValueError(f"期间 {text or '（空）'} 无效，应为 YYYY-MM（月度）或 YYYY（年度）")


@dataclass
class Report:
    label: str
    start: dt.date
    end: dt.date
    income_count: int = 0
    income_total: Decimal = ZERO
    expenditure_count: int = 0
    expenditure_total: Decimal = ZERO
    by_type: list[dict] = field(default_factory=list)
    by_payee: list[dict] = field(default_factory=list)
    by_status: list[dict] = field(default_factory=list)
    records_total: dict = field(default_factory=dict)  # direction → Σ amount of the records themselves
    bank: dict = field(default_factory=dict)

    @property
    def net(self) -> Decimal:
        return self.income_total - self.expenditure_total

    @property
    def reconciled(self) -> bool:
        sums = {d: sum((r["total"] for r in self.by_type if r["direction"] == d), ZERO) for d in Direction.values}
        payees = {d: sum((r["total"] for r in self.by_payee if r["direction"] == d), ZERO) for d in Direction.values}
        status = {d: sum((r["total"] for r in self.by_status if r["direction"] == d), ZERO) for d in Direction.values}
        return (sums == payees == status == {Direction.INCOME.value: self.income_total,
                                             Direction.EXPENDITURE.value: self.expenditure_total}
                and self.records_total.get(Direction.INCOME.value, ZERO) == self.income_total
                and self.records_total.get(Direction.EXPENDITURE.value, ZERO) == self.expenditure_total
                and self.bank.get("records_total", ZERO) == self.bank.get("files_total", ZERO))

    def as_json(self) -> dict:
        def money(v) -> str:
            return f"{v:.2f}"

        def rows(items):
            return [{k: (money(v) if isinstance(v, Decimal) else v) for k, v in r.items()} for r in items]

        return {
            "period": self.label, "from": self.start.isoformat(), "to": self.end.isoformat(),
            "income": {"count": self.income_count, "total": money(self.income_total)},
            "expenditure": {"count": self.expenditure_count, "total": money(self.expenditure_total)},
            "net": money(self.net),
            "by_type": rows(self.by_type), "by_payee": rows(self.by_payee), "by_status": rows(self.by_status),
            "bank": {k: (money(v) if isinstance(v, Decimal) else v) for k, v in self.bank.items()},
            "reconciled": self.reconciled,
        }


_SQL_BANK = """
WITH RECURSIVE fam AS (
    SELECT e.id AS entry_id, e.run_id FROM finance_entry e
    WHERE e.run_id IS NOT NULL AND e.occurred_on BETWEEN %(start)s AND %(end)s
    UNION ALL
    SELECT fam.entry_id, r.id FROM payroll_payrollrun r JOIN fam ON r.parent_run_id = fam.run_id
)
SELECT count(*), coalesce(sum(l.net), 0)
FROM fam
JOIN payroll_payrollline l ON l.run_id = fam.run_id AND l.status = 'paid'
JOIN bank_bankfileline bl ON bl.payroll_line_id = l.id
"""


def ledger_report(*, start: dt.date, end: dt.date, label: str) -> Report:
    """Income and expenditure with a business date in [start, end]: by type, by payee (or person), by
    status; a reversal counts with its negative amount, so a reversed record nets to zero. The bank part
    compares the records paid by bank (已支付) with the paid lines of their runs in the bank files."""
    report = Report(label=label, start=start, end=end)
    qs = Entry.objects.filter(occurred_on__gte=start, occurred_on__lte=end)
    for row in qs.values("direction").annotate(n=Count("id"), total=Sum("amount")):
        if row["direction"] == Direction.INCOME:
            report.income_count, report.income_total = row["n"], row["total"] or ZERO
        else:
            report.expenditure_count, report.expenditure_total = row["n"], row["total"] or ZERO
    with connection.cursor() as cursor:  # the records summed on their own, as a check of the groupings
        cursor.execute("SELECT direction, coalesce(sum(amount), 0) FROM finance_entry "
                       "WHERE occurred_on BETWEEN %s AND %s GROUP BY direction", [start, end])
        report.records_total = {d: Decimal(t) for d, t in cursor.fetchall()}
    for row in (qs.values("direction", "type__code", "type__name", "type__subject_code", "type__subject_name",
                          "type__subject_confirmed_by")
                .annotate(n=Count("id"), total=Sum("amount")).order_by("direction", "type__sort", "type__code")):
        report.by_type.append({"direction": row["direction"], "code": row["type__code"], "name": row["type__name"],
                               "subject_code": row["type__subject_code"], "subject_name": row["type__subject_name"],
                               "subject_confirmed": row["type__subject_confirmed_by"] is not None,
                               "count": row["n"], "total": row["total"]})
    grouped = list(qs.values("direction", "payee__code", "person__id", "person__name")
                   .annotate(n=Count("id"), total=Sum("amount"))
                   .order_by("direction", "payee__code", "person__name", "person__id"))
    names = dict(Payee.objects.filter(current=True, code__in={r["payee__code"] for r in grouped if r["payee__code"]})
                 .values_list("code", "name"))
    for row in grouped:
        if row["payee__code"]:
            key, name = row["payee__code"], names.get(row["payee__code"], row["payee__code"])
        elif row["person__id"]:
            key, name = f"person:{row['person__id']}", row["person__name"]
        else:
            key, name = "", "（未指定）"
        report.by_payee.append({"direction": row["direction"], "payee": key, "name": name, "count": row["n"],
                                "total": row["total"]})
    labels = dict(Entry.State.choices)
    for row in qs.values("direction", "state").annotate(n=Count("id"), total=Sum("amount")).order_by("direction", "state"):
        report.by_status.append({"direction": row["direction"], "state": row["state"],
                                 "label": str(labels.get(row["state"], row["state"])), "count": row["n"],
                                 "total": row["total"]})
    paid = qs.filter(run__isnull=False, pay_status=Entry.PayStatus.PAID).aggregate(n=Count("id"), total=Sum("amount"))
    with connection.cursor() as cursor:
        cursor.execute(_SQL_BANK, {"start": start, "end": end})
        files_count, files_total = cursor.fetchone()
    report.bank = {"records_count": paid["n"], "records_total": paid["total"] or ZERO,
                   "files_count": files_count, "files_total": Decimal(files_total)}
    return report


def report_for(period: str) -> Report:
    start, end, label = parse_period(period)
    return ledger_report(start=start, end=end, label=label)


# income in greens and blues, expenditure in reds and oranges: a type keeps its colour by its place
INCOME_COLOURS = ["#217a3c", "#2d6aa3", "#4f9a8c", "#6a8fc7", "#7fb069", "#3f5e8c", "#9cc3a0", "#1f4e5f"]
EXPENDITURE_COLOURS = ["#c8102e", "#d9822b", "#a4493d", "#e0a458", "#8c2f39", "#f08a5d", "#6b2737", "#b5651d"]


def chart_months(report: Report) -> tuple[dt.date, dt.date]:
    """The months the report's chart shows: the year of a yearly report; for a month, the 12 months
    ending with it (its trend)."""
    if len(report.label) == 4:
        return report.start, report.end
    first = report.start
    start = dt.date(first.year, 1, 1) if first.month == 12 else dt.date(first.year - 1, first.month + 1, 1)
    return start, report.end


def monthly_by_type(*, start: dt.date, end: dt.date) -> list[tuple[dt.date, str, str, str, Decimal]]:
    """(month, direction, type code, type name, Σ amount) of the records with a business date in
    [start, end], one row per month and type that has records, in the types' order; a reversal counts
    negative."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT date_trunc('month', e.occurred_on)::date AS m, e.direction, t.code, t.name, sum(e.amount)
            FROM finance_entry e JOIN finance_businesstype t ON t.id = e.type_id
            WHERE e.occurred_on BETWEEN %s AND %s
            GROUP BY 1, 2, 3, 4, t.sort ORDER BY 2, t.sort, 3, 1""", [start, end])
        return [(m, d, c, n, Decimal(total)) for m, d, c, n, total in cursor.fetchall()]


def report_chart(report: Report, *, labels: dict) -> dict:
    """The report page's chart (drawn by web/charts.js): per month, income and expenditure side by side,
    each a stack of its business types. ``labels``: translated words {"income", "expenditure", "yuan"}."""
    start, end = chart_months(report)
    months = []
    m = start
    while m <= end:
        months.append(m)
        m = dt.date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    rows = monthly_by_type(start=start, end=end)
    series: dict[tuple[str, str], dict] = {}
    for month, direction, code, name, total in rows:
        key = (direction, code)
        if key not in series:
            series[key] = {"name": name, "by_month": {}}
        series[key]["by_month"][month] = total
    datasets, used = [], {Direction.INCOME.value: 0, Direction.EXPENDITURE.value: 0}
    for direction in (Direction.INCOME.value, Direction.EXPENDITURE.value):
        colours = INCOME_COLOURS if direction == Direction.INCOME else EXPENDITURE_COLOURS
        for (d, _code), item in series.items():
            if d != direction:
                continue
            datasets.append({"type": "bar", "label": f"{labels[direction]}·{item['name']}", "stack": direction,
                             "color": colours[used[direction] % len(colours)],
                             "data": [float(item["by_month"].get(m, ZERO)) for m in months]})
            used[direction] += 1
    return {"labels": [f"{m:%Y-%m}" for m in months], "datasets": datasets, "axes": {"y": labels["yuan"]},
            "stacked": True, "money": True}


def report_rows(report: Report) -> list[list]:
    """The report as spreadsheet rows (one sheet): sections by type, payee, status, then the totals."""
    dirs = dict(Direction.choices)
    rows: list[list] = [["期间", report.label, "", "", ""], ["按业务类型", "", "", "", ""],
                        ["收支", "类型", "会计科目", "笔数", "金额"]]
    rows += [[str(dirs[r["direction"]]), r["name"], f"{r['subject_code']} {r['subject_name']}"
              + ("" if r["subject_confirmed"] else "（待财务确认）"), r["count"], r["total"]] for r in report.by_type]
    rows += [["按收款方/付款方", "", "", "", ""], ["收支", "编号", "户名/姓名", "笔数", "金额"]]
    rows += [[str(dirs[r["direction"]]), r["payee"] if not r["payee"].startswith("person:") else "人员", r["name"],
              r["count"], r["total"]] for r in report.by_payee]
    rows += [["按状态", "", "", "", ""], ["收支", "状态", "", "笔数", "金额"]]
    rows += [[str(dirs[r["direction"]]), r["label"], "", r["count"], r["total"]] for r in report.by_status]
    rows += [["合计", "", "", "", ""],
             ["收入", "", "", report.income_count, report.income_total],
             ["支出", "", "", report.expenditure_count, report.expenditure_total],
             ["收支差额", "", "", "", report.net],
             ["银行支付（记录）", "", "", report.bank["records_count"], report.bank["records_total"]],
             ["银行支付（报盘文件）", "", "", report.bank["files_count"], report.bank["files_total"]],
             ["核对", "一致" if report.reconciled else "不一致", "", "", ""]]
    return rows
