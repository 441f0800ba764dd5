"""Exceptions and warnings raised by the geodata layer (all carry a human-readable message)."""


class RasterError(Exception):
    """A raster cannot be opened, read or written (bad file, bad window, bad band choice)."""


class SourceClosedError(RasterError):
    """A read of a raster source that was closed (e.g. a late model request for a closed image)."""


class GridMismatchError(RasterError):
    """A mask is not on the image's pixel grid; the message lists what differs."""


class ExportError(Exception):
    """An export could not be completed; no partial output file is left behind."""


class Cancelled(Exception):
    """The caller's cancel hook asked a long operation (overviews, export) to stop."""


class ExportCancelled(ExportError, Cancelled):
    """An export was cancelled; no partial output file is left behind."""


class GeoWarning(UserWarning):
    """Something works but the user should know (e.g. exporting a raster that has no CRS)."""
