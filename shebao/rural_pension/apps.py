from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RuralPensionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "shebao.rural_pension"
    verbose_name = "老农保"

    def ready(self):
        from shebao.payroll import schemes
        from shebao.rural_pension import views
        from shebao.rural_pension.services import rural_benefit_payouts_paid

        # NB: the monthly compute is the default rule; paid lines write the pensions into the accounts
        schemes.register("NB", schemes.SchemeRules(lines_paid=rural_benefit_payouts_paid))
        from shebao.web import menu, person_sections, work

        menu.set_url("nb.query", "rural:account_list", perm=views.VIEW_PERM, scheme="NB")
        menu.set_url("nb.edit", "rural:pick", url_kwargs={"purpose": "edit"}, perm=views.EDIT_PERM, scheme="NB")
        menu.set_url("nb.accounts", "rural:pick", url_kwargs={"purpose": "years"}, perm=views.VIEW_PERM, scheme="NB")
        menu.set_url("nb.refund", "rural:pick", url_kwargs={"purpose": "refund"}, perm=views.REFUND_PERM, scheme="NB")
        menu.set_url("nb.rollback", "rural:rollback_list", perm=views.ROLLBACK_PERM, scheme="NB")
        menu.set_url("nb.rates", "rural:rates", perm=views.VIEW_PERM, scheme="NB")
        if menu.find_entry("nb.documents") is None:
            menu.add_entry("nb", "nb.documents", _("结算单查询"), url_name="rural:document_list", perm=views.VIEW_PERM,
                           order=55, scheme="NB")
        for key, label, purpose, order in (("nb.benefit", _("开始领取"), "benefit", 42),
                                           ("nb.heir", _("代领人"), "heir", 44),
                                           ("nb.death", _("死亡结算"), "death", 46)):
            if menu.find_entry(key) is None:
                menu.add_entry("nb", key, label, url_name="rural:pick", url_kwargs={"purpose": purpose},
                               perm=views.REFUND_PERM, order=order, scheme="NB")
        if menu.find_entry("nb.coefficients") is None:
            menu.add_entry("nb", "nb.coefficients", _("计发系数"), url_name="rural:coefficients", perm=views.VIEW_PERM,
                           order=65, note=_("交费领取计算表：按起始年月维护计发系数"), scheme="NB")
        if menu.find_entry("nb.import") is None:
            menu.add_entry("nb", "nb.import", _("原系统数据导入"), url_name="rural:import_start", perm=views.IMPORT_PERM,
                           order=70, scheme="NB")
        person_sections.register(views.person_section)
        work.register(views.work_refunds_awaiting_bank)
