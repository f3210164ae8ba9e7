from django.urls import path

from shebao.archive import views

app_name = "archive"
urlpatterns = [
    path("", views.search, name="search"),
    path("persons/<int:pk>/", views.person, name="person"),
    path("tables/", views.tables, name="tables"),
    path("tables/<int:pk>/", views.table, name="table"),
]
