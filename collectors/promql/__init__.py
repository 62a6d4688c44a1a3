"""PromQL for the Prometheus query API under /api/prom/ (see the README, "Querying with PromQL").

parse (``ast``: promql-parser's tree adapted, unsupported syntax refused by name) → evaluate
(``engine``: every node over all steps at once; ``reads``: one read of the store per selector;
``functions``, ``aggregation``, ``binary``: Prometheus 2.42's semantics) → answer (``answers``,
``views``: Prometheus' JSON shapes). ``catalog`` serves series, label and metadata listings.
"""
