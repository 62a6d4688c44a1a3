"""The metric store: series, raw samples, rollups, histograms (see collectors/store/*.py)."""

from collectors.store.errors import IngestError, QueryError
from collectors.store.ingest import write_request_timings, write_samples

__all__ = ["IngestError", "QueryError", "write_request_timings", "write_samples"]
