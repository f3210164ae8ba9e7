from django.urls import path

from shebao.common import views_jobs

app_name = "jobs"
urlpatterns = [
    path("<int:pk>/", views_jobs.job_detail, name="detail"),
    path("<int:pk>/progress/", views_jobs.job_progress, name="progress"),
    path("<int:pk>/retry/", views_jobs.job_retry_view, name="retry"),
]

from shebao.common import views_periodic  # noqa: E402

urlpatterns += [path("periodic/", views_periodic.schedule_list, name="periodic")]
