import importlib
import random
import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from collectors.models import Series

# Each module has load(*, days, now, rng) -> str. The collectors' own metric history comes first
# because it resets the metric store; the others add their records (and metrics) on top.
DEMO_MODULES = [
    "collectors.store.demo",
    "collectors.monitoring.demo",
    "reputation.demo",
    "alerts.demo",
    "incidents.demo",
    "dashboards.demo",
]


def _available() -> list:
    modules = []
    for name in DEMO_MODULES:
        try:
            modules.append((name, importlib.import_module(name)))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return modules


class Command(BaseCommand):
    help = (
        "Replace the metric store and the demo records with realistic history "
        "(hosts, services, request latencies, email volumes, business KPIs, sending IPs, alerts, incidents)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when metrics are already stored"
        )

    def handle(self, *args, days, seed, if_empty, **options):
        if days < 1 or days > 90:
            raise CommandError("--days must be between 1 and 90")
        if if_empty and Series.objects.exists():
            self.stdout.write(
                "Metrics already present; demo data not loaded (run `manage.py load_demo` to replace them)."
            )
            return
        now = datetime.now(UTC)
        rng = random.Random(seed)
        modules = _available()
        started = time.monotonic()
        with tqdm(total=len(modules), desc="demo data", unit="part", file=self.stderr) as bar:
            for name, module in modules:
                bar.set_postfix_str(name)
                summary = module.load(days=days, now=now, rng=rng)
                bar.update(1)
                tqdm.write(f"  {name}: {summary}", file=self.stderr)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded in {time.monotonic() - started:.1f} s.")
        )
