"""The 2-D playground (#12, #24): point-cloud data, an exact Gaussian-mixture score, a small MLP, samplers on points.

Everything here works on point clouds ``[N, 2]`` that lie roughly in the box [−2, 2]². The modules, each
importing only those above it:

``points``      ``[N, 2]`` tensors and read-only frame arrays
``mixture``     :class:`GaussianMixture`: the diffused density, its exact score, its classes
``data``        the named data sets, an image's ink, drawn points
``model``       :class:`ToyMLP` and :class:`TrainSettings`
``training``    :func:`train_toy`: the simple loss (Ho et al. 2020, Eq. 14)
``sampling``    DDPM, DDIM, annealed Langevin on points (:class:`ToyFrame`)
``metrics``     sliced Wasserstein distance, the learned score against the exact one
``rendering``   GIF pictures of a run
``run``         :func:`playground_run`: train, sample, measure

The names below are the public API; ``from core.toy2d import X`` is how the rest of the program reaches them.
"""

from core.toy2d.data import (
    BOX,
    DATASETS,
    MIN_DRAWN_POINTS,
    check_drawn_points,
    make_dataset,
    normalise_points,
    points_from_image,
)
from core.toy2d.metrics import score_error_on_grid, sliced_wasserstein
from core.toy2d.mixture import GaussianMixture, default_mixture
from core.toy2d.model import DEFAULT_TRAIN, ToyMLP, TrainSettings, fourier_features
from core.toy2d.points import as_points
from core.toy2d.rendering import render_points_gif_frames
from core.toy2d.run import playground_run
from core.toy2d.sampling import (
    DIVERGED,
    TOY_SAMPLERS,
    ToyFrame,
    annealed_langevin,
    default_langevin_step_size,
    field_on_grid,
    langevin_levels,
    sample_toy,
)
from core.toy2d.training import train_toy

__all__ = [
    "BOX",
    "DATASETS",
    "DEFAULT_TRAIN",
    "DIVERGED",
    "MIN_DRAWN_POINTS",
    "TOY_SAMPLERS",
    "GaussianMixture",
    "ToyFrame",
    "ToyMLP",
    "TrainSettings",
    "annealed_langevin",
    "as_points",
    "check_drawn_points",
    "default_langevin_step_size",
    "default_mixture",
    "field_on_grid",
    "fourier_features",
    "langevin_levels",
    "make_dataset",
    "normalise_points",
    "playground_run",
    "points_from_image",
    "render_points_gif_frames",
    "sample_toy",
    "score_error_on_grid",
    "sliced_wasserstein",
    "train_toy",
]
