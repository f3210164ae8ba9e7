from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "shebao.archive"
    label = "archive"
    verbose_name = "原遗留养老系统"

    def ready(self) -> None:
        from shebao.archive import wiring

        wiring.connect()
