from django.urls import path

from shebao.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("wip/<str:key>/", views.wip, name="wip"),
]
