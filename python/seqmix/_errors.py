"""The exception every seqmix failure raises."""


class SeqmixError(ValueError):
    """A spec, option, argument or compile error. For compile errors,
    `diagnostics` holds (severity, location, message) tuples, location as
    "<source>:<line>:<col>" or "" when the problem has no place in the
    input."""

    def __init__(self, message, diagnostics=()):
        super().__init__(message)
        self.diagnostics = list(diagnostics)
