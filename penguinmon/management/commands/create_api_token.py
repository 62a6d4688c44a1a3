import re
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from penguinmon.models import SCOPES, ApiToken

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(raw: str) -> timedelta:
    """ "90d", "12h", "30m", "2w" -> a timedelta (a positive whole number and one unit)."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*([mhdw])\s*", raw or "")
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"--expires-in must look like 90d, 12h, 30m or 2w; got {raw!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="username the token acts as")
        parser.add_argument(
            "--scopes", default="read", help=f"comma-separated subset of {','.join(SCOPES)}"
        )
        parser.add_argument("--name", default="", help="a label to recognise the token in admin")
        parser.add_argument(
            "--expires-in",
            default="",
            help="lifetime, e.g. 90d, 12h, 2w; the token is refused afterwards (default: no expiry)",
        )

    def handle(self, *args, user, scopes, name, expires_in, **options):
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"no user named {user!r}") from exc
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        try:
            expires_at = timezone.now() + parse_duration(expires_in) if expires_in else None
            _, raw = ApiToken.issue(user=owner, scopes=wanted, name=name, expires_at=expires_at)
        except (ValueError, OverflowError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(raw)
        if expires_at is not None:
            self.stderr.write(f"expires at {expires_at:%Y-%m-%d %H:%M} UTC")
