from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "shebao.ops"
    label = "ops"
    verbose_name = "互联网络和安全"

    def ready(self) -> None:
        from shebao.ops import wiring

        wiring.connect()
