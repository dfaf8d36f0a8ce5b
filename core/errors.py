"""The project's own error type: every message in it is meant for the user to read."""


class DiffusionVizError(Exception):
    """A problem the user can fix (bad file, missing font, wrong folder), with a clear message."""


class ImageLoadError(DiffusionVizError):
    """An image could not be read."""


class ModelLoadError(DiffusionVizError):
    """A model folder could not be loaded."""


class DataError(DiffusionVizError):
    """A training or evaluation data set could not be read."""


class DeviceError(DiffusionVizError):
    """The device asked for (CUDA, MPS) is not available here."""
