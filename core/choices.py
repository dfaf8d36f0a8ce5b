"""The names a user picks from: schedules, predictions, variances, samplers, views, export contents.

Each is defined here, free of torch, and re-exported by the module that implements it
(``core.diffusion.schedules.SCHEDULE_NAMES`` and so on), so the command line offers exactly what core
accepts without importing torch to print ``--help``.
"""

SCHEDULE_NAMES = ("linear", "cosine", "sigmoid")  # core.diffusion.schedules
PREDICTIONS = ("eps", "x0", "v")  # core.diffusion.parameterization
VARIANCES = ("fixed_small", "fixed_large")  # core.diffusion.posterior: σ² = β̃_t or β_t
ODE_SAMPLERS = ("euler", "heun", "dpmpp2m", "euler_a")  # core.diffusion.ode_samplers.SAMPLERS (but its "ddim")
SAMPLERS = ("ddpm", "ddim", *ODE_SAMPLERS)  # core.diffusion.samplers; the σ samplers count steps in network calls
SPACINGS = ("leading", "trailing", "linspace", "karras", "edm")  # core.diffusion.ode_samplers; karras, edm: σ ones
VIEWS = ("x0", "eps", "v", "score")  # core.runs.views: what a frame's second picture shows
CONTENT = ("both", "xt", "pred", "all")  # core.runs.pictures: x_t | prediction; x_t; the prediction; x_t | … | truth
LR_SCHEDULES = ("constant", "cosine")  # core.training.config
TOY_DATASETS = ("moons", "swiss_roll", "8gaussians", "checkerboard", "spiral", "mixture")  # core.toy2d.data
TOY_DIFFUSION_SAMPLERS = ("ddpm", "ddim", "langevin")  # core.toy2d.sampling
TOY_FLOW_SAMPLERS = ("euler", "heun")  # core.toy2d.sampling: flow matching's
