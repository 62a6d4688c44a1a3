import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "penguinmon.settings")
application = get_wsgi_application()

# Imported after setup: the public status page's repeat views are answered from memory, and
# readiness probes and token-authenticated metric queries are answered without the request
# cycle around them.
from collectors.store.query_wsgi import QueryFastPath  # noqa: E402
from incidents.status_wsgi import StatusPageFastPath  # noqa: E402
from penguinmon.health_wsgi import HealthFastPath  # noqa: E402

application = HealthFastPath(QueryFastPath(StatusPageFastPath(application)))
