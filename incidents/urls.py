from django.urls import path

from incidents import views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_index, name="list"),
    path("<int:incident_id>/", views.incident_detail, name="detail"),
    path("<int:incident_id>/updates/", views.incident_post_update, name="post_update"),
    path("deployments/", views.deployment_index, name="deployments"),
]
