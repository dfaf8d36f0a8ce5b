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


class ImageFolderError(ModelLoadError):
    """A folder of pictures was given where a model folder was expected: it can become an ideal or Gaussian model."""

    def __init__(self, folder: str, count: int) -> None:
        self.folder, self.count = folder, count
        super().__init__(
            f"{folder} holds {count} picture{'s' if count != 1 else ''}, not a model folder: open it as ideal:{folder} "
            f"(the exact denoiser of those pictures) or gaussian:{folder} (their Gaussian model)"
        )
