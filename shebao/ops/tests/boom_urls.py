"""The project's URLs plus one view that fails (the 500 page test)."""

from django.urls import path

from config.urls import urlpatterns as project


def boom(request):
    raise RuntimeError("故意的错误 secret-detail-xyz")


urlpatterns = [path("boom/", boom), *project]
