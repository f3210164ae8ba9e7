"""What the 老农保 pages share: the permissions and rules (who may do what: the package's docstring),
the two-step helpers, breadcrumbs, links and the yearly table for templates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext

from shebao.common import policy
from shebao.common.once import AlreadySubmitted
from shebao.rural_pension.models import RuralAccount, RuralDocument
from shebao.web.guards import page

VIEW_PERM = "rural_pension.view_ruralaccount"
EDIT_PERM = "rural_pension.change_ruralaccount"
REFUND_PERM = "rural_pension.add_ruraldocument"
ROLLBACK_PERM = "rural_pension.change_ruraldocument"
RATES_PERM = "rural_pension.change_creditedrate"
IMPORT_PERM = "accounts.it_ops"
WRITE_PERMS = (EDIT_PERM, REFUND_PERM, ROLLBACK_PERM, RATES_PERM)

IMPORT_JOB = "rural_import"
Doc = RuralDocument


# --------------------------------------------------------------------------------------------------
# access


SCHEME = "NB"
VIEW_RULE = policy.rule(VIEW_PERM, *WRITE_PERMS, scheme=SCHEME, note="老农保查询（NB），本人管辖镇街道")
EDIT_RULE = policy.rule(EDIT_PERM, scheme=SCHEME, note="老农保信息修改（NB）")
REFUND_RULE = policy.rule(REFUND_PERM, scheme=SCHEME, note="退款、开始领取、代领人、死亡结算（NB）")
ROLLBACK_RULE = policy.rule(ROLLBACK_PERM, scheme=SCHEME, note="退款回退（NB）")
# a rate or a coefficient changes every account of the county
RATES_SET_RULE = policy.rule(RATES_PERM, scheme=SCHEME, county=True, note="记账利率/计发系数（复核员、全市范围）")
IMPORT_RULE = policy.rule(IMPORT_PERM, scheme=SCHEME, county=True, note="原系统数据导入（信息科、全市范围）")


def can_view(user) -> bool:
    return policy.allows(user, VIEW_RULE)


def _may(user, rule: policy.Rule) -> bool:
    return policy.allows(user, rule)


viewer_required = page(VIEW_RULE)
editor_required = page(EDIT_RULE)
refund_required = page(REFUND_RULE)
rollback_required = page(ROLLBACK_RULE)
it_required = page(IMPORT_RULE)


def _confirmed(request) -> bool:
    return request.method == "POST" and request.POST.get("confirm") == "1"


def _crumbs(*items) -> list[tuple[str, str]]:
    return [(gettext("老农保管理支付"), reverse("rural:account_list")), *items]


def _account_crumbs(account: RuralAccount, *items) -> list[tuple[str, str]]:
    return _crumbs((gettext("%(name)s 的账户") % {"name": account.person.name}, reverse("rural:account_detail", args=[account.pk])), *items)


def _doc_link(doc: RuralDocument) -> str:
    return format_html('<a href="{}">{}</a>', reverse("rural:document_detail", args=[doc.number]),
                       gettext("查看结算单 %(number)s") % {"number": doc.number})


def _account_link(account: RuralAccount) -> str:
    return format_html('<a href="{}">{}</a>', reverse("rural:account_detail", args=[account.pk]),
                       gettext("打开 %(name)s 的账户") % {"name": account.person.name})


def _pay_note(doc: RuralDocument) -> str:
    """The pay method, and the one-off run a bank payment made."""
    if doc.payroll_run_id:
        return gettext("%(method)s，已生成零星发放批次 %(run)s，待审核报盘") % {
            "method": doc.get_pay_method_display(), "run": doc.payroll_run_id}
    return doc.get_pay_method_display()


def _year_month(day: dt.date) -> str:
    return gettext("%(year)s年%(month)02d月") % {"year": day.year, "month": day.month}


def _pct(rate) -> str:
    return f"{Decimal(rate) * 100:.2f}%"


def _year_rows(rows) -> list[dict]:
    """The yearly table for templates, from ``YearRow``s or from a document's stored dicts."""
    out = []
    for r in rows:
        if isinstance(r, dict):
            d = {k: Decimal(r[k]) for k in ("opening", "personal", "collective", "other", "payouts", "interest",
                                             "closing")}
            d.update(year=r["year"], months=r.get("months", 12), rate=Decimal(r["rate"]))
        else:
            d = {"year": r.year, "months": r.months, "opening": r.opening, "personal": r.credits["personal"],
                 "collective": r.credits["collective"], "other": r.credits["other"], "payouts": r.payouts,
                 "rate": r.rate, "interest": r.interest, "closing": r.closing}
        d["rate_pct"] = _pct(d["rate"])
        d["partial"] = d["months"] != 12
        out.append(d)
    return out


def _year_totals(rows: list[dict]) -> dict:
    return {k: sum((r[k] for r in rows), Decimal("0.00")) for k in ("personal", "collective", "other", "payouts",
                                                                     "interest")}


def _already(request, exc: AlreadySubmitted, existing: RuralDocument | None, account: RuralAccount):
    """A second submit of a settle form: say so, and show what the first one did."""
    if existing is not None:
        messages.warning(request, format_html(gettext("{error}。{link}"), error=str(exc), link=_doc_link(existing)))
        return redirect("rural:document_detail", number=existing.number)
    messages.warning(request, str(exc))
    return redirect("rural:account_detail", pk=account.pk)


def _month_start(today: dt.date) -> dt.datetime:
    return dt.datetime.combine(today.replace(day=1), dt.time.min, tzinfo=timezone.get_current_timezone())

