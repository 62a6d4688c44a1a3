"""OpenSLO v1 export and import, through the API and the management command."""

from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import CommandError, call_command

from alerts.models import AlertRule
from collectors.models import Service
from incidents.models import SLO
from incidents.slo.services import owner_key, slo_create

pytestmark = pytest.mark.django_db

SHOP_YAML = """
apiVersion: openslo/v1
kind: SLI
metadata:
  name: shop-fast-sli
spec:
  ratioMetric:
    counter: true
    good:
      metricSource:
        type: PenguinMon
        spec: {sli: latency, service: shop, route: /v1/cart, threshold_ms: 300, events: good}
    total:
      metricSource:
        type: PenguinMon
        spec: {sli: latency, service: shop, route: /v1/cart, threshold_ms: 300, events: total}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: shop-fast
  displayName: Shop cart fast
spec:
  description: Cart answers within 300 ms
  service: shop
  indicatorRef: shop-fast-sli
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - target: 0.99
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: shop-up
spec:
  service: shop
  indicator:
    metadata: {name: shop-up-sli}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: PenguinMon, spec: {sli: availability, service: shop}}}
        total: {metricSource: {type: PenguinMon, spec: {sli: availability, service: shop}}}
  budgetingMethod: Timeslices
  timeWindow:
    - duration: 1M
      isRolling: false
      calendar: {startTime: "2020-01-01 00:00:00", timeZone: UTC}
  objectives:
    - target: 0.9995
"""


@pytest.fixture
def shop():
    return Service.objects.create(name="shop", display_name="Shop", kind="api")


def test_import_creates_slos_with_their_rules_and_export_round_trips(api, shop):
    resp = api.post("/api/v1/slos/openslo", raw=SHOP_YAML)
    assert resp.status_code == 200, resp.content
    assert resp.json() == {"created": ["Shop cart fast", "shop-up"], "updated": []}
    fast = SLO.objects.get(name="Shop cart fast")
    assert (fast.sli_kind, fast.route, fast.threshold_ms) == ("latency", "/v1/cart", 300)
    assert (fast.objective_pct, fast.window) == (pytest.approx(99.0), "28d")
    up = SLO.objects.get(name="shop-up")
    assert (up.sli_kind, up.window, up.objective_pct) == ("availability", "month", 99.95)
    assert AlertRule.objects.filter(managed_by=owner_key(up)).count() == 4

    exported = api.get("/api/v1/slos/openslo", service="shop")
    assert exported["Content-Type"] == "application/yaml"
    docs = list(yaml.safe_load_all(exported.content))
    assert [d["kind"] for d in docs] == ["SLI", "SLO", "SLI", "SLO"]
    slo_doc = next(d for d in docs if d["metadata"].get("displayName") == "Shop cart fast")
    assert slo_doc["spec"]["timeWindow"] == [{"duration": "28d", "isRolling": True}]
    assert slo_doc["spec"]["objectives"][0]["target"] == 0.99

    # Importing the export again changes nothing but counts as updates.
    again = api.post("/api/v1/slos/openslo", raw=exported.content.decode())
    assert again.json() == {"created": [], "updated": ["Shop cart fast", "shop-up"]}
    assert SLO.objects.get(name="Shop cart fast").threshold_ms == 300


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("0.99", "1.5"), "objective_pct"),
        (("duration: 28d", "duration: 7d"), "timeWindow '7d' is not supported"),
        (("threshold_ms: 300, events: total", "threshold_ms: 0, events: total"), "threshold_ms"),
        (("service: shop\n  indicatorRef", "service: nope\n  indicatorRef"), "unknown service"),
        (("apiVersion: openslo/v1\nkind: SLI", "apiVersion: openslo/v2\nkind: SLI"), "apiVersion"),
        (
            (
                "type: PenguinMon\n        spec: {sli: latency, service: shop, route: /v1/cart, threshold_ms: 300, events: total}",
                "type: Prometheus\n        spec: {}",
            ),
            "Prometheus",
        ),
    ],
)
def test_a_bad_document_is_a_400_and_imports_nothing(api, shop, change, message):
    before = SLO.objects.count()
    old, new = change
    assert old in SHOP_YAML
    resp = api.post("/api/v1/slos/openslo", raw=SHOP_YAML.replace(old, new, 1))
    assert resp.status_code == 400
    assert message in resp.json()["error"]
    assert SLO.objects.count() == before  # the valid SLO of the file was not kept either


def test_the_management_command_exports_and_imports(shop, tmp_path):
    slo_create(name="Shop ok", service="shop", sli_kind="success_ratio", objective_pct=99.5)
    out = tmp_path / "slos.yaml"
    call_command("openslo", "export", "--service", "shop", "-o", str(out))
    docs = list(yaml.safe_load_all(out.read_text()))
    assert docs[1]["metadata"] == {"name": "shop-ok", "displayName": "Shop ok"}

    SLO.objects.filter(name="Shop ok").delete()
    stdout = io.StringIO()
    call_command("openslo", "import", str(out), stdout=stdout)
    assert "created 1: Shop ok" in stdout.getvalue()
    assert SLO.objects.get(name="Shop ok").objective_pct == 99.5

    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: SLO\n")
    with pytest.raises(CommandError, match="apiVersion must be openslo/v1"):
        call_command("openslo", "import", str(bad))
