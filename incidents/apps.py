from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _create_default_slos(sender, **kwargs) -> None:
    from alerts.models import AlertRule
    from collectors.models import Service
    from incidents.slo.defaults import ensure_default_slos
    from incidents.slo.models import SLO

    ensure_default_slos(SLO, Service, AlertRule)


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        # After a flush (tests, a reset database) the defaults come back like alert rules do.
        post_migrate.connect(
            _create_default_slos, sender=self, dispatch_uid="incidents-default-slos"
        )
