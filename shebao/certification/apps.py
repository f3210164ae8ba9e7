from django.apps import AppConfig


class CertificationConfig(AppConfig):
    name = "shebao.certification"
    label = "certification"
    verbose_name = "社会化管理与生存认证"

    def ready(self) -> None:
        from shebao.certification import wiring

        wiring.connect()
