"""Sub-commands of ``diffusion-viz`` that live in their own module: each has ``add_parser(sub)`` and ``run(args)``."""
