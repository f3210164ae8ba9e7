"""养老保障 类别与标准 pages under /bz/categories/: the list, one category with its standards by month,
and the forms to add or edit a category, disable/enable it, add a standard or correct an unused one.
Thin: parse, call one service of ``categories.py``, render. Reading is ``VIEW_RULE``; every write is
``CATEGORY_RULE`` (维护养老保障类别与标准, 全市范围) and carries a one-time token."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import Count, OuterRef, Q, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from shebao.benefits.forms import MonthField
from shebao.benefits.models import PaymentStatus
from shebao.benefits.months import MonthError, format_month, month_of
from shebao.common import policy
from shebao.common.fields import DecimalField
from shebao.common.once import AlreadySubmitted, write_once
from shebao.pension_security import selectors as sel
from shebao.pension_security.categories import (
    AGE_MAX,
    AGE_MIN,
    active_member_count,
    category_create,
    category_set_active,
    category_update,
    standard_add,
    standard_change,
)
from shebao.pension_security.models import Category, CategoryStandard, Phase
from shebao.pension_security.permissions import CATEGORY_RULE, VIEW_RULE
from shebao.pension_security.services import BzError
from shebao.web.guards import page
from shebao.web.tables import ChoiceFilter, Column, Table, render_table, render_tables

ERRORS = (BzError, MonthError)


def _crumbs(*items):
    return [(str(_("养老保障人员管理支付")), ""),
            (str(_("类别与标准")), reverse("pension_security:categories"))] + list(items)


# --------------------------------------------------------------------------------------------------
# forms (shapes only: the services validate)


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("类别名称"), max_length=50)
    conversion_age_male = forms.IntegerField(label=_("男转换年龄"), min_value=AGE_MIN, max_value=AGE_MAX, initial=60)
    conversion_age_female = forms.IntegerField(label=_("女转换年龄"), min_value=AGE_MIN, max_value=AGE_MAX,
                                               initial=55)
    refund_paid_in_rate = DecimalField(label=_("退保：缴费计入比例"), max_digits=6, decimal_places=4, min_value=0,
                                       max_value=1, initial="1", help_text=_("退还金额 = 缴费合计 × 此比例 − …（0–1）"))
    refund_received_rate = DecimalField(label=_("退保：已领扣除比例"), max_digits=6, decimal_places=4, min_value=0,
                                        max_value=1, initial="1", help_text=_("… − 已领待遇 × 此比例（0–1）"))
    refund_floor = DecimalField(label=_("退保：最低退还额"), max_digits=14, decimal_places=2, min_value=0,
                                initial="0.00", help_text=_("计算结果低于此数时按此数退还（元）"))


class CategoryAddForm(CategoryForm):
    code = forms.CharField(label=_("类别代码"), max_length=20, help_text=_("小写字母开头，字母、数字、下划线"))
    reason = forms.CharField(label=_("说明"), max_length=300, required=False)
    field_order = ["code", "name"]


class CategoryEditForm(CategoryForm):
    reason = forms.CharField(label=_("变更原因"), max_length=300)


class ActiveForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=300)


class StandardAddForm(forms.Form):
    phase = forms.ChoiceField(label=_("阶段"), choices=Phase.choices)
    from_month = MonthField(label=_("生效年月"))
    amount = DecimalField(label=_("月标准（元）"), max_digits=14, decimal_places=2, min_value=0)
    reason = forms.CharField(label=_("说明"), max_length=300, required=False)


class StandardEditForm(forms.Form):
    amount = DecimalField(label=_("月标准（元）"), max_digits=14, decimal_places=2, min_value=0)
    reason = forms.CharField(label=_("修改原因"), max_length=300)


# --------------------------------------------------------------------------------------------------
# tables


def _standard_now(phase: str):
    month = month_of(timezone.localdate())
    return Subquery(CategoryStandard.objects.filter(category=OuterRef("pk"), phase=phase, from_month__lte=month)
                    .order_by("-from_month").values("amount")[:1])


def categories_queryset():
    not_ended = ~Q(members__enrollment__payment_status=PaymentStatus.TERMINATED)
    return Category.objects.annotate(persons=Count("members", filter=not_ended, distinct=True),
                                     subsidy_now=_standard_now(Phase.SUBSIDY),
                                     pension_now=_standard_now(Phase.PENSION))


class CategoryTable(Table):
    columns = [
        Column("code", _("代码"), sortable=True),
        Column("name", _("类别名称"), sortable=True,
               link=lambda row: reverse("pension_security:category", args=[row["id"]])),
        Column("conversion_age_male", _("男转换年龄"), kind="num", sortable=True),
        Column("conversion_age_female", _("女转换年龄"), kind="num", sortable=True),
        Column("subsidy_now", _("现行生活补助"), kind="money", sortable=True),
        Column("pension_now", _("现行养老金"), kind="money", sortable=True),
        Column("refund_paid_in_rate", _("缴费计入比例"), sortable=True),
        Column("refund_received_rate", _("已领扣除比例"), sortable=True),
        Column("refund_floor", _("最低退还额"), kind="money", sortable=True),
        Column("persons", _("未终止人数"), kind="num", sortable=True),
        Column("active", _("启用"), kind="bool", sortable=True),
    ]
    filters = [ChoiceFilter("active", _("启用"), field="active", choices=[("True", _("是")), ("False", _("否"))])]
    extra_fields = ("id",)
    default_sort = "code"
    export_name = _("养老保障类别")
    dom_id = "bz-categories"


class StandardTable(Table):
    columns = [
        Column("phase", _("阶段"), kind="choice", choices=Phase.choices, sortable=True),
        Column("from_month", _("生效年月"), kind="month", sortable=True),
        Column("amount", _("月标准"), kind="money", sortable=True),
        Column("item__name", _("待遇项目")),
        Column("status", _("使用情况"), field="id", export=True),
        Column("created_by__username", _("登记人")),
        Column("created_at", _("登记时间"), kind="datetime", sortable=True),
    ]
    filters = [ChoiceFilter("phase", _("阶段"), field="phase", choices=Phase.choices)]
    default_sort = "from_month"
    export_name = _("养老保障类别标准")
    prefix = "s_"
    dom_id = "bz-standards"

    def __init__(self, request, queryset, *, history: list[dict], can_manage: bool, **kw):
        super().__init__(request, queryset, **kw)
        self.history = {h["standard"].pk: h for h in history}
        self.can_manage = can_manage

    def _status(self, pk) -> str:
        h = self.history.get(pk)
        if h is None:
            return ""
        until = gettext("至 %(m)s") % {"m": format_month(h["to_month"])} if h["to_month"] else gettext("至今")
        if h["used"]:
            return gettext("%(until)s；已使用至 %(m)s，不能修改") % {"until": until, "m": format_month(h["used_until"])}
        return gettext("%(until)s；尚未使用") % {"until": until}

    def cell_status(self, value, row):
        text = self._status(value)
        h = self.history.get(value)
        if h and not h["used"] and self.can_manage:
            return format_html('{} <a href="{}">{}</a>', text,
                               reverse("pension_security:standard_edit", args=[value]), gettext("修改金额"))
        return text

    def xlsx_status(self, value, row):
        return self._status(value)


# --------------------------------------------------------------------------------------------------
# pages


@page(VIEW_RULE)
def categories(request):
    table = CategoryTable(request, categories_queryset())
    return render_table(request, table, "pension_security/categories.html", {
        "can_manage": policy.allows(request.user, CATEGORY_RULE), "breadcrumbs": _crumbs(),
    })


@page(VIEW_RULE)
def category(request, pk: int):
    obj = get_object_or_404(Category, pk=pk)
    can_manage = policy.allows(request.user, CATEGORY_RULE)
    history = sel.standards_history(obj)
    table = StandardTable(request, CategoryStandard.objects.filter(category=obj).select_related("item", "created_by"),
                          history=history, can_manage=can_manage)
    return render_tables(request, {"table": table}, "pension_security/category.html", {
        "category": obj, "can_manage": can_manage, "persons": active_member_count(obj),
        "next_free": {ph.label: sel.next_free_month(category=obj, phase=ph) for ph in Phase},
        "active_form": ActiveForm(), "breadcrumbs": _crumbs((obj.name, "")),
    })


def _form_page(request, form, *, title, submit, crumbs, cancel, intro=""):
    return render(request, "pension_security/category_form.html", {
        "form": form, "title": title, "submit": submit, "cancel": cancel, "intro": intro, "breadcrumbs": crumbs,
    })


@page(CATEGORY_RULE)
def category_add(request):
    form = CategoryAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            obj = write_once(request, "bz.category_add", lambda: category_create(user=request.user, **form.cleaned_data))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("pension_security:categories")
        except ERRORS as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("已新增类别“%(name)s”，请为它新增生活补助和养老金标准") % {"name": obj.name})
            return redirect("pension_security:category", pk=obj.pk)
    return _form_page(request, form, title=gettext("新增养老保障类别"), submit=gettext("新增"),
                      crumbs=_crumbs((gettext("新增类别"), "")), cancel=reverse("pension_security:categories"))


@page(CATEGORY_RULE)
def category_edit(request, pk: int):
    obj = get_object_or_404(Category, pk=pk)
    initial = {k: getattr(obj, k) for k in ("name", "conversion_age_male", "conversion_age_female",
                                            "refund_paid_in_rate", "refund_received_rate", "refund_floor")}
    form = CategoryEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            write_once(request, "bz.category_edit", lambda: category_update(user=request.user, category=obj,
                                                                         **form.cleaned_data))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("pension_security:category", pk=obj.pk)
        except ERRORS as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("已保存类别“%(name)s”") % {"name": form.cleaned_data["name"]})
            return redirect("pension_security:category", pk=obj.pk)
    return _form_page(request, form, title=gettext("修改类别：%(name)s") % {"name": obj.name}, submit=gettext("保存"),
                      crumbs=_crumbs((obj.name, reverse("pension_security:category", args=[obj.pk])),
                                     (gettext("修改"), "")),
                      cancel=reverse("pension_security:category", args=[obj.pk]),
                      intro=gettext("新的转换年龄用于以后办理的到龄转换，新的退保公式用于以后办理的退保清算；"
                                    "已办理的不变。"))


@page(CATEGORY_RULE)
@require_POST
def category_active(request, pk: int):
    obj = get_object_or_404(Category, pk=pk)
    form = ActiveForm(request.POST)
    active = request.POST.get("active") == "1"
    if not form.is_valid():
        messages.error(request, gettext("请填写停用或启用的原因"))
        return redirect("pension_security:category", pk=obj.pk)
    try:
        write_once(request, "bz.category_active", lambda: category_set_active(
            user=request.user, category=obj, active=active, reason=form.cleaned_data["reason"]))
    except AlreadySubmitted as exc:
        messages.warning(request, str(exc))
    except ERRORS as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, (gettext("已启用类别“%(name)s”") if active else gettext("已停用类别“%(name)s”"))
                         % {"name": obj.name})
    return redirect("pension_security:category", pk=obj.pk)


@page(CATEGORY_RULE)
def standard_add_page(request, pk: int):
    obj = get_object_or_404(Category, pk=pk)
    form = StandardAddForm(request.POST or None, initial={"from_month": format_month(month_of(timezone.localdate()))})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            std = write_once(request, "bz.standard_add", lambda: standard_add(
                user=request.user, category=obj, phase=d["phase"], from_month=d["from_month"], amount=d["amount"],
                reason=d["reason"]))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("pension_security:category", pk=obj.pk)
        except ERRORS as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("已新增%(phase)s标准：%(month)s 起月 %(amount)s 元") % {
                "phase": std.get_phase_display(), "month": format_month(std.from_month), "amount": std.amount})
            return redirect("pension_security:category", pk=obj.pk)
    hints = []
    for ph in Phase:
        free = sel.next_free_month(category=obj, phase=ph)
        if free:
            hints.append(gettext("%(phase)s：新标准须从 %(month)s 或以后生效") % {"phase": ph.label,
                                                                        "month": format_month(free)})
    return _form_page(request, form, title=gettext("新增标准：%(name)s") % {"name": obj.name}, submit=gettext("新增"),
                      crumbs=_crumbs((obj.name, reverse("pension_security:category", args=[obj.pk])),
                                     (gettext("新增标准"), "")),
                      cancel=reverse("pension_security:category", args=[obj.pk]),
                      intro="；".join([gettext("标准自生效年月起执行，直到同一阶段的下一条标准；用于以后的待遇申报和到龄转换，"
                                               "已发放人员的金额按增资规则调整")] + hints))


@page(CATEGORY_RULE)
def standard_edit(request, pk: int):
    std = get_object_or_404(CategoryStandard.objects.select_related("category"), pk=pk)
    form = StandardEditForm(request.POST or None, initial={"amount": std.amount})
    back = reverse("pension_security:category", args=[std.category_id])
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            write_once(request, "bz.standard_edit", lambda: standard_change(user=request.user, standard=std,
                                                                         amount=d["amount"], reason=d["reason"]))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect(back)
        except ERRORS as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("已修改标准金额"))
            return redirect(back)
    title = gettext("修改标准：%(name)s %(phase)s %(month)s 起") % {
        "name": std.category.name, "phase": std.get_phase_display(), "month": format_month(std.from_month)}
    return _form_page(request, form, title=title, submit=gettext("保存"),
                      crumbs=_crumbs((std.category.name, back), (gettext("修改标准"), "")), cancel=back,
                      intro=gettext("只有尚未被待遇申报、核准、到龄转换或月度结算使用的标准可以修改金额；"
                                    "已使用的标准请新增一条从以后月份生效的标准。"))
