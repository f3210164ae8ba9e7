from django.urls import path

from shebao.certification import views

app_name = "certification"
urlpatterns = [
    path("certification/", views.certification_list, name="list"),
    path("certification/due/", views.due, name="due"),
    path("certification/import/", views.import_page, name="import"),
    path("certification/person/<int:pk>/", views.person, name="person"),
    path("certification/person/<int:pk>/record/", views.record, name="record"),
    path("certification/person/<int:pk>/death/", views.death, name="death"),
    path("certification/person/<int:pk>/contact/", views.contact, name="contact"),
    path("communities/", views.communities, name="communities"),
    path("certification/stats/", views.stats, name="stats"),
    path("communities/<int:pk>/", views.community, name="community"),
    path("persons/", views.persons, name="persons"),
    path("persons/<int:pk>/", views.maintain, name="maintain"),
    path("persons/<int:pk>/contacts/<int:contact_pk>/stop/", views.contact_stop, name="contact_stop"),
    path("certification/attachments/", views.attachments, name="attachments"),
    path("certification/<int:pk>/attachment/", views.attachment, name="attachment"),
]
