from django.apps import AppConfig


class WarehouseConfig(AppConfig):
    name = "shebao.warehouse"
    label = "warehouse"
    verbose_name = "省宁波回流数据库"

    def ready(self) -> None:
        from shebao.warehouse import wiring

        wiring.connect()
