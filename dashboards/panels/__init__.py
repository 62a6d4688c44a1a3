"""Dashboard panels: each is a query against the store plus a figure builder (see base.py)."""

from dashboards.panels.base import Panel, RenderedPanel, Table, render

__all__ = ["Panel", "RenderedPanel", "Table", "render"]
