from django.apps import AppConfig


class CollectorsConfig(AppConfig):
    name = "collectors"

    def ready(self) -> None:
        from collectors import security  # noqa: F401 (connects the security event receivers)
