from django.apps import AppConfig


class BankConfig(AppConfig):
    name = "shebao.bank"
    label = "bank"
    verbose_name = "银行专线接口"
