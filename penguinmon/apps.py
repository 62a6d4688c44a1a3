from django.apps import AppConfig


class PenguinmonConfig(AppConfig):
    name = "penguinmon"
    verbose_name = "PenguinMon"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from penguinmon.observability import capture_event

        def logged_in(sender, request, user, **kwargs):
            capture_event(distinct_id=user.get_username(), event="penguinmon user logged in")

        user_logged_in.connect(logged_in, weak=False, dispatch_uid="penguinmon-posthog-login")
