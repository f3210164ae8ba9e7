from django.urls import path

from shebao.pension_security import category_views, views

app_name = "pension_security"
urlpatterns = [
    path("", views.person_list, name="person_list"),
    path("register/", views.register, name="register"),
    path("p/<int:pk>/", views.person, name="person"),
    path("p/<int:pk>/propose/", views.propose, name="propose"),
    path("p/<int:pk>/paid-in/", views.paid_in, name="paid_in"),
    path("p/<int:pk>/status/", views.status, name="status"),
    path("p/<int:pk>/adjust/", views.adjust, name="adjust"),
    path("p/<int:pk>/settle/", views.settle, name="settle"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/decide/", views.decide, name="decide"),
    path("conversions/", views.conversions, name="conversions"),
    path("suspensions/", views.suspensions, name="suspensions"),
    path("adjustments/", views.adjustments, name="adjustments"),
    path("raise/", views.raise_page, name="raise"),
    path("payable/", views.payable, name="payable"),
    path("reports/", views.reports, name="reports"),
    path("settlements/", views.settlements, name="settlements"),
    path("settlements/<str:number>/pdf/", views.settlement_pdf, name="settlement_pdf"),
    path("roster/", views.roster, name="roster"),
    path("roster/export/", views.roster_export, name="roster_export"),
    path("roster/<int:pk>/", views.roster_batch, name="roster_batch"),
    path("roster/<int:pk>/confirm/", views.roster_batch_confirm, name="roster_batch_confirm"),
    path("categories/", category_views.categories, name="categories"),
    path("categories/add/", category_views.category_add, name="category_add"),
    path("categories/<int:pk>/", category_views.category, name="category"),
    path("categories/<int:pk>/edit/", category_views.category_edit, name="category_edit"),
    path("categories/<int:pk>/active/", category_views.category_active, name="category_active"),
    path("categories/<int:pk>/standards/add/", category_views.standard_add_page, name="standard_add"),
    path("standards/<int:pk>/edit/", category_views.standard_edit, name="standard_edit"),
]
