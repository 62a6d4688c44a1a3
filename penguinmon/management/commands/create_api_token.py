from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from penguinmon.models import SCOPES, ApiToken


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="username the token acts as")
        parser.add_argument(
            "--scopes", default="read", help=f"comma-separated subset of {','.join(SCOPES)}"
        )
        parser.add_argument("--name", default="", help="a label to recognise the token in admin")

    def handle(self, *args, user, scopes, name, **options):
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"no user named {user!r}") from exc
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        try:
            _, raw = ApiToken.issue(user=owner, scopes=wanted, name=name)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(raw)
