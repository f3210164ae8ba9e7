"""Forms of the 社会保险特殊业务 pages: they parse and check shapes; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from shebao.common.fields import DecimalField
from shebao.common.safefile import upload_validator
from shebao.finance.models import Direction
from shebao.finance.selectors import types
from shebao.finance.services import ATTACHMENT_LIMITS
from shebao.registry.selectors import bank_choices

DATE = {"widget": forms.DateInput(attrs={"type": "date"})}


class EntryForm(forms.Form):
    type = forms.ModelChoiceField(label=_("业务类型"), queryset=types(), empty_label=None)
    payee_code = forms.CharField(label=_("收款方/付款方编号"), max_length=20, required=False,
                                 help_text=_("登记的收款方编号，如 P000001（见收款方登记）"))
    id_number = forms.CharField(label=_("或人员身份证号"), max_length=18, required=False,
                                help_text=_("款项涉及登记人员时填写；与收款方二选一"))
    amount = DecimalField(label=_("金额"), max_digits=14, decimal_places=2, min_value=0.01)
    occurred_on = forms.DateField(label=_("业务日期"), **DATE)
    voucher_no = forms.CharField(label=_("凭证号"), max_length=30, required=False)
    note = forms.CharField(label=_("备注"), max_length=300, required=False)

    def __init__(self, *args, direction: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].queryset = types(direction, active_only=True)


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("附件"), validators=[upload_validator(ATTACHMENT_LIMITS)],
                           help_text=_("PDF、JPG 或 PNG，不超过 5 MB"))


class ArrivalForm(forms.Form):
    arrival_on = forms.DateField(label=_("银行到账日期"), **DATE)
    amount = DecimalField(label=_("到账金额"), max_digits=14, decimal_places=2, min_value=0.01)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=200)


class PayeeForm(forms.Form):
    name = forms.CharField(label=_("户名"), max_length=100)
    uscc = forms.CharField(label=_("统一社会信用代码"), max_length=18, required=False,
                           help_text=_("单位收款方填写，按 GB 32100 校验"))
    bank = forms.ChoiceField(label=_("开户银行"), choices=lambda: bank_choices())
    branch = forms.CharField(label=_("开户网点"), max_length=100, required=False)
    account_number = forms.CharField(label=_("银行账号"), max_length=40)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)


class PayeeChangeForm(PayeeForm):
    reason = forms.CharField(label=_("变更原因"), max_length=200)


class TypeForm(forms.Form):
    code = forms.CharField(label=_("类型代码"), max_length=30, help_text=_("大写字母、数字、下划线；保存后不可改"))
    name = forms.CharField(label=_("类型名称"), max_length=50)
    direction = forms.ChoiceField(label=_("收支方向"), choices=Direction.choices)
    subject_code = forms.CharField(label=_("会计科目代码"), max_length=20,
                                   help_text=_("数字：一级科目 4 位，明细科目每级 2 位；新增或修改后待财务确认"))
    subject_name = forms.CharField(label=_("会计科目"), max_length=50)
    scheme = forms.ChoiceField(label=_("银行支付险种"), required=False)
    active = forms.BooleanField(label=_("启用"), required=False, initial=True)
    sort = forms.IntegerField(label=_("排序"), min_value=0, max_value=32000, initial=100)
    note = forms.CharField(label=_("说明"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        from shebao.benefits.models import Scheme

        super().__init__(*args, **kwargs)
        self.fields["scheme"].choices = [("", _("—（不经银行）"))] + [(s.code, s.name) for s in Scheme.objects.all()]


class ReturnedForm(forms.Form):
    run = forms.IntegerField(label=_("结算批次号"), min_value=1, max_value=2**62)
    seq = forms.IntegerField(label=_("序号"), min_value=1, max_value=10**7)
    amount = DecimalField(label=_("退回金额"), max_digits=14, decimal_places=2, min_value=0.01)
    returned_on = forms.DateField(label=_("退回到账日期"), **DATE)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)
