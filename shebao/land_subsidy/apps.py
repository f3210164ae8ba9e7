from django.apps import AppConfig


class LandSubsidyConfig(AppConfig):
    name = "shebao.land_subsidy"
    label = "land_subsidy"
    verbose_name = "土保补贴"

    def ready(self) -> None:
        from shebao.land_subsidy import wiring
        from shebao.land_subsidy.rules import annual_rows
        from shebao.payroll import schemes

        # the yearly roster (年度发放明细): everyone the category's rule entitles, set-based
        schemes.register("TB", schemes.SchemeRules(annual=annual_rows))
        wiring.connect()
