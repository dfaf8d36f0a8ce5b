"""The analysis views' one error type: bad input the user can fix, said in one line."""

from core.errors import DiffusionVizError


class AnalysisError(DiffusionVizError):
    """K out of range, a frame with nothing left to decide, an image too small for the spectrum's bins."""
