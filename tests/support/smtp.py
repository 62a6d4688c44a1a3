"""A real SMTP server (aiosmtpd) on 127.0.0.1 with Django's mail settings pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiosmtpd.controller import Controller

from tests.support.net import free_port


@contextmanager
def smtp_server_for(handler, settings) -> Iterator[Controller]:
    """Run ``handler`` (an aiosmtpd handler) on a free port while Django sends mail to it."""
    port = free_port()  # aiosmtpd needs a concrete port to check it started
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    try:
        yield controller
    finally:
        controller.stop()
