"""老农保 pages: 记账利率 and 计发系数 (交费领取计算表), each changing every account of the county."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.utils.translation import gettext

from shebao.benefits.months import format_month
from shebao.common import policy
from shebao.common.models import AuditEvent
from shebao.common.money import format_yuan
from shebao.common.once import AlreadySubmitted, write_once
from shebao.rural_pension.forms import CoefficientForm, RateForm
from shebao.rural_pension.models import AccountYear, BenefitCoefficient, CreditedRate, RuralAccount
from shebao.rural_pension.selectors import rates_list
from shebao.rural_pension.services import RuralError, benefit_coefficient_set, credited_rate_set
from shebao.rural_pension.views.base import (
    RATES_PERM,
    RATES_SET_RULE,
    _confirmed,
    _crumbs,
    _may,
    _pct,
    viewer_required,
)

# 记账利率


def _year_figures(year: int) -> dict:
    agg = AccountYear.objects.filter(year=year).aggregate(n=Count("*"), interest=Sum("interest"),
                                                          closing=Sum("closing"))
    return {"accounts": agg["n"], "interest": agg["interest"] or Decimal("0.00"),
            "closing": agg["closing"] or Decimal("0.00")}


@viewer_required
def rates(request):
    can_set = _may(request.user, RATES_SET_RULE)
    form = RateForm(request.POST or None) if can_set else None
    ctx = {"rates": [(r, _pct(r.rate)) for r in rates_list().select_related("updated_by")], "form": form,
           "can_set": can_set, "breadcrumbs": _crumbs((gettext("记账利率"), ""))}
    if request.method == "POST":
        if not can_set:
            raise PermissionDenied(gettext("您没有维护记账利率的权限") if not request.user.has_perm(RATES_PERM)
                                   else gettext(policy.denial(request.user, RATES_SET_RULE)))
        if form.is_valid():
            year, rate, reason = (form.cleaned_data[k] for k in ("year", "rate", "reason"))
            existing = CreditedRate.objects.filter(year=year).first()
            if existing is not None and existing.rate == rate:
                form.add_error("rate", gettext("%(year)s 年度记账利率已是 %(rate)s，无需修改") % {"year": year, "rate": rate})
            elif _confirmed(request):
                before = _year_figures(year)
                try:
                    write_once(request, "nb.rates", lambda: credited_rate_set(
                        user=request.user, year=year, rate=rate, reason=reason))
                except AlreadySubmitted as exc:
                    messages.warning(request, str(exc))
                    return redirect("rural:rates")
                except RuralError as exc:
                    form.add_error(None, str(exc))
                else:
                    after = _year_figures(year)
                    total = AccountYear.objects.aggregate(n=Count("account_id", distinct=True), rows=Count("*"))
                    done = (gettext("已修改 {year} 年度记账利率 {rate}（{pct}），原为 {old}。") if existing
                            else gettext("已设置 {year} 年度记账利率 {rate}（{pct}）。"))
                    messages.success(request, format_html(
                        done + gettext("已重算全部年账户明细：{n} 个账户、{rows} 个账户年度；{year} 年度 {accounts} 个账户，"
                                       "利息合计 {interest_before} → {interest_after} 元，"
                                       "期末合计 {closing_before} → {closing_after} 元。"),
                        year=year, rate=rate, pct=_pct(rate), old=existing.rate if existing else "",
                        n=f"{total['n']:,}", rows=f"{total['rows']:,}", accounts=f"{after['accounts']:,}",
                        interest_before=format_yuan(before["interest"]), interest_after=format_yuan(after["interest"]),
                        closing_before=format_yuan(before["closing"]), closing_after=format_yuan(after["closing"])))
                    return redirect("rural:rates")
            else:
                ctx.update(confirm=True, year=year, rate=rate, rate_pct=_pct(rate), reason=reason, existing=existing,
                           existing_pct=_pct(existing.rate) if existing else "", figures=_year_figures(year),
                           account_count=RuralAccount.objects.count())
    return render(request, "rural_pension/rates.html", ctx)


# --------------------------------------------------------------------------------------------------
# 计发系数 (交费领取计算表)


def _coefficient_rows() -> list[dict]:
    """The table, each row with who set it and when (the model keeps no such fields: the audit log does)."""
    rows = list(BenefitCoefficient.objects.order_by("from_month"))
    last = {}
    for event in (AuditEvent.objects.filter(object_type="rural_pension.benefitcoefficient",
                                            object_id__in=[str(r.pk) for r in rows]).order_by("id")):
        last[event.object_id] = event
    out = []
    for i, r in enumerate(rows):
        upto = rows[i + 1].from_month if i + 1 < len(rows) else None
        event = last.get(str(r.pk))
        out.append({"row": r, "until": (upto - dt.timedelta(days=1)).replace(day=1) if upto else None,
                    "by": event.username if event else "", "at": event.occurred_at if event else None})
    return out


@viewer_required
def coefficients(request):
    can_set = _may(request.user, RATES_SET_RULE)
    form = CoefficientForm(request.POST or None) if can_set else None
    ctx = {"rows": _coefficient_rows(), "form": form, "can_set": can_set,
           "breadcrumbs": _crumbs((gettext("计发系数"), ""))}
    if request.method == "POST":
        if not can_set:
            raise PermissionDenied(gettext("您没有维护计发系数的权限") if not request.user.has_perm(RATES_PERM)
                                   else gettext(policy.denial(request.user, RATES_SET_RULE)))
        if form.is_valid():
            month, value, reason = (form.cleaned_data[k] for k in ("from_month", "coefficient", "reason"))
            existing = BenefitCoefficient.objects.filter(from_month=month).first()
            if existing is not None and existing.coefficient == value:
                form.add_error("coefficient", gettext("%(month)s 起的计发系数已是 %(value)s，无需修改") % {
                    "month": format_month(month), "value": value})
            elif _confirmed(request):
                try:
                    write_once(request, "nb.coefficients", lambda: benefit_coefficient_set(
                        user=request.user, from_month=month, coefficient=value, reason=reason))
                except AlreadySubmitted as exc:
                    messages.warning(request, str(exc))
                    return redirect("rural:coefficients")
                except RuralError as exc:
                    form.add_error(None, str(exc))
                else:
                    done = (gettext("已修改 {month} 起的计发系数 {value}（原为 {old}）。") if existing
                            else gettext("已设置 {month} 起的计发系数 {value}。"))
                    messages.success(request, format_html(
                        done + gettext("此后开始领取的人员按新系数计发；已开始领取的月养老金不变。"),
                        month=format_month(month), value=value, old=existing.coefficient if existing else ""))
                    return redirect("rural:coefficients")
            else:
                later = BenefitCoefficient.objects.filter(from_month__gt=month).order_by("from_month").first()
                started = RuralAccount.objects.filter(benefit_start_month__gte=month)
                if later is not None:
                    started = started.filter(benefit_start_month__lt=later.from_month)
                ctx.update(confirm=True, month=month, value=value, reason=reason, existing=existing, later=later,
                           in_force=BenefitCoefficient.objects.filter(from_month__lte=month).order_by(
                               "-from_month").first(),
                           started=started.count())
    return render(request, "rural_pension/coefficients.html", ctx)


# --------------------------------------------------------------------------------------------------
