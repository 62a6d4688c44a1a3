import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from penguinmon.roles import ROLES


class Command(BaseCommand):
    help = (
        "Create the role groups and the admin user (password from PENGUINMON_ADMIN_PASSWORD, "
        "else generated and printed once). Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("PENGUINMON_ADMIN_USER", "admin"))

    def handle(self, *args, username, **options):
        for role in ROLES:
            Group.objects.get_or_create(name=role)
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin user {username!r} exists; password unchanged.")
            return
        password = os.environ.get("PENGUINMON_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if os.environ.get("PENGUINMON_ADMIN_PASSWORD"):
            self.stdout.write(f"Created admin user {username!r} with PENGUINMON_ADMIN_PASSWORD.")
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin user {username!r} with password: {password}\n"
                    "  (shown once; change it in /admin/ or set PENGUINMON_ADMIN_PASSWORD next time)"
                )
            )
