from django.apps import AppConfig


class PayrollConfig(AppConfig):
    name = "shebao.payroll"
    label = "payroll"
    verbose_name = "月度结算"

    def ready(self):
        from shebao.payroll import views
        from shebao.web import menu, person_sections, work

        menu.set_url("zg.payroll", "payroll:run_list")
        menu.set_url("zg.oneoff", "payroll:oneoff", perm="payroll.compute_run")
        menu.set_url("zg.stats", "payroll:stats")
        work.register(views.work_runs_to_approve)
        work.register(views.work_runs_to_export)
        person_sections.register(views.person_payments_section)
