"""Writes of the 养老保障 类别 (categories) and 类别标准 (their monthly standards by effective month).

A category is data: its name, the conversion age per sex and the refund formula of a 退保清算
(refund = max(floor, round_half_up(paid_in × paid_in_rate − received × received_rate, 0.01)), see
``services.refund_amount``). A standard is the monthly amount of one phase (生活补助 before the
conversion age, item ``living``; 养老金 after, item ``basic``) from its effective month until the next
one of the same category and phase.

History is never rewritten: a standard already used — by a proposed or approved benefit (待遇核准) whose
start month it covers, a 到龄转换 in its months, or a BZ payroll run of a month it covers paying a
person of the category the phase's item — cannot be changed, and a new standard can only start after the last month
so used (``selectors.standard_used_months``). Each write locks the category row, validates, writes and
audits in one transaction; a change that changes nothing writes nothing."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction

from shebao.benefits.models import BenefitItem, PaymentStatus
from shebao.benefits.months import MonthError, add_months, format_month, parse_month
from shebao.common.audit import audit_record, snapshot
from shebao.common.money import MoneyError, quantize, to_decimal
from shebao.pension_security import selectors as sel
from shebao.pension_security.models import Category, CategoryStandard, Member, Phase
from shebao.pension_security.services import LIVING_ITEM, PENSION_ITEM, SCHEME, BzError

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
AGE_MIN, AGE_MAX = 16, 100
RATE_MAX = Decimal("1")  # a rate of the refund formula: a share of what was paid in / received
FIELDS = ["code", "name", "conversion_age_male", "conversion_age_female", "refund_paid_in_rate",
          "refund_received_rate", "refund_floor", "sort", "active"]
ITEM_OF_PHASE = {Phase.SUBSIDY: LIVING_ITEM, Phase.PENSION: PENSION_ITEM}


# --------------------------------------------------------------------------------------------------
# validation (each refusal names the field, in Chinese)


def _name(value) -> str:
    name = re.sub(r"\s+", " ", str(value or "")).strip()
    if not name:
        raise BzError("请填写类别名称")
    if len(name) > 50:
        raise BzError("类别名称不能超过 50 个字")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise BzError("类别名称含有不可见字符")
    return name


def _age(value, label: str) -> int:
    try:
        age = int(str(value).strip())
    except (TypeError, ValueError):
        raise BzError(f"{label}须为整数（{AGE_MIN}–{AGE_MAX} 岁）") from None
    if not AGE_MIN <= age <= AGE_MAX:
        raise BzError(f"{label}须在 {AGE_MIN} 至 {AGE_MAX} 岁之间（填的是 {age}）")
    return age


def _rate(value, label: str) -> Decimal:
    try:
        rate = to_decimal(value)
    except (MoneyError, ValueError, InvalidOperation) as exc:
        raise BzError(f"{label}：{exc}") from None
    if rate != rate.quantize(Decimal("0.0001")):
        raise BzError(f"{label} {rate} 最多四位小数")
    if not Decimal(0) <= rate <= RATE_MAX:
        raise BzError(f"{label}须在 0 至 1 之间（填的是 {rate}）")
    return rate.quantize(Decimal("0.0001"))


def _money(value, label: str, *, positive: bool = False) -> Decimal:
    try:
        amount = to_decimal(value)
    except (MoneyError, ValueError, InvalidOperation) as exc:
        raise BzError(f"{label}：{exc}") from None
    if amount != quantize(amount):
        raise BzError(f"{label} {amount} 最多两位小数")
    if amount < 0 or (positive and amount == 0):
        raise BzError(f"{label}须{'大于' if positive else '不小于'} 0")
    if amount >= Decimal("1000000"):
        raise BzError(f"{label} {amount} 过大")
    return quantize(amount)


def category_terms(*, name, conversion_age_male, conversion_age_female, refund_paid_in_rate, refund_received_rate,
                   refund_floor) -> dict:
    """The validated terms of a category (name, conversion ages, refund formula) or ``BzError``."""
    return {
        "name": _name(name),
        "conversion_age_male": _age(conversion_age_male, "男转换年龄"),
        "conversion_age_female": _age(conversion_age_female, "女转换年龄"),
        "refund_paid_in_rate": _rate(refund_paid_in_rate, "退保：缴费计入比例"),
        "refund_received_rate": _rate(refund_received_rate, "退保：已领扣除比例"),
        "refund_floor": _money(refund_floor, "退保：最低退还额"),
    }


def _lock(category: Category) -> Category:
    return Category.objects.select_for_update().get(pk=category.pk)


def _name_taken(name: str, *, exclude: int | None = None) -> bool:
    qs = Category.objects.filter(name=name)
    return (qs.exclude(pk=exclude) if exclude else qs).exists()


# --------------------------------------------------------------------------------------------------
# categories


def category_create(*, user, code: str, name, conversion_age_male, conversion_age_female, refund_paid_in_rate=1,
                    refund_received_rate=1, refund_floor=0, reason: str = "") -> Category:
    """A new category (active), audited. Its standards are added afterwards (``standard_add``); until
    then a proposal in it is refused with “请先维护类别标准”."""
    code = str(code or "").strip()
    if not CODE_PATTERN.match(code):
        raise BzError("类别代码须以小写字母开头，由小写字母、数字和下划线组成，不超过 20 个字符")
    terms = category_terms(name=name, conversion_age_male=conversion_age_male,
                           conversion_age_female=conversion_age_female, refund_paid_in_rate=refund_paid_in_rate,
                           refund_received_rate=refund_received_rate, refund_floor=refund_floor)
    try:
        with transaction.atomic():
            if Category.objects.filter(code=code).exists():
                raise BzError(f"类别代码 {code} 已存在")
            if _name_taken(terms["name"]):
                raise BzError(f"类别名称“{terms['name']}”已存在")
            sort = (Category.objects.order_by("-sort").values_list("sort", flat=True).first() or 0) + 1
            category = Category.objects.create(code=code, sort=sort, active=True, **terms)
            audit_record(user=user, action="bz_category_create", obj=category,
                         summary=f"新增养老保障类别“{category.name}”（{code}）", after=snapshot(category, FIELDS),
                         reason=(reason or "").strip())
    except IntegrityError:  # the same code or name inserted at the same moment
        raise BzError(f"类别代码 {code} 或名称“{terms['name']}”已存在") from None
    return category


def category_update(*, user, category: Category, reason: str, **terms) -> Category:
    """Change a category's name, conversion ages and refund formula (validated, under the row lock,
    audited with before/after and the reason). The new ages apply to 到龄转换 not yet done, the new
    formula to 退保清算 not yet done (a settlement keeps the formula it used); nothing changed writes
    nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise BzError("请填写变更原因")
    clean = category_terms(**terms)
    try:
        with transaction.atomic():
            current = _lock(category)
            if _name_taken(clean["name"], exclude=current.pk):
                raise BzError(f"类别名称“{clean['name']}”已存在")
            before = snapshot(current, FIELDS)
            for key, value in clean.items():
                setattr(current, key, value)
            after = snapshot(current, FIELDS)
            if before == after:
                return current
            current.save(update_fields=list(clean))
            changed = {k: after[k] for k in after if after[k] != before[k]}
            audit_record(user=user, action="bz_category_update", obj=current,
                         summary=f"修改养老保障类别“{current.name}”：{'、'.join(_LABELS.get(k, k) for k in changed)}",
                         before={k: before[k] for k in changed}, after=changed, reason=reason)
    except IntegrityError:
        raise BzError(f"类别名称“{clean['name']}”已存在") from None
    return current


_LABELS = {"name": "名称", "conversion_age_male": "男转换年龄", "conversion_age_female": "女转换年龄",
           "refund_paid_in_rate": "缴费计入比例", "refund_received_rate": "已领扣除比例",
           "refund_floor": "最低退还额", "active": "启用"}


def active_member_count(category: Category) -> int:
    """Members of the category not ended: not yet approved, or enrolled and not 终止."""
    return (Member.objects.filter(category=category)
            .exclude(enrollment__payment_status=PaymentStatus.TERMINATED).count())


def category_set_active(*, user, category: Category, active: bool, reason: str) -> Category:
    """停用 (disable) or 启用 a category. Disabling is refused while the category has a person not
    ended (``active_member_count``): a disabled category takes no new person, proposal or import."""
    reason = (reason or "").strip()
    if not reason:
        raise BzError("请填写停用或启用的原因")
    with transaction.atomic():
        current = _lock(category)
        if current.active == active:
            return current
        if not active:
            n = active_member_count(current)
            if n:
                raise BzError(f"类别“{current.name}”还有 {n} 名未终止的养老保障人员，不能停用"
                              "（请先为这些人员变更类别或办理终止）")
        Category.objects.filter(pk=current.pk).update(active=active)
        current.active = active
        audit_record(user=user, action="bz_category_enable" if active else "bz_category_disable", obj=current,
                     summary=f"{'启用' if active else '停用'}养老保障类别“{current.name}”",
                     before={"active": not active}, after={"active": active}, reason=reason)
    return current


# --------------------------------------------------------------------------------------------------
# standards


def _later_than_used(category: Category, phase: str, month) -> None:
    used = sel.standard_used_months(category=category, phase=phase)
    late = [m for m in used if m >= month]
    if late:
        last = max(used)
        raise BzError(f"{format_month(late[0])} 起已有按现行标准申报或核准的待遇、到龄转换或已计算的月度结算，"
                      f"不能从 {format_month(month)} 起改变标准；新标准须从 {format_month(add_months(last, 1))} "
                      "或以后生效")


def standard_add(*, user, category: Category, phase: str, from_month, amount, reason: str = "") -> CategoryStandard:
    """A new standard of a category and phase from ``from_month``, in effect until the next one. It may
    not start in or before a month already used under the standard then in effect (the months of
    ``selectors.standard_used_months``): a change of what was paid goes through 增资 or 补发, not here."""
    if phase not in Phase.values:
        raise BzError(f"未知的阶段 {phase}")
    try:
        month = parse_month(from_month)
    except (MonthError, ValueError) as exc:
        raise BzError(f"生效年月：{exc}") from None
    value = _money(amount, "月标准")
    with transaction.atomic():
        current = _lock(category)
        if not current.active:
            raise BzError(f"类别“{current.name}”已停用，不能新增标准")
        if CategoryStandard.objects.filter(category=current, phase=phase, from_month=month).exists():
            raise BzError(f"类别“{current.name}”已有 {format_month(month)} 起的{Phase(phase).label}标准，"
                          "不能重复新增（尚未使用的标准可以修改金额）")
        _later_than_used(current, phase, month)
        item = BenefitItem.objects.get(scheme__code=SCHEME, code=ITEM_OF_PHASE[phase])
        standard = CategoryStandard.objects.create(category=current, phase=phase, item=item, amount=value,
                                                   from_month=month, created_by=user)
        audit_record(user=user, action="bz_standard_add", obj=standard,
                     summary=f"养老保障类别“{current.name}”{Phase(phase).label}标准：{format_month(month)} 起月 {value}",
                     after=snapshot(standard, ["category", "phase", "item", "amount", "from_month"]),
                     reason=(reason or "").strip())
    return standard


def standard_change(*, user, standard: CategoryStandard, amount, reason: str) -> CategoryStandard:
    """Correct the amount of a standard not used yet (a typo before anyone is paid by it). A standard
    used by a benefit, a conversion or a run of its months is refused: add a new one from a later month."""
    reason = (reason or "").strip()
    if not reason:
        raise BzError("请填写修改原因")
    value = _money(amount, "月标准")
    with transaction.atomic():
        _lock(standard.category)
        current = CategoryStandard.objects.select_related("category").get(pk=standard.pk)
        used = sel.standard_usage(current)
        if used:
            raise BzError(f"该标准（{format_month(current.from_month)} 起）已被 {format_month(used[0])} "
                          "的待遇核准、到龄转换或月度结算使用，不能修改；请新增一条从以后月份生效的标准")
        if current.amount == value:
            return current
        before = current.amount
        CategoryStandard.objects.filter(pk=current.pk).update(amount=value)
        current.amount = value
        audit_record(user=user, action="bz_standard_change", obj=current,
                     summary=f"修改养老保障类别“{current.category.name}”{current.get_phase_display()}标准"
                             f"（{format_month(current.from_month)} 起）：{before} → {value}",
                     before={"amount": str(before)}, after={"amount": str(value)}, reason=reason)
    return current
