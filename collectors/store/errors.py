class IngestError(ValueError):
    """A batch was refused; nothing of it was written.

    ``index`` is the position of the offending item (None for the batch itself), ``field`` the
    item's field, ``status`` the HTTP status the API answers with.
    """

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        field: str = "",
        status: int = 422,
        collection: str = "samples",
    ):
        self.index = index
        self.field = field
        self.status = status
        where = f"{collection}[{index}]" if index is not None else ""
        if where and field:
            where += f".{field}"
        super().__init__(f"{where}: {message}" if where else message)


class QueryError(ValueError):
    """A query that cannot be answered as asked (bad parameters, data out of retention)."""
