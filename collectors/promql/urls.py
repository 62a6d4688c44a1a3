from django.urls import path

from collectors.promql import views

app_name = "prom"
urlpatterns = [
    path("query", views.query, name="query"),
    path("query_range", views.query_range, name="query-range"),
    path("series", views.series, name="series"),
    path("labels", views.labels, name="labels"),
    path("label/<str:name>/values", views.label_values, name="label-values"),
    path("metadata", views.metadata, name="metadata"),
    path("status/buildinfo", views.buildinfo, name="buildinfo"),
]
