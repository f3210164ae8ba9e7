from django.apps import AppConfig


class SelfManagedConfig(AppConfig):
    name = "shebao.self_managed"
    label = "self_managed"
    verbose_name = "自管人员管理支付"

    def ready(self) -> None:
        from shebao.payroll import schemes
        from shebao.self_managed import wiring

        schemes.register("ZG", schemes.SchemeRules())  # the default monthly compute, nothing more

        wiring.connect()
