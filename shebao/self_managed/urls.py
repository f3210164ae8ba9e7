from django.urls import path

app_name = "self_managed"
urlpatterns: list = []
