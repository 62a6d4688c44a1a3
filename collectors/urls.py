from django.urls import path

from collectors import views

app_name = "collectors"
urlpatterns = [
    path("", views.services_page, name="services"),
    path("<slug:name>/", views.service_page, name="service"),
    path("<slug:name>/probes/<int:probe_id>/run/", views.run_probe_view, name="run-probe"),
]
