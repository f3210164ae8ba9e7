from django.apps import AppConfig


class PayrollConfig(AppConfig):
    name = "shebao.payroll"
    label = "payroll"
    verbose_name = "月度结算"
