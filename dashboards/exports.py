"""CSV and Excel files of a panel's table (the same rows the panel shows or plots)."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from dashboards.panels.base import Table
from penguinmon.spreadsheets import cell_text

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return cell_text(", ".join(str(v) for v in value))
    return cell_text(value)


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        # Excel has no time zones: write the site-local wall time.
        return timezone.localtime(value).replace(tzinfo=None)
    if isinstance(value, (list, tuple)):
        return cell_text(", ".join(str(v) for v in value))
    if isinstance(value, (dict, set)):
        return cell_text(str(value))
    return cell_text(value)


def to_csv(table: Table) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([cell_text(c) for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_cell(v) for v in row])
    # A BOM lets Excel open UTF-8 CSV with non-ASCII names correctly.
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(table: Table, *, title: str, subtitle: str = "") -> bytes:
    wb = Workbook(write_only=False)
    ws = wb.active
    # Excel refuses []:*?/\ in sheet titles (a panel title with a colon made the export fail).
    ws.title = re.sub(r"[\[\]:*?/\\]", "-", title[:31]) or "panel"
    ws.append([cell_text(title)])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append([cell_text(subtitle)])
    ws.append([])
    ws.append([cell_text(c) for c in table.columns])
    header_row = ws.max_row
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
    widths = [len(str(c)) for c in table.columns]
    for row in table.rows:
        cells = [_xlsx_cell(v) for v in row]
        ws.append(cells)
        for i, v in enumerate(cells[: len(widths)]):
            widths[i] = max(widths[i], min(40, len(str(v)) if v is not None else 0))
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w + 2
        for (cell,) in ws.iter_rows(min_row=header_row + 1, min_col=i, max_col=i):
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
