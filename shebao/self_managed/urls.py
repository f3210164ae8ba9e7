
app_name = "self_managed"
urlpatterns: list = []
