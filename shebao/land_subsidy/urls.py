from django.urls import path

from shebao.land_subsidy import views

app_name = "land_subsidy"
urlpatterns = [
    path("", views.person_list, name="person_list"),
    path("p/new/", views.person_new, name="person_new"),
    path("p/<int:pk>/", views.person, name="person"),
    path("p/<int:pk>/edit/", views.person_edit, name="person_edit"),
    path("p/<int:pk>/status/", views.status, name="status"),
    path("categories/", views.categories, name="categories"),
    path("categories/<int:pk>/edit/", views.category_edit, name="category_edit"),
    path("rules/<int:pk>/edit/", views.rule_edit, name="rule_edit"),
    path("import/", views.import_page, name="import"),
    path("import/export/", views.import_export, name="import_export"),
    path("import/<int:pk>/", views.import_batch, name="import_batch"),
    path("import/<int:pk>/confirm/", views.import_confirm, name="import_confirm"),
    path("runs/", views.runs, name="runs"),
    path("runs/<int:pk>/", views.run_roster, name="run_roster"),
    path("runs/<int:pk>/xlsx/", views.run_roster_xlsx, name="run_roster_xlsx"),
]
