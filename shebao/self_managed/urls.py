from django.urls import path

from shebao.self_managed import views

app_name = "self_managed"
urlpatterns = [
    path("", views.person_list, name="person_list"),
    path("enroll/", views.enroll, name="enroll"),
    path("p/<int:pk>/", views.person, name="person"),
    path("p/<int:pk>/terminate/", views.terminate, name="terminate"),
    path("p/<int:pk>/status/", views.status, name="status"),
    path("p/<int:pk>/amount/", views.amount, name="amount"),
    path("p/<int:pk>/adjust/", views.adjust, name="adjust"),
    path("benefits/", views.benefits, name="benefits"),
    path("raise/", views.raise_page, name="raise"),
    path("query/", views.query, name="query"),
    path("query/<int:pk>/", views.query_person, name="query_person"),
    path("roster/", views.roster, name="roster"),
    path("roster/export/", views.roster_export, name="roster_export"),
    path("roster/<int:pk>/", views.roster_batch, name="roster_batch"),
    path("roster/<int:pk>/confirm/", views.roster_batch_confirm, name="roster_batch_confirm"),
    path("flex/", views.flex, name="flex"),
    path("income/", views.income, name="income"),
]
