from django.urls import path

from incidents import postmortem_views, views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_index, name="list"),
    path("<int:incident_id>/", views.incident_detail, name="detail"),
    path("<int:incident_id>/updates/", views.incident_post_update, name="post_update"),
    path("deployments/", views.deployment_index, name="deployments"),
    path("postmortems/", postmortem_views.postmortem_index, name="postmortems"),
    path("<int:incident_id>/postmortem/", postmortem_views.postmortem_edit, name="postmortem"),
    path(
        "<int:incident_id>/postmortem.md",
        postmortem_views.postmortem_export,
        name="postmortem_markdown",
    ),
]
