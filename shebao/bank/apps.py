from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BankConfig(AppConfig):
    name = "shebao.bank"
    label = "bank"
    verbose_name = "银行专线接口"

    def ready(self):
        from shebao.bank import views
        from shebao.web import menu, work

        menu.set_url("zg.bankfile", "bank:export", perm="payroll.export_run")
        menu.set_url("bank.files", "bank:file_list")
        menu.set_url("bank.returns", "bank:returns")
        menu.set_url("bank.lines", "bank:lines")
        menu.set_url("bank.reissue", "bank:failed")
        menu.set_url("bank.templates", "bank:templates")
        work.register(views.work_failed_owed)
        from shebao.payroll import run_sections

        run_sections.register(views.run_files_section)
        menu.add_entry("bank", "bank.banks", _("开户银行"), url_name="bank:banks", perm="payroll.view_payrollrun",
                       order=60, note=_("银行代码、名称、账号位数"))
        menu.add_entry("bank", "bank.channels", _("传输通道"), url_name="bank:channels", perm="payroll.view_payrollrun",
                       order=70, note=_("共享目录或 SFTP"))
        from shebao.bank.views_channels import TRANSFERS_VIEW

        # 信息科 watch the 专线 transfers too: the entry is shown to whoever the page admits
        menu.add_entry("bank", "bank.transfers", _("传输记录"), url_name="bank:transfers", rule=TRANSFERS_VIEW,
                       order=80)
