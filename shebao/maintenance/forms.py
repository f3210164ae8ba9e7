"""Forms of the 数据维护 pages: they parse shapes; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from shebao.common.safefile import DEFAULT, upload_validator
from shebao.maintenance.batch import BATCH_LIMITS
from shebao.maintenance.services import ATTACHMENT_LIMITS
from shebao.registry.selectors import bank_choices


class CorrectionForm(forms.Form):
    target = forms.ChoiceField(label=_("更正项目"))
    value = forms.CharField(label=_("新值"), max_length=1000, required=False,
                            help_text=_("人员基本信息、参保信息：填写新值（日期 YYYY-MM-DD；清空某项请留空）"))
    amount = forms.CharField(label=_("新月金额（元）"), max_length=32, required=False,
                             help_text=_("待遇金额：新的月金额"))
    from_month = forms.CharField(label=_("起始年月"), max_length=10, required=False,
                                 help_text=_("待遇金额：从该月起（YYYY-MM）；已发放的月份自动补发或扣减"))
    bank = forms.ChoiceField(label=_("开户银行"), required=False, choices=lambda: [("", "—"), *bank_choices()],
                             help_text=_("支付账户：新账户的开户银行"))
    account_number = forms.CharField(label=_("银行账号"), max_length=32, required=False)
    holder_name = forms.CharField(label=_("户名"), max_length=50, required=False, help_text=_("默认为本人姓名"))
    branch = forms.CharField(label=_("开户网点"), max_length=100, required=False)
    valid_from = forms.CharField(label=_("启用日期"), max_length=10, required=False,
                                 help_text=_("支付账户：YYYY-MM-DD，默认今天；原账户于前一天停用"))
    reason = forms.CharField(label=_("更正原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
    attachment = forms.FileField(label=_("附件"), required=False, validators=[upload_validator(ATTACHMENT_LIMITS)],
                                 help_text=_("可选：证明材料（pdf、图片、Excel、Word，5 MB 以内）"))

    def __init__(self, *args, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [("", "—"), *targets]

    def parsed_target(self) -> tuple[str, str, int | None]:
        """``(kind, field, enrollment_id)`` of the chosen target."""
        parts = self.cleaned_data["target"].split(":")
        if len(parts) == 3:
            return parts[0], parts[2], int(parts[1])
        return parts[0], parts[1], None

    def new_value(self) -> dict:
        d = self.cleaned_data
        return {k: d.get(k) or "" for k in ("value", "amount", "from_month", "bank", "account_number",
                                              "holder_name", "branch", "valid_from")}


class DecisionForm(forms.Form):
    note = forms.CharField(label=_("审核意见"), max_length=500, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}), help_text=_("驳回时必填"))


class CompareForm(forms.Form):
    file_a = forms.FileField(label=_("文件 A"), validators=[upload_validator(DEFAULT)],
                             help_text=_("xlsx、xls 或 csv（UTF-8 或 GB18030），第一行为列名"))
    file_b = forms.FileField(label=_("文件 B"), validators=[upload_validator(DEFAULT)])
    keys = forms.CharField(label=_("关键列"), max_length=300,
                           help_text=_("按哪些列对应两边的行：列名，多个用逗号分隔，如 身份证号 或 身份证号,待遇项目"))

    def key_list(self) -> list[str]:
        raw = self.cleaned_data["keys"].replace("，", ",").replace("、", ",")
        return [k.strip() for k in raw.split(",") if k.strip()]


class BatchUploadForm(forms.Form):
    file = forms.FileField(label=_("更正文件"), validators=[upload_validator(BATCH_LIMITS)],
                           help_text=_("xlsx、xls 或 csv；列：身份证号、字段、新值（可加姓名核对）；最多 2,000 行"))
    reason = forms.CharField(label=_("更正原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class BatchDecisionForm(forms.Form):
    clean_only = forms.BooleanField(label=_("只更正无误的行"), required=False,
                                    help_text=_("有错误行时：勾选后只更正无误的行，错误行不更正；不勾选则整批不更正"))
    note = forms.CharField(label=_("审核意见"), max_length=500, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}), help_text=_("驳回时必填"))


class LayoutForm(forms.Form):
    name = forms.CharField(label=_("格式名称"), max_length=100)
    note = forms.CharField(label=_("说明"), max_length=300, required=False)
    spec = forms.CharField(label=_("列定义"), max_length=20000, widget=forms.Textarea(attrs={"rows": 8, "class": "mono"}),
                           help_text=_("每行一列，按输出顺序：目标列 = 源列 [| 代码 1=男,2=女] [| 日期 YYYYMMDD] "
                                       "[| 金额 分] [| 固定 值]"))


class ConvertForm(forms.Form):
    layout = forms.ChoiceField(label=_("目标格式"))
    file = forms.FileField(label=_("源文件"), validators=[upload_validator(DEFAULT)],
                           help_text=_("xlsx、xls 或 csv（UTF-8 或 GB18030），第一行为列名"))
    fmt = forms.ChoiceField(label=_("输出"), choices=[("xlsx", "Excel (xlsx)"), ("csv", "CSV (UTF-8)")])

    def __init__(self, *args, layouts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["layout"].choices = [("", "—"), *[(str(x.pk), x.name) for x in layouts]]


def _keys(text: str) -> list[str]:
    return [k.strip() for k in (text or "").replace("，", ",").split(",") if k.strip()]


class QueryForm(forms.Form):
    name = forms.CharField(label=_("查询名称"), max_length=100)
    note = forms.CharField(label=_("说明"), max_length=300, required=False)
    source = forms.ChoiceField(label=_("数据来源"))
    dimensions = forms.CharField(label=_("分组"), max_length=200, required=False,
                                 help_text=_("分组的键，逗号分隔，最多三项（见下表）"))
    measures = forms.CharField(label=_("统计"), max_length=200, help_text=_("统计的键，逗号分隔"))
    parameters = forms.CharField(label=_("参数"), max_length=200, required=False,
                                 help_text=_("运行时可填写的筛选条件的键，逗号分隔"))
    chart = forms.ChoiceField(label=_("图表"))

    def __init__(self, *args, sources, charts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = sources
        self.fields["chart"].choices = charts

    def lists(self) -> dict:
        d = self.cleaned_data
        return {"dimensions": _keys(d["dimensions"]), "measures": _keys(d["measures"]),
                "parameters": _keys(d["parameters"])}
