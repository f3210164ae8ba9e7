from django.urls import path

from shebao.bank import views

app_name = "bank"
urlpatterns = [
    path("", views.file_list, name="file_list"),
    path("export/", views.export, name="export"),
    path("files/<int:pk>/", views.file_detail, name="file_detail"),
    path("files/<int:pk>/download/", views.file_download, name="file_download"),
    path("returns/", views.returns, name="returns"),
    path("returns/<int:pk>/", views.return_detail, name="return_detail"),
    path("jobs/<int:pk>/", views.job_page, name="job"),
    path("lines/", views.return_line_list, name="lines"),
    path("failed/", views.failed, name="failed"),
    path("templates/", views.template_list, name="templates"),
]
