from django.urls import include, path

from shebao.api.api import api

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("shebao.accounts.urls")),
    path("api/v1/", api.urls),
    path("jobs/", include("shebao.common.urls")),
    path("", include("shebao.web.urls")),
]
