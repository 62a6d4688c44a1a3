import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "penguinmon.settings")
application = get_wsgi_application()

# Imported after setup: the public status page's repeat views are answered from memory.
from incidents.status_wsgi import StatusPageFastPath  # noqa: E402

application = StatusPageFastPath(application)
