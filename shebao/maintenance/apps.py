from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "shebao.maintenance"
    label = "maintenance"
    verbose_name = "数据维护"

    def ready(self) -> None:
        from shebao.maintenance import wiring

        wiring.connect()
