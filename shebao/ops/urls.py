from django.urls import path

from shebao.ops import views

app_name = "ops"

urlpatterns = [
    path("links/", views.link_status, name="links"),
    path("links/targets/new/", views.target_add, name="target_add"),
    path("links/targets/<int:pk>/", views.target_detail, name="target"),
    path("links/targets/<int:pk>/edit/", views.target_edit, name="target_edit"),
    path("links/incidents/", views.incidents, name="incidents"),
    path("links/probes/", views.probes, name="probes"),
    path("links/alerts/", views.alerts, name="alerts"),
    path("links/incidents/<int:pk>/", views.incident_detail, name="incident"),
    path("links/channels/", views.channels, name="channels"),
    path("inspection/", views.inspection, name="inspection"),
    path("inspection/<int:pk>/", views.inspection_detail, name="inspection_detail"),
    path("inspection/<int:pk>/pdf/", views.inspection_pdf, name="inspection_pdf"),
    path("backups/", views.backups, name="backups"),
    path("security/", views.security, name="security"),
]
