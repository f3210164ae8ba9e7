from django.urls import path

from shebao.warehouse import views

app_name = "warehouse"
urlpatterns = [
    path("", views.dictionary, name="dictionary"),
    path("export/", views.dictionary_export, name="dictionary_export"),
    path("t/<int:pk>/", views.table_detail, name="table"),
    path("loads/", views.loads, name="loads"),
    path("loads/<int:pk>/", views.load_detail, name="load"),
    path("findings/", views.findings, name="findings"),
    path("findings/run/", views.audit_run_view, name="audit_run"),
    path("findings/<int:pk>/", views.finding_detail, name="finding"),
    path("rules/", views.rules, name="rules"),
    path("query/", views.queries, name="queries"),
    path("query/new/", views.query_new, name="query_new"),
    path("query/<int:pk>/", views.query_run, name="query_run"),
    path("query/<int:pk>/edit/", views.query_edit, name="query_edit"),
    path("grouping/", views.grouping, name="grouping"),
    path("console/", views.console, name="console"),
]
