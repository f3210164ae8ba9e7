"""Audit events made readable (the audit page's and the person page's 变更记录): the action's label,
the object type's name, the before/after pair as rows with field labels, foreign keys by name and
sensitive values masked by the viewer's right (``shebao.common.masking``). A view helper, so every
app's pages use it without importing another app's views."""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.apps import apps
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shebao.common.masking import Masker, mask_data, mask_text, sensitive_kind
from shebao.common.models import AuditEvent

ACTION_LABELS = {
    "create": gettext_lazy("新增"), "update": gettext_lazy("修改"), "delete": gettext_lazy("删除"),
    "login_ok": gettext_lazy("登录成功"), "login_failed": gettext_lazy("登录失败"), "login_locked": gettext_lazy("登录被拒（锁定）"),
    "logout": gettext_lazy("退出"), "password_change": gettext_lazy("修改密码"), "password_reset": gettext_lazy("重置密码"),
    "unlock": gettext_lazy("解锁"), "approve": gettext_lazy("审核通过"), "reject": gettext_lazy("退回"), "export": gettext_lazy("导出"),
    "import": gettext_lazy("导入"), "revoke": gettext_lazy("撤销"), "rollback": gettext_lazy("回退"),
}


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
        return str(getattr(f, "verbose_name", None) or key) if f is not None else key

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
        if isinstance(value, bool):
            return _("是") if value else _("否")
        if isinstance(value, dict | list):
            return json.dumps(self._mask_nested(value), ensure_ascii=False)
        return str(value)

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

    def _mask_nested(self, value):
        return mask_data(value, self.masker)

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


def audit_rows(events: Iterable[AuditEvent], masker: Masker) -> list[dict]:
    """Audit events ready to show: time, who, action label, summary, reason and the readable diff."""
    formatter = AuditFormatter(masker)
    return [{
        "occurred_at": e.occurred_at, "username": e.username, "ip": e.ip, "action": action_label(e.action),
        "object_type": object_type_label(e.object_type), "object_id": e.object_id,
        "summary": mask_text(e.summary, masker), "reason": mask_text(e.reason, masker),
        "changes": formatter.html(e.object_type, e.before, e.after),
    } for e in events]
