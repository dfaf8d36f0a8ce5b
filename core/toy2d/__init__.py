"""The 2-D playground (#12, #24): point-cloud data, an exact Gaussian-mixture score, a small MLP, samplers on points.

Everything here works on point clouds ``[N, 2]`` that lie roughly in the box [−2, 2]². The modules, each
importing only those above it:

``points``      ``[N, 2]`` tensors and read-only frame arrays
``mixture``     :class:`GaussianMixture`: the diffused density, its exact score, its classes
``data``        the named data sets, an image's ink, drawn points
``model``       :class:`ToyMLP` and :class:`TrainSettings`
``training``    :func:`train_toy`: the simple loss (Ho et al. 2020, Eq. 14); :func:`train_with` by settings
``sampling``    DDPM, DDIM, annealed Langevin, flow-matching Euler / Heun, guidance (:class:`ToyFrame`)
``metrics``     sliced Wasserstein distance, the learned score against the exact one
``rendering``   GIF pictures of a run
``rectified``   reflow: rectified flow's second round (Liu et al. 2023)
``memorisation`` copying against generalising by the number of training points (Kadkhodaie et al. 2024)
``run``         :func:`playground_run`: train, sample, measure

The names below are the public API; ``from core.toy2d import X`` is how the rest of the program reaches them.
"""

from core.toy2d.data import (
    BOX,
    DATASETS,
    MIN_DRAWN_POINTS,
    NUM_CLASSES,
    check_class,
    check_drawn_points,
    eight_gaussians,
    make_dataset,
    make_labelled_dataset,
    normalise_points,
    points_from_image,
)
from core.toy2d.memorisation import (
    COPY_LEVEL,
    DATA_LEVEL,
    DEFAULT_SIZES,
    MemorisationPoint,
    copy_crossing,
    data_crossing,
    memorisation_point,
    memorisation_pool,
)
from core.toy2d.metrics import (
    chord_ratio,
    nearest_distances,
    score_error_on_grid,
    sliced_wasserstein,
    straightness,
)
from core.toy2d.mixture import GaussianMixture, default_mixture, sample_tilted, tilted_density_grid
from core.toy2d.model import DEFAULT_TRAIN, TOY_PREDICTIONS, VELOCITY, ToyMLP, TrainSettings, fourier_features
from core.toy2d.points import as_points
from core.toy2d.rectified import flow_pairs, flow_report, reflow
from core.toy2d.rendering import render_points_gif_frames
from core.toy2d.run import playground_run
from core.toy2d.sampling import (
    DIFFUSION_SAMPLERS,
    DIVERGED,
    FLOW_SAMPLERS,
    TOY_SAMPLERS,
    ToyFrame,
    annealed_langevin,
    check_sampler_fits,
    ddim_as_flow_euler,
    default_langevin_step_size,
    field_on_grid,
    flow_ode,
    flow_time_of_index,
    flow_times,
    guided_model,
    langevin_levels,
    sample_toy,
    score_from_velocity,
    velocity_of_diffusion_model,
    x0_eps_from_velocity,
)
from core.toy2d.training import train_toy, train_with

__all__ = [
    "BOX",
    "COPY_LEVEL",
    "DATA_LEVEL",
    "DATASETS",
    "DEFAULT_SIZES",
    "DEFAULT_TRAIN",
    "DIFFUSION_SAMPLERS",
    "DIVERGED",
    "FLOW_SAMPLERS",
    "MIN_DRAWN_POINTS",
    "NUM_CLASSES",
    "TOY_PREDICTIONS",
    "TOY_SAMPLERS",
    "VELOCITY",
    "GaussianMixture",
    "MemorisationPoint",
    "ToyFrame",
    "ToyMLP",
    "TrainSettings",
    "annealed_langevin",
    "as_points",
    "check_class",
    "check_drawn_points",
    "check_sampler_fits",
    "chord_ratio",
    "copy_crossing",
    "data_crossing",
    "ddim_as_flow_euler",
    "default_langevin_step_size",
    "default_mixture",
    "eight_gaussians",
    "field_on_grid",
    "flow_ode",
    "flow_pairs",
    "flow_report",
    "flow_time_of_index",
    "flow_times",
    "fourier_features",
    "guided_model",
    "langevin_levels",
    "make_dataset",
    "make_labelled_dataset",
    "memorisation_point",
    "memorisation_pool",
    "nearest_distances",
    "normalise_points",
    "playground_run",
    "points_from_image",
    "reflow",
    "render_points_gif_frames",
    "sample_tilted",
    "sample_toy",
    "score_error_on_grid",
    "score_from_velocity",
    "sliced_wasserstein",
    "straightness",
    "tilted_density_grid",
    "train_toy",
    "train_with",
    "velocity_of_diffusion_model",
    "x0_eps_from_velocity",
]
