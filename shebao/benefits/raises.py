"""批量调待 (batch raise), SPEC "Batch raise".

A rule file is JSON with these keys:

    name                 text, required: the rule's name (unique per scheme, item and effective month)
    scheme               scheme code, required: "ZG", "NB", "BZ" or "TB"
    item                 item code or name, required: the item raised, e.g. "basic" / "基本养老金"
    effective_month      "YYYY-MM", required: E, the first month the raise is due
    fixed                yuan, default "0": 定额, the same for everyone
    per_service_year     yuan, default "0": 挂钩, per full year of service (floor of 工龄)
    percent              number, default "0": a percentage of the current basic amount
    percent_base_item    item code or name, default: the scheme's basic item (基本养老金)
    age_reference_date   "YYYY-MM-DD", default: the first day of E: the date ages are taken at
    age_tilts            [{"min_age": 70, "amount": "20.00"}, …]: 倾斜 — the highest bracket reached
                         counts, brackets are not summed

monthly raise = quantize(fixed + per_service_year × floor(service years)
                         + base amount × percent / 100 + tilt)          (ROUND_HALF_UP, to the cent)

Applied in month A ≥ E: the item's amount is closed at A − 1 and the new amount (current + raise)
opens at A; a 补发 of raise × the months in [E, A) the person was entitled to is created: months
from the start month if the person started after E, without months suspended for a reason that
forfeits payment, and none after the death (end) month. Persons who ended before A get only the
arrears. Set-based: the whole population is loaded in a few queries and written with bulk_create.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q

from shebao.benefits.models import (
    Adjustment,
    BenefitAmount,
    BenefitItem,
    Enrollment,
    PaymentStatus,
    RaiseRule,
    Scheme,
    Suspension,
)
from shebao.benefits.months import MonthError, add_months, format_month, month_range, parse_month
from shebao.benefits.services import BenefitError, _item, _money, scheme_get
from shebao.common.audit import audit_record
from shebao.common.money import ZERO, quantize, to_decimal

RULE_KEYS = {"name", "scheme", "item", "effective_month", "fixed", "per_service_year", "percent",
             "percent_base_item", "age_reference_date", "age_tilts"}


@dataclass(frozen=True)
class RaiseTerms:
    name: str
    scheme: Scheme
    item: BenefitItem
    effective_month: dt.date
    fixed: Decimal
    per_service_year: Decimal
    percent: Decimal
    percent_base_item: BenefitItem
    age_reference_date: dt.date
    age_tilts: tuple[tuple[int, Decimal], ...]  # (min_age, amount), ascending

    def fingerprint(self) -> str:
        canonical = json.dumps({
            "scheme": self.scheme.code, "item": self.item.code, "effective_month": format_month(self.effective_month),
            "fixed": str(self.fixed), "per_service_year": str(self.per_service_year),
            "percent": str(self.percent.normalize()), "percent_base_item": self.percent_base_item.code,
            "age_reference_date": self.age_reference_date.isoformat(),
            "age_tilts": [[a, str(m)] for a, m in self.age_tilts],
        }, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def tilt(self, age: int) -> Decimal:
        reached = [amount for min_age, amount in self.age_tilts if age >= min_age]
        return reached[-1] if reached else ZERO

    def monthly_raise(self, *, service_years: Decimal, base_amount: Decimal, age: int) -> Decimal:
        years = math.floor(service_years)
        return quantize(self.fixed + self.per_service_year * years + base_amount * self.percent / 100
                        + self.tilt(age))


def raise_terms_parse(data: dict) -> RaiseTerms:
    """Validate a rule (the parsed JSON); every problem is a BenefitError in Chinese."""
    if not isinstance(data, dict):
        raise BenefitError("调待规则应为 JSON 对象")
    unknown = set(data) - RULE_KEYS
    if unknown:
        raise BenefitError(f"调待规则含未知字段：{', '.join(sorted(unknown))}")
    for key in ("name", "scheme", "item", "effective_month"):
        if not str(data.get(key) or "").strip():
            raise BenefitError(f"调待规则缺少 {key}")
    scheme = scheme_get(str(data["scheme"]))
    item = _item(scheme.pk, str(data["item"]))
    try:
        effective = parse_month(data["effective_month"])
    except MonthError as exc:
        raise BenefitError(str(exc)) from None
    fixed = _money(data.get("fixed", "0"), "定额")
    per_year = _money(data.get("per_service_year", "0"), "每满一年工龄金额")
    try:
        percent = to_decimal(data.get("percent", "0"))
    except ValueError as exc:
        raise BenefitError(f"比例：{exc}") from None
    if percent < 0 or percent > 100:
        raise BenefitError("比例应在 0–100 之间")
    if data.get("percent_base_item"):
        base_item = _item(scheme.pk, str(data["percent_base_item"]))
    else:
        base_item = BenefitItem.objects.filter(scheme=scheme, is_basic=True).first() or item
    ref = data.get("age_reference_date")
    try:
        ref_date = dt.date.fromisoformat(ref) if ref else effective
    except ValueError:
        raise BenefitError(f"年龄计算日 {ref} 格式不正确，应为 YYYY-MM-DD") from None
    tilts = []
    for entry in data.get("age_tilts") or []:
        try:
            tilts.append((int(entry["min_age"]), _money(entry["amount"], "倾斜金额")))
        except (KeyError, TypeError, ValueError):
            raise BenefitError(f"年龄倾斜 {entry!r} 应为 {{\"min_age\": 70, \"amount\": \"20.00\"}}") from None
    if len({a for a, _ in tilts}) != len(tilts):
        raise BenefitError("年龄倾斜的年龄档重复")
    return RaiseTerms(
        name=str(data["name"]).strip(), scheme=scheme, item=item, effective_month=effective, fixed=fixed,
        per_service_year=per_year, percent=percent, percent_base_item=base_item, age_reference_date=ref_date,
        age_tilts=tuple(sorted(tilts)),
    )


@dataclass
class RaiseRow:
    enrollment_id: int
    person_id: int
    id_number: str
    name: str
    current: Decimal
    raise_amount: Decimal
    new_amount: Decimal | None  # None: ended before the apply month (arrears only)
    arrears_months: int
    arrears: Decimal
    open_range_id: int | None = None
    note: str = ""


@dataclass
class RaisePreview:
    terms: RaiseTerms
    apply_month: dt.date
    rows: list[RaiseRow] = field(default_factory=list)
    skipped: list[RaiseRow] = field(default_factory=list)

    @property
    def monthly_total(self) -> Decimal:
        return sum((r.raise_amount for r in self.rows if r.new_amount is not None), ZERO)

    @property
    def arrears_total(self) -> Decimal:
        return sum((r.arrears for r in self.rows), ZERO)

    def summary(self) -> dict:
        return {
            "rule": self.terms.name, "scheme": self.terms.scheme.code, "item": self.terms.item.code,
            "effective_month": format_month(self.terms.effective_month),
            "apply_month": format_month(self.apply_month), "persons": len(self.rows),
            "skipped": len(self.skipped), "monthly_total": str(self.monthly_total),
            "arrears_total": str(self.arrears_total),
        }


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def raise_preview(*, terms: RaiseTerms, apply_month) -> RaisePreview:
    """Who gets what: per person the current amount, the raise, the new amount, and the arrears months
    and amount. Writes nothing. A few queries for the whole population."""
    apply = parse_month(apply_month)
    E = terms.effective_month
    if apply < E:
        raise BenefitError(f"执行年月 {format_month(apply)} 不能早于生效年月 {format_month(E)}")
    preview = RaisePreview(terms=terms, apply_month=apply)
    enrollments = list(
        Enrollment.objects.filter(scheme=terms.scheme).filter(Q(end_month__isnull=True) | Q(end_month__gte=E))
        .exclude(payment_status=PaymentStatus.TERMINATED, end_month__isnull=True)
        .values("id", "person_id", "person__id_number", "person__name", "person__birth_date",
                "person__death_date", "start_month", "end_month", "service_years", "payment_status")
        .order_by("id")
    )
    ids = [e["id"] for e in enrollments]
    item_ids = {terms.item.pk, terms.percent_base_item.pk}
    ranges: dict[tuple[int, int], list[tuple]] = defaultdict(list)
    for r in (BenefitAmount.objects.filter(enrollment_id__in=ids, item_id__in=item_ids)
              .values_list("enrollment_id", "item_id", "id", "from_month", "to_month", "amount")):
        ranges[(r[0], r[1])].append(r[2:])
    forfeited: dict[int, list[tuple]] = defaultdict(list)
    for s in (Suspension.objects.filter(enrollment_id__in=ids, pays_on_resume=False, from_month__lt=apply)
              .values_list("enrollment_id", "from_month", "to_month")):
        forfeited[s[0]].append((s[1], s[2]))

    def in_effect(eid: int, item_id: int, month: dt.date):
        for rid, f, t, amount in ranges.get((eid, item_id), ()):
            if f <= month and (t is None or t >= month):
                return rid, f, t, amount
        return None

    for e in enrollments:
        eid = e["id"]
        end = e["end_month"]
        death = e["person__death_date"]
        if death is not None:
            death_month = death.replace(day=1)
            end = min(end, death_month) if end else death_month
        ended_before_apply = end is not None and end < apply
        base_month = end if ended_before_apply else max(apply, e["start_month"])
        current = in_effect(eid, terms.item.pk, base_month)
        row = RaiseRow(enrollment_id=eid, person_id=e["person_id"], id_number=e["person__id_number"],
                       name=e["person__name"], current=ZERO, raise_amount=ZERO, new_amount=None,
                       arrears_months=0, arrears=ZERO)
        if current is None:
            row.note = f"{format_month(base_month)} 无{terms.item.name}标准"
            preview.skipped.append(row)
            continue
        rid, f, t, amount = current
        row.current = amount
        if not ended_before_apply and (f >= apply or t is not None):
            row.note = f"{terms.item.name}已有 {format_month(f)} 起的标准，请先处理"
            preview.skipped.append(row)
            continue
        base = in_effect(eid, terms.percent_base_item.pk, base_month)
        base_amount = base[3] if base else ZERO
        row.raise_amount = terms.monthly_raise(service_years=e["service_years"], base_amount=base_amount,
                                               age=_age(e["person__birth_date"], terms.age_reference_date))
        if not ended_before_apply:
            row.new_amount = amount + row.raise_amount
            row.open_range_id = rid
        first = max(E, e["start_month"])
        last = add_months(apply, -1)
        if end is not None:
            last = min(last, end)
        months = [m for m in month_range(first, last)
                  if not any(sf <= m and (st is None or st >= m) for sf, st in forfeited.get(eid, ()))]
        row.arrears_months = len(months)
        row.arrears = row.raise_amount * len(months)
        if row.raise_amount == 0:
            row.note = "调整额为 0"
            preview.skipped.append(row)
            continue
        preview.rows.append(row)
    return preview


def raise_apply(*, terms: RaiseTerms, apply_month, user) -> tuple[RaiseRule, RaisePreview]:
    """Apply a raise: close the item at A − 1 and open current + raise from A for each person; create
    the arrears (补发) adjustments. The same rule (name, or identical terms) twice is refused."""
    apply = parse_month(apply_month)
    with transaction.atomic():
        # serialise raises and amount changes of the scheme's enrollments: lock them in pk order
        list(Enrollment.objects.select_for_update().filter(scheme=terms.scheme).order_by("pk")
             .values_list("pk", flat=True))
        if RaiseRule.objects.filter(Q(fingerprint=terms.fingerprint()) | Q(
                scheme=terms.scheme, item=terms.item, effective_month=terms.effective_month, name=terms.name)).exists():
            raise BenefitError(f"调待规则“{terms.name}”（{format_month(terms.effective_month)} 起）已执行过，不能重复执行")
        preview = raise_preview(terms=terms, apply_month=apply)
        if not preview.rows:
            raise BenefitError("没有符合条件的人员，未执行")
        try:
            with transaction.atomic():
                rule = RaiseRule.objects.create(
                    scheme=terms.scheme, item=terms.item, name=terms.name, effective_month=terms.effective_month,
                    apply_month=apply, fixed=terms.fixed, per_service_year=terms.per_service_year,
                    percent=terms.percent, percent_base_item=terms.percent_base_item,
                    age_reference_date=terms.age_reference_date,
                    age_tilts=[{"min_age": a, "amount": str(m)} for a, m in terms.age_tilts],
                    fingerprint=terms.fingerprint(), person_count=len(preview.rows),
                    monthly_total=preview.monthly_total, arrears_total=preview.arrears_total, applied_by=user,
                )
        except IntegrityError:
            raise BenefitError(f"调待规则“{terms.name}”已执行过，不能重复执行") from None
        continuing = [r for r in preview.rows if r.new_amount is not None]
        BenefitAmount.objects.filter(pk__in=[r.open_range_id for r in continuing], to_month__isnull=True).update(
            to_month=add_months(apply, -1))
        BenefitAmount.objects.bulk_create([
            BenefitAmount(enrollment_id=r.enrollment_id, item=terms.item, amount=r.new_amount, from_month=apply,
                          raise_rule=rule, note=terms.name, created_by=user)
            for r in continuing
        ], batch_size=2000)
        last = add_months(apply, -1)
        Adjustment.objects.bulk_create([
            Adjustment(enrollment_id=r.enrollment_id, kind=Adjustment.Kind.ARREARS, total=r.arrears,
                       remaining=r.arrears, reason=f"{terms.name} 补发 {r.arrears_months} 个月 × {r.raise_amount}",
                       source=f"批量调待：{terms.name}", source_ref=f"raise:{rule.pk}", raise_rule=rule,
                       period_from=terms.effective_month, period_to=last, detail={"raise": str(r.raise_amount), "months": r.arrears_months},
                       created_by=user)
            for r in preview.rows if r.arrears > 0
        ], batch_size=2000)
        audit_record(
            user=user, action="raise_apply", obj=rule,
            summary=f"批量调待“{terms.name}”：{len(preview.rows)} 人，月增 {preview.monthly_total}，"
                    f"补发 {preview.arrears_total}",
            after={**preview.summary(), "rows": [
                [r.enrollment_id, str(r.current), str(r.raise_amount), r.arrears_months, str(r.arrears)]
                for r in preview.rows]},
        )
    return rule, preview
