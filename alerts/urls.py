from django.urls import path

from alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.feed, name="feed"),
    path("rows/", views.feed_rows, name="feed_rows"),
    path("now/", views.now_partial, name="now"),
    path("<int:alert_id>/", views.detail, name="detail"),
    path("<int:alert_id>/ack/", views.acknowledge, name="ack"),
    path("<int:alert_id>/note/", views.add_note, name="note"),
    path("<int:alert_id>/false-positive/", views.false_positive, name="false_positive"),
    path("silences/", views.silences, name="silences"),
    path("silences/preview/", views.silence_preview, name="silence_preview"),
    path("silences/<int:silence_id>/expire/", views.expire_silence, name="expire_silence"),
    path("rules/", views.rules, name="rules"),
    path("rules/<int:rule_id>/", views.rule_detail, name="rule_detail"),
]
