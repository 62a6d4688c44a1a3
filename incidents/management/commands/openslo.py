"""OpenSLO v1 in and out: ``manage.py openslo export [--service api] [-o slos.yaml]`` and
``manage.py openslo import slos.yaml`` (all or nothing; SLOs matched by name)."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from incidents.slo import openslo
from incidents.slo.selectors import slo_list


class Command(BaseCommand):
    help = "Export SLOs as OpenSLO v1 YAML, or import them from it."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write OpenSLO YAML")
        export.add_argument("--service", help="only this service's SLOs")
        export.add_argument("-o", "--output", help="file to write (default: stdout)")
        imp = sub.add_parser("import", help="create or update SLOs from OpenSLO YAML")
        imp.add_argument("path", help="a YAML file, or - for stdin")

    def handle(self, *args, **options) -> None:
        if options["action"] == "export":
            slos = slo_list()
            if options.get("service"):
                slos = [s for s in slos if s.service.name == options["service"]]
            text = openslo.dump(slos)
            if options.get("output"):
                Path(options["output"]).write_text(text)
                self.stdout.write(f"{len(slos)} SLOs written to {options['output']}")
            else:
                self.stdout.write(text, ending="")
            return
        path = options["path"]
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        try:
            result = openslo.load(text)
        except openslo.OpenSloError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"created {len(result.created)}: {', '.join(result.created) or '-'}; "
            f"updated {len(result.updated)}: {', '.join(result.updated) or '-'}"
        )
