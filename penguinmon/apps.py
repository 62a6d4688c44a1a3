from django.apps import AppConfig


class PenguinmonConfig(AppConfig):
    name = "penguinmon"
    verbose_name = "PenguinMon"
