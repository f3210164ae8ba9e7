from django.urls import path

from shebao.payroll import views

app_name = "payroll"
urlpatterns = [
    path("", views.run_list, name="run_list"),
    path("compute/", views.compute, name="compute"),
    path("<int:pk>/", views.run_detail, name="run_detail"),
    path("jobs/<int:pk>/", views.job_page, name="job"),
    path("<int:pk>/recompute/", views.run_recompute, name="run_recompute"),
    path("<int:pk>/approve/", views.run_approve, name="run_approve"),
    path("<int:pk>/reissue/", views.run_reissue, name="run_reissue"),
    path("lines/<int:pk>/", views.line_detail, name="line_detail"),
    path("lines/<int:pk>/write-off/", views.line_write_off, name="line_write_off"),
    path("lines/<int:pk>/release/", views.line_risk_release, name="line_risk_release"),
    path("oneoff/", views.oneoff_create, name="oneoff"),
    path("oneoff/search/", views.oneoff_search, name="oneoff_search"),
    path("stats/", views.stats, name="stats"),
]
