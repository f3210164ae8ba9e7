"""Forms of the bank pages: parse and check input only; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

MAX_RETURN_BYTES = 64 * 1024 * 1024  # a return file of ~800,000 lines


class ReturnUploadForm(forms.Form):
    file = forms.FileField(label=_("回盘文件"), help_text=_("银行返回的回盘文件（txt 或 xlsx），按其报盘文件的模板读取"))

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > MAX_RETURN_BYTES:
            raise forms.ValidationError(_("文件过大（超过 64 MB）"))
        if f.size == 0:
            raise forms.ValidationError(_("文件为空"))
        return f
