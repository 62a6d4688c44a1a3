"""The five dashboards: which panels each shows, in order, and which capability opens it."""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.kpis import EXECUTIVE_KPIS
from dashboards.panels.base import Alarm, Panel
from dashboards.panels.capacity import CapacityPanel
from dashboards.panels.charts import LabelBarsPanel, SeriesSpec, TimeseriesPanel
from dashboards.panels.development import (
    DeploymentsPanel,
    ErrorRatePanel,
    RouteLatencyPanel,
    SlowQueriesPanel,
)
from dashboards.panels.executive import KpiTilesPanel, MonthOverMonthPanel, RiskPanel
from dashboards.panels.feeds import (
    ActiveAlertsPanel,
    AlertsFeedPanel,
    IncidentsPanel,
    IpReputationPanel,
    MaintenancePanel,
    OverdueActionsPanel,
)
from dashboards.panels.health import ServiceHealthPanel
from dashboards.panels.hosts import HostResourcesPanel
from dashboards.panels.slo import ErrorBudgetsPanel
from dashboards.panels.tenants import AccountHealthPanel, FeatureAdoptionPanel, TenantSlaPanel
from dashboards.panels.traffic import ScalingPanel, TableHeatmapPanel


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    path: str
    capability: str
    panels: tuple[Panel, ...]
    intro: str = ""
    now_strip: bool = False  # the on-call "now" strip (alerts.now) above the panels
    pickers: tuple[str, ...] = ()  # labels the page can be narrowed to (timerange.PICKERS)
    see_also: tuple[tuple[str, str], ...] = ()  # (label, url) links beside the intro

    def panel(self, key: str) -> Panel | None:
        return next((p for p in self.panels if p.key == key), None)


_SLA = [(99.9, "SLA 99.9%")]

EXECUTIVE = Page(
    "executive",
    "Executive",
    "/dashboard/executive/",
    "view_executive",
    (
        KpiTilesPanel(
            "kpis",
            "Key performance indicators",
            EXECUTIVE_KPIS,
            "Each tile: the value for the range, and the change against the previous period.",
        ),
        RiskPanel(
            "risks",
            "Risk indicators",
            EXECUTIVE_KPIS,
            "KPIs that miss their target, or moved the wrong way by more than 5%.",
        ),
        ErrorBudgetsPanel(),
        MonthOverMonthPanel(
            "month-over-month",
            "Month over month",
            EXECUTIVE_KPIS[3:13],
            "The 30 days ending at the range's end against the 30 days before.",
        ),
        TimeseriesPanel(
            "revenue",
            "Monthly recurring revenue",
            [SeriesSpec("mrr_usd", "last", name="MRR")],
            unit="USD",
        ),
        TimeseriesPanel(
            "active-users",
            "Active users",
            [SeriesSpec("dau", "last", name="DAU"), SeriesSpec("mau", "last", name="MAU")],
            unit="users",
        ),
        TimeseriesPanel(
            "uptime",
            # Per bucket, the share of probe runs that succeeded: not the uptime figure (that
            # is status history, on the Uptime tile and the SLA table), so named for what it is.
            "Probe success vs the SLA",
            [SeriesSpec("probe_up", "avg", combine="avg", name="probe success", scale=100)],
            unit="%",
            thresholds=_SLA,
            alarm=Alarm(near=99.95, bad=99.9, bad_above=False),
        ),
        TimeseriesPanel(
            "deliverability",
            "Inbox placement",
            [SeriesSpec("inbox_placement_pct", "avg", combine="avg", name="inbox placement")],
            unit="%",
            thresholds=[(95, "target 95%")],
            alarm=Alarm(near=97, bad=95, bad_above=False),
        ),
        IncidentsPanel(),
    ),
    "Business and system health at a glance.",
)

OPERATIONS = Page(
    "operations",
    "Operations",
    "/dashboard/operations/",
    "view_operations",
    (
        ServiceHealthPanel(),
        HostResourcesPanel(),
        CapacityPanel(),
        TimeseriesPanel(
            "queue-backlogs",
            "Queue backlogs",
            [
                # The worst moment of each bucket: a backlog that drained by the bucket's end
                # still delayed mail.
                SeriesSpec("smtp_queue_size", "max", by="service", combine="sum"),
                SeriesSpec("celery_queue_length", "max", by="queue", combine="sum"),
            ],
            unit="messages",
            description="MTA queue per SMTP service and Celery queues, from the probes.",
            thresholds=[(10_000, "SMTP alert 10k")],
            compare=False,
            alarm=Alarm(near=5_000, bad=10_000),  # the default "SMTP queue above 10k" rule
        ),
        TimeseriesPanel(
            "api-throughput",
            "API requests per minute",
            [SeriesSpec("http_requests", "rate", combine="sum", name="requests/min", scale=60)],
            unit="req/min",
            thresholds=[(1000, "capacity target 1000/min")],
        ),
        TimeseriesPanel(
            "email-throughput",
            "Emails sent per hour",
            [SeriesSpec("emails_sent", "rate", combine="sum", name="emails/hour", scale=3600)],
            unit="emails/h",
        ),
        TimeseriesPanel(
            "sessions",
            "Active sessions",
            [SeriesSpec("active_sessions", "avg", combine="sum", name="sessions")],
            unit="sessions",
        ),
        ActiveAlertsPanel(),
        IncidentsPanel(),
        OverdueActionsPanel(),
        MaintenancePanel(),
        ScalingPanel(),
        TimeseriesPanel(
            "security",
            "Security: logins, refusals, tokens, audit",
            [
                SeriesSpec("security_logins", "sum", {"result": "failure"}, name="failed logins"),
                SeriesSpec("security_lockouts", "sum", name="lockouts"),
                SeriesSpec("security_forbidden", "sum", name="refused (403)"),
                SeriesSpec("security_token_new_address", "sum", name="token from new address"),
                SeriesSpec("security_audit_events", "sum", name="audited actions"),
            ],
            unit="events",
            compare=False,
            description="PenguinMon's own doors, per chart step. The default rules alert on a "
            "failed-login burst, any lockout and a 403 spike.",
        ),
        LabelBarsPanel(
            "forbidden-by-route",
            "Refused requests (403) by route",
            "security_forbidden_by_route",
            "route",
            description="Which routes refuse most.",
        ),
        LabelBarsPanel(
            "forbidden-by-actor",
            "Refused requests (403) by user or token",
            "security_forbidden_by_route",
            "actor",
            description="Who was refused: a username, a token's prefix, or anonymous.",
        ),
    ),
    "Real-time status, capacity and incidents.",
    now_strip=True,
    see_also=(("Table traffic", "/dashboard/operations/table-traffic/"),),
    pickers=("service", "host"),
)

# The heatmap of 80-90 tables is a page of its own: on the operations page it made the page
# 5,400 px tall and pushed everything on call needs below it.
TABLE_TRAFFIC = Page(
    "table-traffic",
    "Table traffic",
    "/dashboard/operations/table-traffic/",
    "view_operations",
    (TableHeatmapPanel(),),
    "Operations per hour per database table against the volumes planned in seed 001.",
    see_also=(("Operations", "/dashboard/operations/"),),
)

DEVELOPMENT = Page(
    "development",
    "Development",
    "/dashboard/development/",
    "view_development",
    (
        RouteLatencyPanel(),
        ErrorRatePanel(),
        LabelBarsPanel(
            "errors-by-route",
            "5xx errors by route",
            "http_requests",
            "route",
            labels={"status_class": "5xx"},
            unit="errors",
            description="Server errors per route: where to look first.",
        ),
        SlowQueriesPanel(),
        ErrorBudgetsPanel("budget-state", "Error budgets and reliability freeze"),
        DeploymentsPanel(),
        LabelBarsPanel(
            "feature-usage",
            "Feature usage",
            "feature_usage",
            "feature",
            unit="uses",
            description="Uses per feature, all tenants, against the previous period.",
        ),
    ),
    "Application performance, errors and releases.",
    pickers=("service", "route"),
)

CUSTOMER_SUCCESS = Page(
    "customer-success",
    "Customer success",
    "/dashboard/customer-success/",
    "view_customer_success",
    (
        AccountHealthPanel(),
        TenantSlaPanel(),
        LabelBarsPanel(
            "deliverability-by-tenant",
            "Inbox placement per tenant",
            "inbox_placement_pct",
            "tenant",
            agg="avg",
            combine="avg",
            unit="%",
            threshold=(95, "target 95%"),
        ),
        TimeseriesPanel("nps", "NPS trend", [SeriesSpec("nps", "last", name="NPS")], unit="NPS"),
        TimeseriesPanel(
            "support-volume",
            "Support tickets opened",
            [SeriesSpec("support_tickets_opened", "sum", combine="sum", name="tickets")],
            unit="tickets",
        ),
        TimeseriesPanel(
            "resolution-time",
            "Ticket resolution time",
            [SeriesSpec("support_resolution_hours", "avg", combine="avg", name="mean resolution")],
            unit="h",
        ),
        TimeseriesPanel(
            "product-usage",
            "Campaigns created",
            [SeriesSpec("campaigns_created", "sum", combine="sum", name="campaigns")],
            unit="campaigns",
        ),
        FeatureAdoptionPanel(),
    ),
    "Account health, usage, support and SLAs per customer.",
    pickers=("tenant",),
)

INFRASTRUCTURE = Page(
    "infrastructure",
    "Infrastructure",
    "/dashboard/system/infrastructure/",
    "view_infrastructure",
    (
        ServiceHealthPanel(),
        TimeseriesPanel(
            "probe-latency",
            "Probe response time",
            [SeriesSpec("probe_latency_ms", "avg", by="service", combine="max")],
            unit="ms",
            thresholds=[(3000, "3 s")],
            compare=False,
            alarm=Alarm(near=1000, bad=3000),  # degraded at 1 s (services), alert at 3 s
        ),
        HostResourcesPanel(),
        IpReputationPanel(),
        AlertsFeedPanel(),
    ),
    "Service health, sending-IP reputation and the alert stream.",
    now_strip=True,
    pickers=("service", "host"),
)

PAGES: tuple[Page, ...] = (
    EXECUTIVE,
    OPERATIONS,
    DEVELOPMENT,
    CUSTOMER_SUCCESS,
    INFRASTRUCTURE,
    TABLE_TRAFFIC,
)


def page_by_slug(slug: str) -> Page | None:
    return next((p for p in PAGES if p.slug == slug), None)
