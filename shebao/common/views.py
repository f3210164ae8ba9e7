"""The audit log page (/audit/, needs accounts.view_audit); the readable before/after rendering (``shebao.web.audit``)
used there and on the person page. Sensitive values inside before/after (身份证号, 银行账号 — also the
legacy system's 账号 — 电话, 地址), and 身份证号 or account numbers written in a summary or reason, are
masked by the viewer's right (``shebao.common.masking``), on the page and in the export, like everywhere
else. Any recorded value renders: a key that looks like a model field but holds something else (a bank
export's template code under ``template``) is shown as written."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shebao.accounts.selectors import audit_events
from shebao.common.masking import mask_text, masker_for
from shebao.common.models import AuditEvent
from shebao.common.policy import rule
from shebao.registry.models import Person
from shebao.registry.selectors import person_search, persons_visible
from shebao.web.audit import ACTION_LABELS, AuditFormatter, action_label, audit_rows, object_type_label  # noqa: F401 - audit_rows: read from here before
from shebao.web.guards import page
from shebao.web.tables import ChoiceFilter, Column, DateRangeFilter, Table, TextFilter, render_table

AUDIT_RULE = rule("accounts.view_audit", note="审计日志：信息运维与系统管理员")

# -- the audit page -----------------------------------------------------------------------------

def _person_filter(qs, value, request):
    return qs.filter(person_id__in=person_search(user=request.user, q=value, limit=None).values("pk"))


def _action_choices(request):
    present = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
    codes = sorted(set(present))
    return [(code, action_label(code)) for code in codes]


def _object_type_choices(request):
    present = AuditEvent.objects.order_by().values_list("object_type", flat=True).distinct()
    return sorted(((code, object_type_label(code)) for code in set(present) if code), key=lambda c: c[1])


class AuditTable(Table):
    columns = [
        Column("occurred_at", gettext_lazy("时间"), kind="datetime", sortable=True),
        Column("username", gettext_lazy("操作人"), sortable=True),
        Column("ip", gettext_lazy("来源地址")),
        Column("action", gettext_lazy("动作"), kind="choice", choices=ACTION_LABELS, sortable=True),
        Column("object_type", gettext_lazy("对象类型"), sortable=True),
        Column("object_id", gettext_lazy("对象编号")),
        Column("person_name", gettext_lazy("人员")),
        Column("summary", gettext_lazy("摘要"), css="wrap"),
        Column("reason", gettext_lazy("原因"), css="wrap"),
        Column("changes", gettext_lazy("变更内容"), field="after", css="wrap"),
    ]
    filters = [
        TextFilter("person", gettext_lazy("人员"), method=_person_filter, placeholder=gettext_lazy("身份证号或姓名")),
        TextFilter("user", gettext_lazy("操作人"), lookups=["username__icontains", "user__full_name__icontains"]),
        DateRangeFilter("date", gettext_lazy("日期"), field="occurred_at", datetime=True),
        ChoiceFilter("action", gettext_lazy("动作"), choices=_action_choices),
        ChoiceFilter("object_type", gettext_lazy("对象类型"), choices=_object_type_choices),
    ]
    default_sort = "-occurred_at"
    export_name = gettext_lazy("审计日志")
    extra_fields = ("before", "person_id")
    dom_id = "audit"

    def __init__(self, request, queryset, **kw):
        self.formatter = AuditFormatter(masker_for(request.user))
        super().__init__(request, queryset, **kw)

    def filter_queryset(self, qs):
        raw = (self.data.get("person_id") or "").strip()
        if raw:
            if raw.isdigit() and persons_visible(self.request.user).filter(pk=int(raw)).exists():
                qs = qs.filter(person_id=int(raw))
            else:
                self.errors.append(_("人员不存在或不在您的管辖范围内"))
                qs = qs.none()
        return qs

    def cell_object_type(self, value, row):
        return object_type_label(value)

    def xlsx_object_type(self, value, row):
        return object_type_label(value)

    def cell_person_name(self, value, row):
        if row.get("person_id") is None:
            return ""
        url = reverse("registry:person_detail", args=[row["person_id"]])
        return format_html('<a href="{}">{}</a>', url, value or f"#{row['person_id']}")

    def cell_summary(self, value, row):
        return mask_text(value or "", self.formatter.masker)

    xlsx_summary = cell_summary

    def cell_reason(self, value, row):
        return mask_text(value or "", self.formatter.masker)

    xlsx_reason = cell_reason

    def cell_changes(self, value, row):
        return self.formatter.html(row["object_type"], row["before"], row["after"])

    def xlsx_changes(self, value, row):
        return self.formatter.text(row["object_type"], row["before"], row["after"])


@page(AUDIT_RULE)
def audit_list(request):
    """The audit log (and its 导出Excel with the same filter): a user whose scope is some towns sees
    person-related events only for persons in those towns (``accounts.selectors.audit_events``)."""
    qs = audit_events(user=request.user).annotate(
        person_name=Subquery(Person.objects.filter(pk=OuterRef("person_id")).values("name")[:1])
    )
    table = AuditTable(request, qs)
    return render_table(request, table, "common/audit_list.html", {})
