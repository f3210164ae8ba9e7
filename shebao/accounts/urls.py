from django.urls import path

from shebao.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change_view, name="password_change"),
    path("users/", views.user_list, name="user_list"),
    path("users/new/", views.user_create_view, name="user_create"),
    path("users/<int:pk>/", views.user_edit, name="user_edit"),
    path("users/<int:pk>/reset-password/", views.user_reset_password_view, name="user_reset_password"),
    path("users/<int:pk>/unlock/", views.user_unlock_view, name="user_unlock"),
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/new/", views.token_list, name="token_create"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
