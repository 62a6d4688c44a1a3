app_name = "collectors"
urlpatterns: list = []
