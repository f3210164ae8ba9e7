from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "shebao.finance"
    label = "finance"
    verbose_name = "社会保险特殊业务"

    def ready(self) -> None:
        from shebao.finance import wiring

        wiring.connect()
