import gc
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

# Everything loaded so far (Django, the apps, their modules) lives as long as the worker: moved
# out of the collector's reach, so a full collection walks only what requests allocated. A
# full collection over the whole heap had landed on random requests: the query API's 24 h p95
# went from 5.5-6.3 ms to 4.8-5.5 (benchmarks/bench_query.py, same machine and hour).
gc.freeze()
