from django.urls import path

from reputation import views

app_name = "reputation"
urlpatterns = [
    path("", views.index, name="index"),
    path("check/", views.check_all, name="check_all"),
    path("domains/check/", views.domains_check, name="domains_check"),
    path("ips/<int:pk>/", views.ip_detail, name="ip"),
    path("ip/<str:address>/", views.ip_by_address, name="ip_by_address"),
    path("ips/<int:pk>/check/", views.ip_check, name="ip_check"),
    path("ips/<int:pk>/rotate/", views.ip_rotate, name="ip_rotate"),
    path("ips/<int:pk>/history.csv", views.ip_history_csv, name="ip_csv"),
]
