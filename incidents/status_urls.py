from django.urls import path

from incidents import status_views

app_name = "status"
urlpatterns = [
    path("", status_views.status_page, name="page"),
    path("summary.json", status_views.status_summary, name="summary"),
    path("feed.atom", status_views.status_feed, name="feed"),
]
