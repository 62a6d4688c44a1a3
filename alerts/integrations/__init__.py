"""Alerts fired by other systems (Prometheus Alertmanager, Grafana Alerting) landing in
PenguinMon's feed through their webhook notifiers."""
