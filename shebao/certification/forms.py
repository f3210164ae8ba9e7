"""Forms of the 生存认证 pages: they parse and check shapes; the services decide."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shebao.certification.models import Method
from shebao.common.safefile import upload_validator

ATTACHMENT_TYPES = (".jpg", ".jpeg", ".png", ".pdf")
ATTACHMENT_MAX = 5 * 1024 * 1024


class RecordForm(forms.Form):
    certified_on = forms.DateField(label=_("认证日期"), widget=forms.DateInput(attrs={"type": "date"}))
    method = forms.ChoiceField(label=_("认证方式"), choices=Method.choices)
    place = forms.CharField(label=_("认证地点"), max_length=100, required=False)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)
    attachment = forms.FileField(label=_("附件（照片或扫描件）"), required=False,
                                 help_text=_("jpg、png 或 pdf，5 MB 以内"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["certified_on"].initial = timezone.localdate()

    def clean_attachment(self):
        f = self.cleaned_data.get("attachment")
        if not f:
            return None
        name = f.name.lower()
        if not name.endswith(ATTACHMENT_TYPES):
            raise forms.ValidationError(_("附件只能是 jpg、png 或 pdf 文件"))
        if f.size > ATTACHMENT_MAX:
            raise forms.ValidationError(_("附件不能超过 5 MB"))
        head = f.read(8)
        f.seek(0)
        if not (head.startswith(b"\xff\xd8") or head.startswith(b"\x89PNG") or head.startswith(b"%PDF")):
            raise forms.ValidationError(_("附件内容不是有效的 jpg、png 或 pdf 文件"))
        return f


class DeathForm(forms.Form):
    death_date = forms.DateField(label=_("死亡日期"), widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.CharField(label=_("信息来源"), max_length=60, help_text=_("如 火化数据、家属报告、公安户籍"))
    note = forms.CharField(label=_("备注"), max_length=100, required=False)


class ImportForm(forms.Form):
    method = forms.ChoiceField(label=_("认证方式"), choices=Method.choices)
    file = forms.FileField(label=_("文件（xlsx 或 csv）"), validators=[upload_validator()],
                           help_text=_("列：身份证号、姓名、认证日期（YYYY-MM-DD）；csv 可为 UTF-8 或 GB18030"))


class CommunityForm(forms.Form):
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    contact_name = forms.CharField(label=_("联系人"), max_length=50, required=False)
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    mobile = forms.CharField(label=_("手机"), max_length=20, required=False)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)


class ContactForm(forms.Form):
    name = forms.CharField(label=_("联系人姓名"), max_length=50)
    relation = forms.ChoiceField(label=_("关系"), choices=[("family", _("家属")), ("agent", _("代理人"))])
    relation_note = forms.CharField(label=_("具体关系"), max_length=20, required=False, help_text=_("如 子女、配偶"))
    phone = forms.CharField(label=_("电话"), max_length=20)
