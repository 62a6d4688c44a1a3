class ReceiverError(ValueError):
    """A payload a receiver refuses; ``status`` is the HTTP status its protocol answers with
    (400 for what cannot be read, 413 for too large, 415 for an unknown encoding...)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
