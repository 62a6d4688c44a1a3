from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        # Imported here: the handler's module needs the models, which are not loaded before.
        from incidents.slo.defaults import create_default_slos

        # After a flush (tests, a reset database) the defaults come back like alert rules do.
        post_migrate.connect(
            create_default_slos, sender=self, dispatch_uid="incidents-default-slos"
        )
