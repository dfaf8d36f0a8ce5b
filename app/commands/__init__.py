"""Sub-commands of the ``diffusion-viz`` CLI, one module each: ``add_parser(sub)`` and ``run(args) -> int``."""
