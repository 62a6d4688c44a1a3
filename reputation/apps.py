from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_defaults(sender, **kwargs) -> None:
    # After a flush (TransactionTestCase, `manage.py flush`) the migration's rows are gone;
    # post_migrate runs then too, so the default zones come back.
    from reputation.zones import install_default_zones

    install_default_zones()


class ReputationConfig(AppConfig):
    name = "reputation"

    def ready(self) -> None:
        post_migrate.connect(
            _install_defaults, sender=self, dispatch_uid="reputation-default-zones"
        )
