from django.urls import path

from shebao.rural_pension import views

app_name = "rural"
urlpatterns = [
    path("", views.account_list, name="account_list"),
    path("find/<str:purpose>/", views.account_pick, name="pick"),
    path("<int:pk>/", views.account_detail, name="account_detail"),
    path("<int:pk>/years/", views.account_years, name="account_years"),
    path("<int:pk>/edit/", views.account_edit, name="account_edit"),
    path("<int:pk>/refund/", views.refund, name="refund"),
    path("<int:pk>/refund/quote/", views.refund_quote, name="refund_quote"),
    path("<int:pk>/refund/settle/", views.refund_settle, name="refund_settle"),
    path("<int:pk>/benefit/", views.benefit, name="benefit"),
    path("<int:pk>/benefit/quote/", views.benefit_quote, name="benefit_quote"),
    path("<int:pk>/benefit/confirm/", views.benefit_confirm, name="benefit_confirm"),
    path("<int:pk>/heir/", views.heir, name="heir"),
    path("<int:pk>/death/", views.death, name="death"),
    path("<int:pk>/death/quote/", views.death_quote, name="death_quote"),
    path("<int:pk>/death/settle/", views.death_settle, name="death_settle"),
    path("documents/", views.document_list, name="document_list"),
    path("documents/<str:number>/", views.document_detail, name="document_detail"),
    path("documents/<str:number>/pdf/", views.document_pdf, name="document_pdf"),
    path("documents/<str:number>/reprint/", views.document_reprint, name="document_reprint"),
    path("documents/<str:number>/rollback/", views.document_rollback, name="document_rollback"),
    path("rollback/", views.rollback_list, name="rollback_list"),
    path("rates/", views.rates, name="rates"),
    path("coefficients/", views.coefficients, name="coefficients"),
    path("import/", views.import_start, name="import_start"),
    path("import/jobs/<int:pk>/", views.import_job, name="import_job"),
    path("import/jobs/<int:pk>/commit/", views.import_commit, name="import_commit"),
    path("import/batches/<int:pk>/", views.import_batch, name="import_batch"),
]
