from django.apps import AppConfig


class SelfManagedConfig(AppConfig):
    name = "shebao.self_managed"
    label = "self_managed"
    verbose_name = "自管人员管理支付"

    def ready(self) -> None:
        from shebao.self_managed import wiring

        wiring.connect()
