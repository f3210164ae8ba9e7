from django.urls import path

from shebao.maintenance import views

app_name = "maintenance"
urlpatterns = [
    path("corrections/", views.corrections, name="corrections"),
    path("corrections/new/", views.correction_new, name="correction_new"),
    path("corrections/<int:pk>/", views.correction, name="correction"),
    path("corrections/<int:pk>/decide/", views.correction_decide, name="correction_decide"),
    path("corrections/<int:pk>/attachment/", views.correction_attachment, name="correction_attachment"),
    path("batch/", views.batch, name="batch"),
    path("batch/<int:pk>/", views.batch_detail, name="batch_detail"),
    path("batch/<int:pk>/decide/", views.batch_decide, name="batch_decide"),
    path("queries/", views.queries, name="queries"),
    path("queries/new/", views.query_edit, name="query_new"),
    path("queries/<int:pk>/", views.query_run, name="query_run"),
    path("queries/<int:pk>/edit/", views.query_edit, name="query_edit"),
    path("convert/", views.convert, name="convert"),
    path("compare/", views.compare, name="compare"),
    path("compare/tables/", views.compare_tables, name="compare_tables"),
]
