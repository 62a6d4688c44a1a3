"""What the protocol receivers share: their error type and how they cut a payload into the
store's batches."""

from collections.abc import Iterator


class ReceiverError(ValueError):
    """A payload a receiver refuses; ``status`` is the HTTP status its protocol answers with
    (400 for what cannot be read, 413 for too large, 415 for an unknown encoding...)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def chunks(items: list[dict], limit: int) -> Iterator[list[dict]]:
    """Split series-grouped items (``{"metric", "labels", "points", ...}``) into batches of at
    most ``limit`` points each: the store's batch limit, whatever the payload's size."""
    batch, size = [], 0
    for item in items:
        points = item["points"]
        for start in range(0, len(points), limit):
            part = points[start : start + limit]
            if size + len(part) > limit and batch:
                yield batch
                batch, size = [], 0
            batch.append({**item, "points": part})
            size += len(part)
    if batch:
        yield batch
