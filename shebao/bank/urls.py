from django.urls import path

from shebao.bank import views

app_name = "bank"
urlpatterns = [
    path("", views.file_list, name="file_list"),
    path("export/", views.export, name="export"),
    path("files/<int:pk>/", views.file_detail, name="file_detail"),
    path("files/<int:pk>/download/", views.file_download, name="file_download"),
    path("runs/<int:pk>/", views.run_files, name="run_files"),
    path("returns/", views.returns, name="returns"),
    path("returns/<int:pk>/", views.return_detail, name="return_detail"),
    path("jobs/<int:pk>/", views.job_page, name="job"),
    path("lines/", views.return_line_list, name="lines"),
    path("failed/", views.failed, name="failed"),
    path("templates/", views.template_list, name="templates"),
]

# 开户银行 (banks as data), templates as data with versions, delivery channels and the transfer log
from shebao.bank import views_banks  # noqa: E402

urlpatterns += [
    path("banks/", views_banks.bank_list, name="banks"),
    path("banks/add/", views_banks.bank_add, name="bank_add"),
    path("banks/<str:code>/", views_banks.bank_edit, name="bank_edit"),
]

from shebao.bank import views_templates  # noqa: E402

urlpatterns += [
    path("templates/add/", views_templates.template_add, name="template_add"),
    path("templates/<str:code>/edit/", views_templates.template_edit, name="template_edit"),
    path("templates/<str:code>/versions/", views_templates.template_versions, name="template_versions"),
]

from shebao.bank import views_channels  # noqa: E402

urlpatterns += [
    path("channels/", views_channels.channel_list, name="channels"),
    path("channels/<str:bank>/", views_channels.channel_edit, name="channel_edit"),
    path("files/<int:pk>/deliver/", views_channels.file_deliver, name="file_deliver"),
    path("transfers/", views_channels.transfer_list, name="transfers"),
]
