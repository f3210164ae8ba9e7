"""The form of a saved SQL query (IT): name, description, SQL, the labels of its parameters and the roles
that may run it. The checks that need the database (the SQL explained as the read-only role, a unique
name) are the service's (``services.saved_query_define``)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from shebao.accounts.models import Role
from shebao.warehouse.console import MAX_SQL


class SavedQueryForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100)
    description = forms.CharField(label=_("说明"), max_length=300, required=False)
    sql = forms.CharField(label=_("SQL"), max_length=MAX_SQL, widget=forms.Textarea(attrs={"rows": 10, "class": "mono"}),
                          help_text=_("只读查询（SELECT），以只读角色运行，只能读回流库；参数写作 %(名称)s，百分号写作 %%"))
    labels = forms.CharField(label=_("参数名称"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("每行一个：参数=显示的名称，如 month=发放年月（YYYYMM）"))
    roles = forms.MultipleChoiceField(label=_("可运行的角色"), required=False, choices=Role.choices,
                                      widget=forms.CheckboxSelectMultiple,
                                      help_text=_("不选：有回流库查询权限的用户都可运行"))

    def clean_labels(self) -> dict[str, str]:
        out = {}
        for n, line in enumerate((self.cleaned_data.get("labels") or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, label = line.partition("=")
            if not sep or not name.strip() or not label.strip():
                raise forms.ValidationError(_("第 %(n)s 行应写作 参数=名称") % {"n": n})
            out[name.strip()] = label.strip()
        return out

    @classmethod
    def initial_of(cls, query) -> dict:
        return {"name": query.name, "description": query.description, "sql": query.sql, "roles": query.roles,
                "labels": "\n".join(f"{p['name']}={p.get('label') or p['name']}" for p in query.params)}
