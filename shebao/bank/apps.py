from django.apps import AppConfig


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
