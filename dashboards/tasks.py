"""Celery tasks of the dashboards app: thin wrappers around dashboards.reports."""

from __future__ import annotations

from celery import shared_task

from dashboards import reports


@shared_task(ignore_result=True)
def send_due_reports() -> dict:
    # Safe to run twice at once: each report is claimed with compare-and-set before sending.
    return reports.send_due_reports()
