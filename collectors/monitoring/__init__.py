"""Service monitoring: probes and their runs, service health, hosts (see collectors/monitoring/*.py).

Writes: ``probing`` (run probes, record results and status changes), ``hosts`` (host samples
and snapshots), ``config`` (services' and probes' settings). Reads: ``selectors``; the health
rules: ``health``; the JSON API: ``api``.
"""
