"""The metric store: series, raw samples, rollups, histograms (see collectors/store/*.py)."""

from collectors.store.errors import IngestError, QueryError
from collectors.store.ingest import add_request_histograms, write_request_timings, write_samples

__all__ = [
    "IngestError",
    "add_request_histograms",
    "QueryError",
    "write_request_timings",
    "write_samples",
]
