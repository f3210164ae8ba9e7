"""Forms of the 生存认证 pages: they parse and check shapes; the services decide."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shebao.certification.models import Method
from shebao.common.safefile import upload_validator


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
        from shebao.certification.services import CertificationError, attachment_check

        f = self.cleaned_data.get("attachment")
        if not f:
            return None
        head = f.read(16)
        f.seek(0)
        try:
            attachment_check(f.name, head, f.size)
        except CertificationError as exc:
            raise forms.ValidationError(str(exc)) from None
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


class SocialForm(forms.Form):
    """人员维护: a person's 村社区 (of their 镇街道), phones and 社会化管理 data. For a user without 查看敏感信息
    the phones and the address start empty (the masked value shown as a hint): left empty, they stay."""

    community = forms.ModelChoiceField(label=_("村社区"), queryset=None, required=False, empty_label=_("（未填）"))
    mobile = forms.CharField(label=_("手机"), max_length=20, required=False)
    phone = forms.CharField(label=_("固定电话"), max_length=20, required=False)
    visit_address = forms.CharField(label=_("走访地址"), max_length=200, required=False,
                                    help_text=_("上门走访、认证的地址；不填时按居住地址"))
    living = forms.ChoiceField(label=_("居住状况"), choices=())
    living_place = forms.CharField(label=_("居住地或机构"), max_length=100, required=False,
                                   help_text=_("异地、境外居住的地点，或养老机构、医院的名称"))
    visit_note = forms.CharField(label=_("走访备注"), max_length=200, required=False,
                                 help_text=_("如 行动不便须上门、听力差请找家属"))

    def __init__(self, *args, person, sees_sensitive: bool, masked: dict | None = None, **kwargs):
        from shebao.certification.models import SocialProfile
        from shebao.registry.models import Region

        super().__init__(*args, **kwargs)
        self.sees_sensitive = sees_sensitive
        self.fields["community"].queryset = Region.objects.filter(parent_id=person.town_id,
                                                                  level="community").order_by("sort", "code")
        self.fields["living"].choices = SocialProfile.Living.choices
        if not sees_sensitive:
            for name, shown in (masked or {}).items():
                field = self.fields[name]
                field.widget.attrs["placeholder"] = shown
                field.help_text = _("留空表示不修改（您没有查看敏感信息的权限）")
