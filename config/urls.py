from django.urls import include, path

from shebao.api.api import api
from shebao.common import views as common_views

audit_patterns = ([path("", common_views.audit_list, name="list")], "audit")

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("shebao.accounts.urls")),
    path("api/v1/", api.urls),
    path("jobs/", include("shebao.common.urls")),
    path("persons/", include("shebao.registry.urls")),
    path("audit/", include(audit_patterns)),
    path("payroll/", include("shebao.payroll.urls")),
    path("bank/", include("shebao.bank.urls")),
    path("zg/", include("shebao.self_managed.urls")),
    path("nb/", include("shebao.rural_pension.urls")),
    path("tb/", include("shebao.land_subsidy.urls")),
    path("bz/", include("shebao.pension_security.urls")),
    path("shgl/", include("shebao.certification.urls")),
    path("maint/", include("shebao.maintenance.urls")),
    path("ts/", include("shebao.finance.urls")),
    path("ops/", include("shebao.ops.urls")),
    path("wh/", include("shebao.warehouse.urls")),
    path("archive/", include("shebao.archive.urls")),
    path("", include("shebao.web.urls")),
]
