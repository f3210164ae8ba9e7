"""Audit events made readable (the audit page's and the person page's 变更记录): the action's label,
the object type's name, the before/after pair as rows with field labels, foreign keys by name and
sensitive values masked by the viewer's right (``shebao.common.masking``). A view helper, so every
app's pages use it without importing another app's views."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shebao.common.display import user_display_name
from shebao.common.masking import Masker, mask_data, mask_text, sensitive_kind
from shebao.common.models import AuditEvent
from shebao.common.money import format_yuan

ACTION_LABELS = {
    "create": gettext_lazy("新增"), "update": gettext_lazy("修改"), "delete": gettext_lazy("删除"),
    "login_ok": gettext_lazy("登录成功"), "login_failed": gettext_lazy("登录失败"), "login_locked": gettext_lazy("登录被拒（锁定）"),
    "logout": gettext_lazy("退出"), "password_change": gettext_lazy("修改密码"), "password_reset": gettext_lazy("重置密码"),
    "unlock": gettext_lazy("解锁"), "approve": gettext_lazy("审核通过"), "reject": gettext_lazy("退回"), "export": gettext_lazy("导出"),
    "import": gettext_lazy("导入"), "revoke": gettext_lazy("撤销"), "rollback": gettext_lazy("回退"),
}


# Keys of recorded data that are no model field of the event's object (nested values, a service's own
# summary keys): their labels in both languages. A key found nowhere is shown as written.
KEY_LABELS = {
    "items": gettext_lazy("待遇项目"), "item": gettext_lazy("待遇项目"), "amount": gettext_lazy("金额"),
    "amounts": gettext_lazy("金额"), "total": gettext_lazy("合计"), "gross": gettext_lazy("应发"),
    "net": gettext_lazy("实发"), "deductions": gettext_lazy("扣减"), "balance": gettext_lazy("余额"),
    "monthly": gettext_lazy("月金额"), "monthly_benefit": gettext_lazy("月养老金"),
    "status": gettext_lazy("状态"), "state": gettext_lazy("状态"), "document_state": gettext_lazy("结算单状态"),
    "account": gettext_lazy("账户"), "printed_count": gettext_lazy("打印次数"), "count": gettext_lazy("数量"),
    "first_id": gettext_lazy("起始编号"), "last_id": gettext_lazy("结束编号"), "name": gettext_lazy("名称"),
    "code": gettext_lazy("代码"), "kind": gettext_lazy("类型"), "reason": gettext_lazy("原因"),
    "month": gettext_lazy("月份"), "period": gettext_lazy("期间"), "start": gettext_lazy("开始"),
    "end": gettext_lazy("结束"), "from_month": gettext_lazy("起始月份"), "to_month": gettext_lazy("截止月份"),
    "rate": gettext_lazy("利率"), "bank": gettext_lazy("开户银行"), "holder_name": gettext_lazy("户名"),
    "valid_from": gettext_lazy("启用日期"), "valid_to": gettext_lazy("停用日期"), "note": gettext_lazy("备注"),
    "id_number": gettext_lazy("身份证号"), "account_number": gettext_lazy("账号"), "person": gettext_lazy("人员"),
    "town": gettext_lazy("镇街道"), "community": gettext_lazy("村社区"), "version": gettext_lazy("版本"),
}
# recorded amounts: shown as money (two decimals, thousands separators)
MONEY_KEYS = frozenset({"amount", "amounts", "total", "gross", "net", "deductions", "balance", "monthly",
                        "monthly_benefit", "refund", "opening", "closing", "interest", "personal", "collective",
                        "payouts", "benefit_base"})
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


def local_time_text(value) -> str | None:
    """A recorded date-time (an ISO text, UTC ``+00:00``) in local time (``TIME_ZONE``, Asia/Shanghai)
    as ``YYYY-MM-DD HH:MM:SS``; None when ``value`` is none."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and _ISO_DATETIME.match(value.strip()):
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _money_text(value) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal) or (isinstance(value, str) and _DECIMAL.match(value.strip())):
        try:
            return format_yuan(Decimal(str(value).strip()))
        except (InvalidOperation, ValueError):
            return None
    return None


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def object_type_label(object_type: str) -> str:
    try:
        return str(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return object_type


class AuditFormatter:
    """Turns a before/after pair into [(label, before, after)] rows: field labels from the model,
    foreign keys shown by name, sensitive values masked."""

    def __init__(self, masker: Masker):
        self.masker = masker
        self._fields: dict[str, dict[str, object]] = {}
        self._related: dict[tuple[str, object], str] = {}

    def _model_fields(self, object_type: str) -> dict[str, object]:
        if object_type not in self._fields:
            fields = {}
            try:
                model = apps.get_model(object_type)
            except (LookupError, ValueError):
                model = None
            if model is not None:
                for f in model._meta.concrete_fields:
                    fields[f.attname] = f
                    fields[f.name] = f
            self._fields[object_type] = fields
        return self._fields[object_type]

    def _label(self, object_type: str, key: str) -> str:
        f = self._model_fields(object_type).get(key)
        if f is not None and getattr(f, "verbose_name", None):
            return str(f.verbose_name)
        return self._key_label(key)

    def _key_label(self, key) -> str:
        label = KEY_LABELS.get(str(key))
        if label is not None:
            return str(label)
        return self._item_names().get(str(key), str(key))

    def _item_names(self) -> dict[str, str]:
        """待遇项目 code → name (``items`` record amounts by item code)."""
        if not hasattr(self, "_items"):
            try:
                model = apps.get_model("benefits.BenefitItem")
            except LookupError:
                self._items: dict[str, str] = {}
            else:
                self._items = {}
                for code, name in model.objects.order_by("-id").values_list("code", "name"):
                    self._items[code] = _(name)
        return self._items

    def _value(self, object_type: str, key: str, value) -> str:
        if value is None or value == "":
            return _("（空）")
        kind = sensitive_kind(key)
        if kind and not isinstance(value, dict | list | bool):
            return self.masker.apply(kind, str(value))
        f = self._model_fields(object_type).get(key)
        if (f is not None and getattr(f, "is_relation", False) and f.related_model is not None
                and not isinstance(value, dict | list | bool)):
            return self._related_name(f, value)
        if f is not None and getattr(f, "choices", None):
            return str(dict(f.flatchoices).get(value, value))
        if isinstance(value, dict | list):
            return self._nested(mask_data(value, self.masker), key)
        if isinstance(f, models.DecimalField) and f.decimal_places == 2:
            return _money_text(value) or str(value)
        return self._scalar(key, value)

    def _scalar(self, key, value) -> str:
        """A recorded value without a model field: yes/no, a local time, money by its key, else as written."""
        if isinstance(value, bool):
            return _("是") if value else _("否")
        when = local_time_text(value)
        if when is not None:
            return when
        if str(key).lower() in MONEY_KEYS or str(key).lower().endswith("_amount"):
            money = _money_text(value)
            if money is not None:
                return money
        return str(value)

    def _nested(self, value, key) -> str:
        """A dict or list inside a recorded value, in words: ``基本养老金：1,200.00；统筹外补贴：80.00``
        (item codes by their names, amounts as money, times local)."""
        if isinstance(value, dict):
            money_parent = str(key).lower() in MONEY_KEYS or str(key) in ("items",)
            parts = []
            for k, v in value.items():
                label = self._key_label(k)
                if isinstance(v, dict | list):
                    text = self._nested(v, k)
                elif v is None or v == "":
                    text = _("（空）")
                elif money_parent and _money_text(v) is not None:
                    text = _money_text(v)
                else:
                    text = self._scalar(k, v)
                parts.append(f"{label}：{text}")
            return "；".join(parts)
        items = [self._nested(v, key) if isinstance(v, dict | list) else self._scalar(key, v) for v in value]
        return " / ".join(items)

    def _related_name(self, f, value) -> str:
        """The related object's name; the value as written when it is no key of that model (an event
        may record a code under a key that is a foreign key on the model)."""
        try:
            pk = f.target_field.to_python(value)
        except (ValidationError, ValueError, TypeError):
            return str(value)
        cache_key = (f.related_model._meta.label_lower, pk)
        if cache_key not in self._related:
            obj = f.related_model._default_manager.filter(pk=pk).first()
            self._related[cache_key] = f"{obj}" if obj is not None else f"#{value}"
        return self._related[cache_key]

    def changes(self, object_type: str, before, after) -> list[tuple[str, str, str]]:
        before = before if isinstance(before, dict) else ({} if before is None else {"": before})
        after = after if isinstance(after, dict) else ({} if after is None else {"": after})
        keys = list(after) + [k for k in before if k not in after]
        one_sided = not before or not after  # a creation or a deletion: leave empty fields out
        rows = []
        for key in keys:
            if before and after and key in before and key in after and before[key] == after[key]:
                continue
            if one_sided and (before.get(key) in (None, "") and after.get(key) in (None, "")):
                continue
            b = self._value(object_type, key, before.get(key)) if key in before else ""
            a = self._value(object_type, key, after.get(key)) if key in after else ""
            rows.append((self._label(object_type, key), b, a))
        return rows

    def html(self, object_type: str, before, after):
        rows = self.changes(object_type, before, after)
        if not rows:
            return ""
        body = format_html_join(
            "", "<tr><th>{}</th><td class=\"before\">{}</td><td class=\"arrow\">{}</td><td class=\"after\">{}</td></tr>",
            ((label, b, "→" if b and a else "", a) for label, b, a in rows),
        )
        return format_html('<table class="diff">{}</table>', body)

    def text(self, object_type: str, before, after) -> str:
        parts = []
        for label, b, a in self.changes(object_type, before, after):
            if b and a:
                parts.append(f"{label}: {b} → {a}")
            else:
                parts.append(f"{label}: {a or b}")
        return "；".join(parts)


def _operator(event: AuditEvent) -> str:
    """Who did it, by name (the login name when the account has none or is gone)."""
    return user_display_name(event.user, fallback=event.username) if event.user_id else event.username


def audit_rows(events: Iterable[AuditEvent], masker: Masker) -> list[dict]:
    """Audit events ready to show: time, who, action label, summary, reason and the readable diff."""
    formatter = AuditFormatter(masker)
    return [{
        "occurred_at": timezone.localtime(e.occurred_at) if e.occurred_at else None,
        "username": e.username, "operator": _operator(e), "ip": e.ip, "action": action_label(e.action),
        "object_type": object_type_label(e.object_type), "object_id": e.object_id,
        "summary": mask_text(e.summary, masker), "reason": mask_text(e.reason, masker),
        "changes": formatter.html(e.object_type, e.before, e.after),
    } for e in events]
