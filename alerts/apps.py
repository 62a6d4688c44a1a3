from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _create_default_rules(sender, **kwargs) -> None:
    from alerts.defaults import ensure_default_rules
    from alerts.models import AlertRule, EscalationPolicy

    ensure_default_rules(AlertRule, EscalationPolicy)


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        from alerts.selectors import provide_maintenance_windows

        provide_maintenance_windows()
        # After a flush (tests, a reset database) the defaults come back like content types do.
        post_migrate.connect(
            _create_default_rules, sender=self, dispatch_uid="alerts-default-rules"
        )
