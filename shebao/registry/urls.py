from django.urls import path

from shebao.registry import views

app_name = "registry"
urlpatterns = [
    path("", views.person_list, name="person_list"),
    path("suggest/", views.person_suggest, name="person_suggest"),
    path("communities/", views.communities, name="communities"),
    path("new/", views.person_create_view, name="person_create"),
    path("<int:pk>/", views.person_detail, name="person_detail"),
    path("<int:pk>/edit/", views.person_edit_view, name="person_edit"),
    path("<int:pk>/account/", views.person_account_view, name="person_account"),
]
