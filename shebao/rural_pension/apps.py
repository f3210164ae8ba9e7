from django.apps import AppConfig


class RuralPensionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "shebao.rural_pension"
    verbose_name = "老农保"
