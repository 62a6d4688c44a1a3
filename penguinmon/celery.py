import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "penguinmon.settings")

app = Celery("penguinmon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Tasks that live below an app package (not in <app>/tasks.py).
app.autodiscover_tasks(["collectors.store"])
