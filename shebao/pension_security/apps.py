from django.apps import AppConfig


class PensionSecurityConfig(AppConfig):
    name = "shebao.pension_security"
    label = "pension_security"
    verbose_name = "养老保障人员管理支付"

    def ready(self) -> None:
        from shebao.payroll import schemes
        from shebao.pension_security import wiring
        from shebao.pension_security.services import bz_termination_amounts

        # the default monthly compute; the 退保清算 refund is paid in the engine's termination settlement line
        schemes.register("BZ", schemes.SchemeRules(termination=bz_termination_amounts))
        wiring.connect()
