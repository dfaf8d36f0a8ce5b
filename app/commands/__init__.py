"""Sub-commands of ``diffusion-viz``, one module each: ``add_parser(sub)`` and ``run(args) -> int``."""
