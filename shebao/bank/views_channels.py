"""传输通道 pages: each bank's delivery channel (folder or SFTP), sending a payment file through it,
and the transfer log. Thin: a form, one service of ``shebao.bank.transfer``, render."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from shebao.accounts.models import User
from shebao.bank.models import BankChannel, BankFile, BankTransfer
from shebao.bank.services import BankError
from shebao.bank.transfer import bank_channel_save, bank_file_deliver, bank_file_delivered
from shebao.bank.views_banks import BANKS_VIEW
from shebao.common.policy import allows, rule
from shebao.registry.models import Bank
from shebao.registry.selectors import bank_choices
from shebao.web.guards import page
from shebao.web.tables import ChoiceFilter, Column, DateRangeFilter, Table, TextFilter, render_table

CHANNEL_EDIT = rule("accounts.review", county=True, note="审核员（全市范围）设置传输通道")
DELIVER = rule("payroll.export_run", county=True, note="报盘权限（全市范围）：发送报盘文件")
TRANSFERS_VIEW = rule("payroll.view_payrollrun", "accounts.review", "accounts.it_ops",
                      note="读银行专线接口页面的用户、审核员或信息科")


def _crumbs(*items):
    return [(_("银行专线接口"), reverse("bank:file_list")), *items]


@page(BANKS_VIEW)
def channel_list(request):
    channels = {c.bank: c for c in BankChannel.objects.select_related("import_user")}
    rows = [{"bank": b, "channel": channels.get(b.code)} for b in Bank.objects.order_by("sort", "code")]
    return render(request, "bank/channels.html", {
        "rows": rows, "can_edit": allows(request.user, CHANNEL_EDIT),
        "breadcrumbs": _crumbs((_("传输通道"), ""))})


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(label=_l("方式"), choices=BankChannel.Kind.choices)
    active = forms.BooleanField(label=_l("启用"), required=False, initial=True)
    out_dir = forms.CharField(label=_l("报盘发送目录"), max_length=300,
                              help_text=_l("共享目录：本机挂载路径；SFTP：服务器上的路径"))
    in_dir = forms.CharField(label=_l("回盘接收目录"), max_length=300,
                             help_text=_l("已导入的文件移入其下 imported/，被拒绝的移入 rejected/ 并附原因文件"))
    host = forms.CharField(label=_l("SFTP 主机"), max_length=200, required=False)
    port = forms.IntegerField(label=_l("SFTP 端口"), min_value=1, max_value=65535, initial=22)
    username = forms.CharField(label=_l("SFTP 用户名"), max_length=100, required=False)
    key_path = forms.CharField(label=_l("私钥文件"), max_length=300, required=False)
    password_env = forms.CharField(label=_l("口令环境变量"), max_length=100, required=False,
                                   help_text=_l("口令（或私钥口令）所在的环境变量名；口令不存入数据库"))
    password_file = forms.CharField(label=_l("口令文件"), max_length=300, required=False)
    host_key_fingerprint = forms.CharField(label=_l("主机指纹"), max_length=100, required=False,
                                           help_text=_l("SHA256:…（ssh-keygen -lf 显示的格式），不符即断开"))
    import_user = forms.ModelChoiceField(label=_l("导入身份"), queryset=User.objects.filter(is_active=True)
                                         .order_by("username"), required=False,
                                         help_text=_l("定时接收回盘时以此用户导入（须有报盘权限、全市范围）"))
    notes = forms.CharField(label=_l("说明"), max_length=200, required=False)
    auto_deliver = forms.BooleanField(label=_l("自动发送"), required=False,
                                      help_text=_l("开启后生成的报盘文件由定时任务自动发送（各一次，以导入身份的名义）；"
                                                   "开启以前的文件不会自动发送"))


@page(CHANNEL_EDIT)
def channel_edit(request, bank: str):
    bank_row = Bank.objects.filter(code=bank).first()
    if bank_row is None:
        raise Http404(_("开户银行不存在"))
    channel = BankChannel.objects.filter(bank=bank).first()
    initial = {f: getattr(channel, f) for f in ChannelForm.base_fields} if channel else {"active": True, "port": 22}
    form = ChannelForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            bank_channel_save(user=request.user, bank=bank, **form.cleaned_data)
        except BankError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已保存 %(bank)s 的传输通道") % {"bank": bank_row.name})
            return redirect("bank:channels")
    return render(request, "bank/channel_form.html", {
        "form": form, "bank": bank_row, "channel": channel,
        "breadcrumbs": _crumbs((_("传输通道"), reverse("bank:channels")), (bank_row.name, ""))})


@page(DELIVER)
def file_deliver(request, pk: int):
    """The confirm step (GET) and the delivery (POST) of one payment file to its bank's channel."""
    bank_file = get_object_or_404(BankFile.objects.defer("content"), pk=pk)
    channel = BankChannel.objects.filter(bank=bank_file.bank, active=True).first()
    done = bank_file_delivered(bank_file)
    if request.method == "POST":
        try:
            transfer = bank_file_deliver(bank_file=bank_file, user=request.user)
        except BankError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, format_html("{} {}（{} 字节，sha256 {}…）", _("已发送报盘文件"),
                                                  bank_file.file_name, transfer.size, transfer.sha256[:12]))
        return redirect("bank:file_detail", pk=bank_file.pk)
    return render(request, "bank/file_deliver.html", {
        "f": bank_file, "channel": channel, "done": done,
        "breadcrumbs": _crumbs((bank_file.batch_no, reverse("bank:file_detail", args=[bank_file.pk])),
                               (_("发送"), ""))})


class TransferTable(Table):
    columns = [
        Column("at", _l("时间"), kind="datetime", sortable=True),
        Column("bank", _l("开户银行"), kind="choice", choices=lambda: bank_choices(include_inactive=True)),
        Column("direction", _l("方向"), kind="choice"),
        Column("file_name", _l("文件名")),
        Column("size", _l("字节数"), kind="num", sortable=True),
        Column("sha256", _l("校验和(SHA-256)")),
        Column("outcome", _l("结果"), kind="choice"),
        Column("message", _l("说明")),
        Column("bank_file__batch_no", _l("报盘批次"), link=("bank:file_detail", "bank_file_id")),
        Column("return_file_id", _l("回盘"), kind="num", link=("bank:return_detail", "return_file_id")),
    ]
    filters = [
        ChoiceFilter("bank", _l("开户银行"), field="bank", choices=lambda request: bank_choices(include_inactive=True)),
        ChoiceFilter("direction", _l("方向"), field="direction", choices=BankTransfer.Direction.choices),
        ChoiceFilter("outcome", _l("结果"), field="outcome", choices=BankTransfer.Outcome.choices),
        TextFilter("name", _l("文件名"), lookups=["file_name__contains"]),
        DateRangeFilter("at", _l("日期"), field="at", datetime=True),
    ]
    extra_fields = ("bank_file_id",)
    default_sort = "-at"
    export_name = _l("传输记录")
    dom_id = "tbl-transfers"

    def cell_sha256(self, value, row):
        return format_html('<span class="mono" title="{}">{}…</span>', value, value[:12]) if value else ""

    def cell_outcome(self, value, row):
        css = {"sent": "ok", "imported": "ok", "skipped": "", "rejected": "err", "failed": "err"}.get(value, "")
        return format_html('<span class="tag {}">{}</span>', css, BankTransfer.Outcome(value).label)


@page(TRANSFERS_VIEW)
def transfer_list(request):
    table = TransferTable(request, BankTransfer.objects.all())
    return render_table(request, table, "bank/transfers.html", {"breadcrumbs": _crumbs((_("传输记录"), ""))})
