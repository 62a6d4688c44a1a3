from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from collectors.receivers.views import otlp_metrics
from dashboards.views import home
from incidents.views import incident_from_alert
from penguinmon.api import api
from penguinmon.metrics import metrics_view

admin.site.site_header = "PenguinMon administration"
admin.site.site_title = "PenguinMon"

urlpatterns = [
    path("", home, name="home"),
    # Pages without our <link rel="icon"> (Django admin) make browsers ask for /favicon.ico.
    path("favicon.ico", RedirectView.as_view(url=static("img/penguinmon.svg"), permanent=True)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/otlp/v1/metrics", otlp_metrics, name="otlp-metrics-api"),
    path("api/", api.urls),
    path("v1/metrics", otlp_metrics, name="otlp-metrics"),
    path("metrics", metrics_view, name="metrics"),
    path("services/", include("collectors.urls")),
    # An alert's "Create incident" is an incidents write; its address stays under the alert.
    path("alerts/<int:alert_id>/incident/", incident_from_alert, name="incident-from-alert"),
    path("alerts/", include("alerts.urls")),
    path("incidents/", include("incidents.urls")),
    path("status/", include("incidents.status_urls")),
    path("reputation/", include("reputation.urls")),
    path("", include("dashboards.urls")),
]
